"""Probe 3: kill -9 the Tune driver mid-run, clean up, Tuner.restore(..., resume_errored=True).

The parent (this script without arguments) starts the driver in a subprocess, kills it
with SIGKILL once Tune has saved its state, finds the Ray processes that outlived it by
their session folder (in their command line) and kills them by pid, then restores
the experiment in a second subprocess and runs it to the end.

Run: .venv/bin/python benchmarks/ray_probe/probe_driver_kill.py
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

EPOCHS = 3


def trial(config: dict) -> None:
    from ray import tune

    for epoch in range(EPOCHS):
        time.sleep(0.7)
        tune.report({"score": -abs(config["lr"] - 0.003) * 100 + epoch * 0.01, "epoch": epoch})


def _cells():
    from cellsearch import CellPlan

    return [
        CellPlan("intermediate:A", budget=6, space={"lr": (1e-4, 1e-1)}, seed=1),
        CellPlan("target:A->X", budget=4, space={"lr": (1e-4, 1e-1)}, parent="intermediate:A", seed=2),
    ]


def driver(root: str, restore: bool) -> None:
    import ray
    from ray import tune

    from cellsearch import CellPruningScheduler, CellSearcher

    ray.init(address="local", num_cpus=2, resources={"trial_slot": 100}, include_dashboard=True)
    session = ray._private.worker._global_node.get_session_dir_path()
    with open(os.path.join(root, "session-restore" if restore else "session"), "w") as f:
        f.write(session)
    path = os.path.join(root, "probe3")
    trainable = tune.with_resources(trial, {"CPU": 0, "trial_slot": 0.01})  # pass the SAME again
    if restore:
        print("can_restore:", tune.Tuner.can_restore(path), flush=True)
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=CellSearcher(os.path.join(root, "optuna.journal"), _cells(), "score", "max"),
                scheduler=CellPruningScheduler(), num_samples=-1, max_concurrent_trials=2),
            run_config=tune.RunConfig(name="probe3", storage_path=root, verbose=0),
        )
    open(os.path.join(root, "fit-started"), "w").close()
    res = tuner.fit()
    print("RESULT tune_trials", len(res), "num_errors", res.num_errors, flush=True)
    ray.shutdown()


def ray_pids(session: str) -> list[int]:
    """Processes whose command line names this Ray session's folder (ours only)."""
    name = os.path.basename(session)
    pids = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                text = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if name in text:
            pids.append(int(cmdline.split("/")[2]))
    return sorted(pids)


def describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = f.read().split(b"\0")
        words = [p.decode(errors="replace") for p in parts if p]
        script = next((w for w in words if w.endswith(".py")), words[0])
        kind = next((w for w in words if w.startswith(("--worker-type", "--worker_type", "--runtime-env-agent"))), "")
        return "/".join(script.split("/")[-2:]) + " " + kind
    except OSError:
        return "?"


def main() -> None:
    import optuna

    from cellsearch import CellSearcher

    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--driver", root],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(os.path.join(root, "fit-started")):
            time.sleep(0.2)
        # wait until Tune has saved its state once (every ~10 s) and some trials are done
        state = os.path.join(root, "probe3", "experiment_state-*.json")
        while not glob.glob(state) or time.perf_counter() - t0 < 22:
            time.sleep(0.2)
        session = open(os.path.join(root, "session")).read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        print(f"=== driver SIGKILLed at {time.perf_counter() - t0:.1f} s")
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
            os.path.join(root, "optuna.journal")))
        for s in optuna.get_all_study_summaries(storage):
            st = optuna.load_study(study_name=s.study_name, storage=storage)
            print("  journal after kill:", s.study_name, [t.state.name for t in st.trials])
        time.sleep(3)
        left = ray_pids(session)
        print("  Ray processes of the killed session still alive after 3 s:")
        for pid in left:
            print("    ", pid, describe(pid))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(1)
        print("  after kill by pid:", ray_pids(session))

        t1 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--driver", root, "--restore"],
                             capture_output=True, text=True, timeout=110)
        print(f"=== restore run rc={out.returncode} wall_s={time.perf_counter() - t1:.1f}")
        for line in out.stdout.splitlines() + out.stderr.splitlines():
            if line.startswith(("RESULT", "can_restore")) or "Error" in line:
                print("  ", line[:160])
        final = CellSearcher(os.path.join(root, "optuna.journal"), _cells(), "score", "max")
        print("  journal after restore:", final.summary())
        session2 = open(os.path.join(root, "session-restore")).read()
        print("  leftover pids of restore session:", ray_pids(session2))
        for pid in ray_pids(session2):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--driver":
        driver(sys.argv[2], restore="--restore" in sys.argv)
    else:
        main()
