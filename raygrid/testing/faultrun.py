"""Sweeps killed on purpose, resumed, and compared with an uninterrupted one.

Shared by the fault tests (``tests/e2e/test_faults_e2e.py``) and the fault
campaign (``benchmarks/fault_campaign.py``). One small sweep (:data:`SPEC`:
2 + 2 trials and 2 confirm runs, two trials at a time, a checkpoint every
step) runs through the CLI in a process group of its own, with
``RAYGRID_FAULT`` armed (:mod:`raygrid.faults`) or with a timer that kills
the group; the Ray processes it leaves behind are found by a marker in
their environment (never by name: other sweeps may run on the machine);
``raygrid resume`` runs until the sweep finishes. :func:`outcome` reads what
the sweep folder holds, local or on S3, for the comparison.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raygrid.faults import FAULT_DIR_ENV, FAULT_ENV, FAULT_PGID_ENV, Fault, fired

#: Two trials at a time on a 2-core machine: each trial function holds 0.01
#: of the ``raygrid_trial`` resource and its one Train worker 1 CPU
#: (raygrid.sweep.cluster). Fewer than 10 trials per cell: TPE samples them
#: independently (its startup trials), so the k-th trial of a cell has the
#: same parameters in every run and an uninterrupted sweep is the reference.
#: 32 examples / 16 = 2 steps an epoch, an evaluation (and a saved state)
#: every step: a Train worker killed at its 3rd step resumes from a state.
SPEC = """
name: faults
seed: 0
model: {{name_or_path: {model}}}
data: {{source: bundled, max_train_examples: 32, max_eval_examples: 8}}
intermediates: [none, mnli]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: &s
    learning_rate: {{type: float, low: 1.0e-4, high: 3.0e-3, log: true}}
    num_epochs: 2
    evals_per_epoch: 2
    batch_size: 16
    max_seq_length: 48
  target: *s
n_trials: {{intermediate: 2, target: 1}}
confirm: {{seeds: [0], replicate_intermediate: false}}
max_concurrent_trials: 2
max_failures: 2
storage: {storage}
"""
SWEEP_NAME = "faults"
SEGMENT_TRIALS = "2"  # units per segment: the sweep changes segment twice (segment.change)
#: Where a sweep-wide driver kill is drawn from (a worker's own step kill is ``train.step:N:self``).
DRIVER_POINTS = ("record.write", "result.rows", "result.manifest", "journal.append", "checkpoint.write",
                 "checkpoint.delete", "segment.change", "train.step")  # fmt: skip
MARKER_ENV = "RAYGRID_FAULT_RUN"  # a unique value per run: how its Ray processes are found


def spec_text(model: str | Path, storage: str | Path) -> str:
    return SPEC.format(model=model, storage=storage)


# -- what a sweep folder holds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a finished sweep holds, in comparable form (floats rounded to 6 digits)."""

    trials: frozenset[tuple[Any, ...]]  # (cell, unit key, params, state, value) of each finished Optuna trial
    records: frozenset[tuple[Any, ...]]  # (unit key, status, objective, metrics) of each trial record
    rows: frozenset[tuple[Any, ...]]  # (run key, task, language, split, attack, metric, value) of each result row
    checkpoints: frozenset[str] = frozenset()  # the complete checkpoints left (checkpoints.keep), by unit key
    resumed_from_steps: dict[str, list[int]] = field(default_factory=dict, compare=False)

    def differences(self, reference: Outcome) -> list[str]:
        """One line per part that differs from ``reference`` ([] when equal)."""
        out = []
        for part in ("trials", "records", "rows", "checkpoints"):
            mine, theirs = getattr(self, part), getattr(reference, part)
            if mine != theirs:
                missing, extra = sorted(theirs - mine), sorted(mine - theirs)
                out.append(f"{part}: {len(missing)} missing, {len(extra)} extra; "
                           f"first missing {missing[:1]}, first extra {extra[:1]}")  # fmt: skip
        return out


def _round(value: Any) -> Any:
    return round(float(value), 6) if isinstance(value, (int, float)) and value is not None else value


