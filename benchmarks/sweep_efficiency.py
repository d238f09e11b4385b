"""Sweep efficiency and driver memory, on a local Ray cluster.

Efficiency (real Train trials on the tiny model):
    busy worker-seconds / (wall seconds x worker slots), where a unit's busy
    time is what its Train worker spent inside raygrid (data, training,
    evaluation, checkpoint: the trial record's ``seconds``), and the wall is
    the whole sweep, Ray start-up excluded.

    .venv/bin/python benchmarks/sweep_efficiency.py efficiency --trials 4 --epochs 3 --examples 4000

Driver memory (no-op trials: the searcher, planner, Optuna journal and Tune
bookkeeping without any training); the driver is the supervisor (this
process) plus the segment process that runs the Tune experiment
(raygrid.sweep.segments), both read from /proc:

    .venv/bin/python benchmarks/sweep_efficiency.py memory --trials 1000

Prints one JSON object; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _rss_mib(pid: int | str = "self") -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # it has just ended
        return 0.0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _segment_pids() -> list[int]:
    """This process's children that run a segment of the sweep (raygrid.sweep.segments)."""
    me, pids = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == me and b"raygrid.sweep.segments" in (stat.parent / "cmdline").read_bytes():
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _slope_kib_per_trial(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of (trials finished, MiB), in KiB per trial."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return float("nan")
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx * 1024


def _spec(
    model: str, storage: str, *, trials: int, epochs: int, examples: int, split_cells: bool, seeds: int = 1
) -> Any:
    from raygrid.spec import parse_spec

    space = {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        "num_epochs": epochs,
        "batch_size": 16,
        "max_seq_length": 48,
    }
    per_cell = trials // 2 if split_cells else 0
    data: dict[str, Any] = {"source": "bundled", "max_eval_examples": 8}
    if examples > 48:  # more MNLI training rows than the fixture has: cycle its rows into a local file
        data["local_dirs"] = [_mnli_rows(Path(storage) / "data", examples)]
    else:
        data["max_train_examples"] = examples
    return parse_spec(
        {
            "name": "bench",
            "model": {"name_or_path": model},
            "data": data,
            "intermediates": ["mnli"] if split_cells else ["none"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "search_space": {"intermediate": space, "target": space},
            "n_trials": {"intermediate": max(1, per_cell), "target": max(1, trials - per_cell)},
            "sampler": {"type": "random"},
            "confirm": {"seeds": list(range(seeds))},
            "storage": storage,
        }
    )


def _mnli_rows(root: Path, n: int) -> str:
    """``n`` MNLI training rows (hub schema), the fixture's rows cycled."""
    from raygrid.tasks import fixture_path

    rows = [json.loads(line) for line in fixture_path("mnli", "train", "en").read_text().splitlines() if line.strip()]
    out = root / "mnli" / "train.en.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({**rows[i % len(rows)], "idx": i}) + "\n")
    return str(root)


def _noop_trial(config: dict[str, Any]) -> None:
    """Stands in for a Train run: writes what a finished unit writes."""
    from ray import tune

    from raygrid.store import ResultRow, write_run
    from raygrid.sweep.plan import TrialRecord, Unit, UnitKind

    sweep = Path(config["sweep_dir"])
    unit = Unit.from_config(config["unit"])
    value = -abs(math.log10(float(unit.params.get("learning_rate", 1e-3))) + 3.3)
    tune.report({"objective": value, "step": 1.0})
    if unit.kind is UnitKind.CONFIRM:
        write_run(sweep / "results", unit.key, [ResultRow(unit.key, "xnli", "de", "test", "accuracy", 0.5)])
    TrialRecord(unit.key, "complete", value, checkpoint=None, seconds=0.0).write(sweep)
    tune.report({"objective": value, "raygrid_done": 1.0})


def efficiency(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from raygrid.sweep.driver import run_sweep
    from raygrid.testing.tiny import build_tiny_model

    with tempfile.TemporaryDirectory() as root:
        model = str(build_tiny_model(Path(root) / "tiny"))
        spec = _spec(model, root, trials=args.trials, epochs=args.epochs, examples=args.examples, split_cells=False,
                     seeds=args.seeds)  # fmt: skip
        ray.init(address="local", num_cpus=args.cpus, resources={"raygrid_trial": 1000}, include_dashboard=True,
                 log_to_driver=False)  # fmt: skip
        started = time.perf_counter()
        outcome = run_sweep(spec, quiet=True)
        wall = time.perf_counter() - started
        records = [json.loads(p.read_text()) for p in (outcome.sweep_dir / "trials").glob("*.json")]
    busy = sum(r["seconds"] for r in records)
    slots = args.cpus
    return {
        "mode": "efficiency",
        "units": len(records),
        "epochs_per_trial": args.epochs,
        "confirm_seeds": args.seeds,
        "train_examples": args.examples,
        "worker_slots": slots,
        "wall_s": round(wall, 1),
        "busy_worker_s": round(busy, 1),
        "mean_unit_busy_s": round(busy / max(1, len(records)), 1),
        "efficiency": round(busy / (wall * slots), 3),
    }


def memory(args: argparse.Namespace) -> dict[str, Any]:
    """The driver's resident memory: the supervisor (this process) plus the
    segment process running the Tune experiment (``--trace``: in this
    process, one segment, with tracemalloc)."""
    import ray

    from raygrid.sweep.driver import run_sweep

    samples: list[tuple[float, float, float, int, int]] = []  # (t, supervisor MiB, segment MiB, finished, segment pid)
    stop = threading.Event()

    with tempfile.TemporaryDirectory() as root:
        spec = _spec("unused-model", root, trials=args.trials, epochs=1, examples=8, split_cells=True)
        ray.init(address="local", num_cpus=args.cpus, resources={"raygrid_trial": 1000}, include_dashboard=True,
                 log_to_driver=False)  # fmt: skip
        trials_dir = Path(root) / "bench" / "trials"

        def sample() -> None:
            while not stop.is_set():
                done = len(list(trials_dir.glob("*.json"))) if trials_dir.is_dir() else 0
                children = _segment_pids()
                child = sum(_rss_mib(pid) for pid in children)
                samples.append((time.perf_counter(), _rss_mib(), child, done, children[0] if children else 0))
                if args.trace and len(snapshots) < 2 and done >= args.trials * (len(snapshots) + 1) // 3:
                    import tracemalloc

                    snapshots.append((done, tracemalloc.take_snapshot()))
                if len(samples) % 30 == 1:  # a progress line a minute: a long run killed midway still says something
                    print(json.dumps({"t_s": round(samples[-1][0] - started, 1), "trials_finished": done,
                                      "supervisor_rss_mib": round(samples[-1][1], 1),
                                      "segment_rss_mib": round(child, 1)}), file=sys.stderr, flush=True)  # fmt: skip
                stop.wait(2.0)

        snapshots: list[Any] = []
        if args.trace:  # where the driver's Python heap grows: a snapshot at 1/3 and 2/3 of the trials
            import tracemalloc

            tracemalloc.start(8)
        rss_before = _rss_mib()
        started = time.perf_counter()
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        outcome = run_sweep(spec, quiet=True, trial_function=_noop_trial, segment_trials=args.segment_trials,
                            in_process=args.trace)  # fmt: skip
        wall = time.perf_counter() - started
        stop.set()
        thread.join()
    if args.samples:
        Path(args.samples).write_text("".join(
            json.dumps({"t_s": round(t - started, 2), "supervisor_rss_mib": round(r, 2), "segment_rss_mib": round(c, 2),
                        "trials_finished": d, "segment_pid": pid}) + "\n"
            for t, r, c, d, pid in samples))  # fmt: skip
    total = [(d, r + c) for _, r, c, d, _ in samples]
    # each segment process: its peak (with the supervisor) and the trials finished when it ended
    segments: dict[int, dict[str, float]] = {}
    for _, r, c, d, pid in samples:
        if pid:
            seg = segments.setdefault(pid, {"peak_mib": 0.0, "trials_at_end": 0})
            seg["peak_mib"] = max(seg["peak_mib"], r + c)
            seg["trials_at_end"] = d
    growth_sites = []
    heap_growth_kib = float("nan")
    if len(snapshots) == 2:
        (n0, first), (n1, second) = snapshots
        diff = second.compare_to(first, "traceback")
        heap_growth_kib = sum(stat.size_diff for stat in diff) / 1024 / max(1, n1 - n0)
        for stat in diff[:8]:
            frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stat.traceback[-4:]]
            growth_sites.append({"kib_per_trial": round(stat.size_diff / 1024 / max(1, n1 - n0), 2), "where": frames})
    peaks = [(int(seg["trials_at_end"]), seg["peak_mib"]) for seg in segments.values()]
    return {
        "mode": "memory",
        "python_heap_growth_sites": growth_sites,
        "python_heap_growth_kib_per_trial": round(heap_growth_kib, 2),
        "trials": outcome.progress["trials_finished"],
        "wall_s": round(wall, 1),
        "supervisor_rss_before_mib": round(rss_before, 1),
        "supervisor_rss_end_mib": round(samples[-1][1], 1),
        "driver_rss_peak_mib": round(max(t for _, t in total), 1),
        "segments": [{"trials_at_end": int(s["trials_at_end"]), "peak_mib": round(s["peak_mib"], 1)} for s in segments.values()],
        # the slope of supervisor + segment RSS over trials 100..end (after warm-up)
        "growth_kib_per_trial_fit": round(_slope_kib_per_trial([p for p in total if p[0] >= min(100, args.trials // 3)]), 2),
        # how each segment's peak grows with the trials finished before it: what stays from one segment to the next
        "growth_kib_per_trial_across_segment_peaks": round(_slope_kib_per_trial(peaks[:-1] if len(peaks) > 2 else peaks), 2),
        "supervisor_growth_kib_per_trial": round(_slope_kib_per_trial([(d, r) for _, r, _, d, _ in samples if d >= 1]), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("efficiency")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--examples", type=int, default=4000, help="MNLI training rows per trial (fixture rows cycled)")
    p.add_argument("--seeds", type=int, default=1, help="confirm seeds (2 keep both slots busy at the end of an even grid)")
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    p = sub.add_parser("memory")
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--trace", action="store_true", help="tracemalloc: where the driver's heap grows (slower)")
    p.add_argument("--samples", help="write every (time, RSS, trials finished) sample here as JSON lines")
    p.add_argument("--segment-trials", type=int, help="trials per driver segment (default: raygrid's; 0: one segment)")
    p.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    result = efficiency(args) if args.mode == "efficiency" else memory(args)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
