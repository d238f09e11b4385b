"""Where a unit's wall time goes: a small real sweep on a local Ray cluster,
profiled from the spans raygrid's Ray backend writes (``RAYGRID_UNIT_SPANS``).

    PYTHONPATH=. .venv/bin/python benchmarks/unit_profile.py --trials 3 --examples 400

Spans of one unit, in order (each a wall-clock gap between two events):

- ``driver_to_trial``: the searcher handed the unit out -> the Tune trial
  function starts (Tune's trial actor: a new Ray worker process, or one
  that ran an earlier trial: ``trial_process_reused``);
- ``trial_imports``: trial function start -> ``TorchTrainer.fit`` called
  (importing ``ray.train.torch``, building the trainer);
- ``train_setup``: ``fit`` called -> the Train worker's function starts
  (Train's controller actor, placement group, worker process start, its
  imports; ``worker_process_start`` splits it at the worker process's birth);
- ``unit_setup``: worker function start -> the training loop starts (spec,
  grid, tokenizer, data from the token cache, model, parent checkpoint);
- ``loop``: the training loop, its dev evaluations and state saves included
  (the last evaluation's ``seconds``);
- ``after_loop``: loop end -> ``run_unit`` returns (checkpoint, result rows,
  trial record; a confirm run's zero-shot evaluation);
- ``train_teardown``: ``run_unit`` returned -> ``fit`` returns (the
  controller's next poll, worker group shutdown);
- ``trial_end``: ``fit`` returned -> the trial function returns (the Train
  run's folder removed);
- ``driver_turnaround``: trial function returned -> the searcher's
  ``on_trial_complete``.

``overhead`` = the unit's wall (handed out -> completed) minus its loop.
Prints one JSON object (per unit and the medians).

The units take raygrid's default path (a full ``TorchTrainer``);
``RAYGRID_UNIT_PATH=local`` profiles the local path (Train V2's local mode
in the trial's process, where ``train_setup`` and ``train_teardown`` are ~0)
on the same sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SPANS = ("driver_to_trial", "trial_imports", "train_setup", "unit_setup", "loop", "after_loop", "train_teardown",
         "trial_end", "driver_turnaround")  # fmt: skip


def _spec(model: str, storage: str, args: argparse.Namespace) -> Any:
    from raygrid.spec import parse_spec
    from sweep_efficiency import _mnli_rows

    space = {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        "num_epochs": args.epochs,
        "batch_size": 16,
        "max_seq_length": 48,
    }
    return parse_spec(
        {
            "name": "profile",
            "model": {"name_or_path": model},
            "data": {"source": "bundled", "max_eval_examples": 8,
                     "local_dirs": [_mnli_rows(Path(storage) / "data", args.examples)]},
            "intermediates": ["none"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "search_space": {"intermediate": space, "target": space},
            "n_trials": {"intermediate": 1, "target": args.trials},
            "sampler": {"type": "random"},
            "confirm": {"seeds": [0]},
            "max_concurrent_trials": args.concurrency,
            "storage": storage,
        }
    )  # fmt: skip


def unit_spans(events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per unit key: its spans (seconds) from the raw span events."""
    by_unit: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for event in sorted(events, key=lambda e: e["t"]):
        by_unit.setdefault(event["unit"], {}).setdefault(event["event"], []).append(event)
    out = {}
    trial_pids: set[int] = set()
    for key, ev in sorted(by_unit.items(), key=lambda item: item[1].get("suggest", [{"t": 0.0}])[0]["t"]):
        need = ("suggest", "trial.start", "fit.start", "worker.start", "report", "unit.end", "fit.end", "trial.end",
                "complete")  # fmt: skip
        if any(name not in ev for name in need):
            continue  # a unit that failed, was skipped as done, or ran another path: not profiled here
        first = lambda name: ev[name][0]["t"]  # noqa: E731
        last = lambda name: ev[name][-1]["t"]  # noqa: E731
        reports = ev["report"]
        loop_start = reports[0]["t"] - reports[0]["loop_seconds"]
        loop = reports[-1]["loop_seconds"]
        worker = ev["worker.start"][-1]
        spans = {
            "driver_to_trial": first("trial.start") - first("suggest"),
            "trial_imports": first("fit.start") - first("trial.start"),
            "train_setup": first("worker.start") - first("fit.start"),
            "worker_process_start": worker["process_started"] - first("fit.start"),
            "unit_setup": loop_start - first("worker.start"),
            "loop": loop,
            "after_loop": last("unit.end") - (loop_start + loop),
            "train_teardown": last("fit.end") - last("unit.end"),
            "trial_end": last("trial.end") - last("fit.end"),
            "driver_turnaround": last("complete") - last("trial.end"),
            "wall": last("complete") - first("suggest"),
            "trial_process_reused": float(ev["trial.start"][0]["pid"] in trial_pids),  # Tune's reuse_actors
        }
        trial_pids.add(ev["trial.start"][0]["pid"])
        spans["overhead"] = spans["wall"] - loop
        out[key] = {k: round(v, 2) for k, v in spans.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3, help="target trials (plus 1 confirm run)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--examples", type=int, default=400, help="MNLI-format training rows (fixture rows cycled)")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="trials at once (1: units do not share the CPUs)")
    parser.add_argument("--spans", help="keep the raw span events here (JSON lines)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import ray

    from raygrid.sweep.driver import run_sweep
    from raygrid.sweep.ray_backend import SPANS_ENV
    from raygrid.testing.tiny import build_tiny_model

    with tempfile.TemporaryDirectory() as root:
        spans_file = Path(args.spans or Path(root) / "spans.jsonl")
        spans_file.unlink(missing_ok=True)
        os.environ[SPANS_ENV] = str(spans_file)  # before ray.init: the cluster's workers inherit it
        model = str(build_tiny_model(Path(root) / "tiny"))
        spec = _spec(model, root, args)
        ray.init(address="local", num_cpus=args.cpus, resources={"raygrid_trial": 1000}, include_dashboard=True,
                 log_to_driver=False)  # fmt: skip
        started = time.perf_counter()
        run_sweep(spec, quiet=True)
        wall = time.perf_counter() - started
        events = [json.loads(line) for line in spans_file.read_text().splitlines() if line.strip()]
        ray.shutdown()
    units = unit_spans(events)
    names = [*SPANS, "worker_process_start", "wall", "overhead"]
    medians = {n: round(statistics.median(u[n] for u in units.values()), 2) for n in names} if units else {}
    print(json.dumps({"sweep_wall_s": round(wall, 1), "units_profiled": len(units), "load_average": os.getloadavg(),
                      "median_s": medians, "units": units}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