def outcome(sweep: str | Path, scratch: Path) -> Outcome:
    """Reads the trials (Optuna journal), the trial records and the result
    rows of ``sweep`` (a local folder or an s3:// URI)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from raygrid.storage import Location
    from raygrid.store import read_rows
    from raygrid.sweep.plan import ATTR_ORPHANED, ATTR_UNIT, RESULTS_DIR, TRIALS_DIR

    where = Location.of(sweep)
    scratch.mkdir(parents=True, exist_ok=True)
    journal = scratch / f"journal-{uuid.uuid4().hex}"  # a private copy: reading never writes into the sweep
    journal.write_bytes((where / "optuna.journal").read_bytes())
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    trials = set()
    for summary in optuna.get_all_study_summaries(storage):
        for trial in optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(deepcopy=False):
            if trial.state.is_finished() and trial.state.name != "FAIL" and not trial.user_attrs.get(ATTR_ORPHANED):
                params = json.dumps(trial.params, sort_keys=True)
                unit = str(trial.user_attrs.get(ATTR_UNIT))
                trials.add((summary.study_name, unit, params, trial.state.name, _round(trial.value)))
    records, resumed = set(), {}
    folder = where / TRIALS_DIR
    for name in folder.names() if folder.is_dir() else []:
        if name.endswith(".json"):
            data = json.loads((folder / name).read_bytes())
            metrics = tuple(sorted((k, _round(v)) for k, v in (data.get("metrics") or {}).items()))
            records.add((data["key"], data["status"], _round(data["objective"]), metrics))
            resumed[data["key"]] = list(data.get("resumed_from_steps") or [])
    rows = {
        (r["run_key"], r["task"], r["language"], r["split"], r["attack"], r["metric"], _round(r["value"]))
        for r in read_rows(where / RESULTS_DIR)
    }
    from raygrid.sweep.plan import CHECKPOINTS_DIR
    from raygrid.sweep.retention import CHECKPOINT_MARKER

    kept = where / CHECKPOINTS_DIR
    checkpoints = {n for n in kept.names() if not n.startswith(".") and (kept / n / CHECKPOINT_MARKER).is_file()}
    return Outcome(frozenset(trials), frozenset(records), frozenset(rows), frozenset(checkpoints), resumed)


# -- running a sweep until it finishes, with faults ---------------------------------------------------------------


@dataclass
class Runs:
    """How a sweep got to its end."""

    exit_codes: list[int] = field(default_factory=list)  # of run, then each resume
    fired: list[str] = field(default_factory=list)  # the faults that fired
    timer_killed: bool = False  # the time-based kill landed (the first run was still going)
    timed_out: bool = False  # killed at timeout_s, unfinished
    seconds: float = 0.0
    leftovers_killed: int = 0  # Ray processes the kills left behind

    @property
    def finished(self) -> bool:
        return bool(self.exit_codes) and self.exit_codes[-1] == 0


def _env(base: dict[str, str] | None, faults: str, fault_dir: Path, marker: str) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    env[MARKER_ENV] = marker
    for name in (FAULT_ENV, FAULT_DIR_ENV, FAULT_PGID_ENV):
        env.pop(name, None)
    if faults:
        env.update({FAULT_ENV: faults, FAULT_DIR_ENV: str(fault_dir)})
    return env


def _start(args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The CLI as the leader of a new process group whose id it finds in
    ``RAYGRID_FAULT_PGID`` (``exec`` keeps the shell's pid)."""
    command = " ".join(map(_quote, [sys.executable, "-m", "raygrid.cli", *args]))
    with open(log, "ab") as handle:
        return subprocess.Popen(["/bin/sh", "-c", f'{FAULT_PGID_ENV}=$$ exec {command}'], cwd=cwd, env=env,
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(str(arg))


def marked_processes(marker: str) -> list[int]:
    """Processes (of this user) whose environment holds ``RAYGRID_FAULT_RUN=marker``:
    the CLI, its segment processes and the Ray cluster it started (Ray's
    processes inherit the driver's environment)."""
    needle = f"{MARKER_ENV}={marker}".encode()
    out = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                out.append(int(environ.parent.name))
        except OSError:
            continue
    return [pid for pid in out if pid != os.getpid()]


def kill_marked(marker: str, *, settle_s: float = 1.0) -> int:
    """SIGKILLs every process of the run ``marker``; how many there were."""
    killed = 0
    for _ in range(3):  # a dying raylet may still be starting a worker
        pids = marked_processes(marker)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        if not pids:
            break
        time.sleep(settle_s)
    return killed


def run_until_finished(
    spec: Path,
    sweep: str,
    *,
    cwd: Path,
    logs: Path,
    faults: str = "",
    fault_dir: Path,
    kill_after_s: float | None = None,
    max_runs: int = 5,
    env: dict[str, str] | None = None,
    timeout_s: float = 1500,
    while_running: Callable[[subprocess.Popen[bytes]], None] | None = None,
    before_resume: Callable[[], None] | None = None,
) -> Runs:
    """``raygrid run`` then ``raygrid resume`` until the sweep finishes.

    Every run has ``faults`` armed (their hits counted sweep-wide across
    runs, each fires once); ``kill_after_s`` kills the first run's process
    group after that many seconds. After a run that did not finish, the Ray
    processes it left are killed before the next. ``while_running`` is
    called over and over while a run goes on (a test that looks at the live
    sweep), ``before_resume`` before each ``raygrid resume``."""
    runs = Runs()
    started = time.time()
    fault_dir.mkdir(parents=True, exist_ok=True)
    from raygrid.storage import Location
    from raygrid.sweep.driver import SWEEP_FILE

    begun = Location.of(sweep) / SWEEP_FILE  # written once the checks passed, before any trial
    start_failures = 0
    while len(runs.exit_codes) < max_runs:
        marker = uuid.uuid4().hex
        first = not runs.exit_codes
        args = ["run", str(spec)] if first else ["resume", sweep]
        if not first and sweep.startswith("s3://"):
            # The killed writer's S3 lease outlives it by up to its TTL (no pid
            # to check there); its processes are provably gone: kill_marked.
            args.append("--force-unlock")
        args += ["--quiet", "--segment-trials", SEGMENT_TRIALS]
        if not first and before_resume is not None:
            before_resume()
        process = _start(args, cwd=cwd, env=_env(env, faults, fault_dir, marker), log=logs)
        timer = None
        if first and kill_after_s is not None:
            def kill_group(pid: int = process.pid) -> None:
                if process.poll() is None:
                    runs.timer_killed = True
                    os.killpg(pid, signal.SIGKILL)

            timer = threading.Timer(kill_after_s, kill_group)
            timer.start()
        try:
            while while_running is not None and process.poll() is None and time.time() - started < timeout_s:
                while_running(process)
                time.sleep(0.5)
            code = process.wait(timeout=max(1.0, timeout_s - (time.time() - started)))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
            runs.timed_out = True
        finally:
            if timer is not None:
                timer.cancel()
        runs.leftovers_killed += kill_marked(marker)
        if first and code != 0 and not begun.exists() and not runs.timer_killed and start_failures < 5:
            # Ray's start fails on a machine under heavy load (its raylet
            # waits 30 s for the metrics agent, then aborts; seen here at a
            # load average of 100): the sweep never began; start it again.
            start_failures += 1
            time.sleep(20.0)
            continue
        runs.exit_codes.append(code)
        if code == 0 or time.time() - started > timeout_s:
            break
    runs.fired = fired(fault_dir) if fault_dir.is_dir() else []
    runs.seconds = time.time() - started
    return runs


# -- drawing faults -------------------------------------------------------------------------------------------


def draw_faults(seed: int, hits: dict[str, int], *, n: int = 1) -> list[Fault]:
    """``n`` sweep-wide kills: a point (among those an uninterrupted sweep
    reached, :data:`DRIVER_POINTS`) and a hit number within what it reached."""
    rng = random.Random(seed)
    points = [p for p in DRIVER_POINTS if hits.get(p, 0) > 0]
    drawn: list[Fault] = []
    for _ in range(n if points else 0):
        point = rng.choice(points)
        drawn.append(Fault(point, rng.randint(1, hits[point])))
    return drawn

__all__ = ["DRIVER_POINTS", "SPEC", "SWEEP_NAME", "Outcome", "Runs", "draw_faults", "kill_marked", "marked_processes",
           "outcome", "run_until_finished", "spec_text"]  # fmt: skip
