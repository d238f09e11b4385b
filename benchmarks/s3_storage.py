"""What S3 storage costs the sweep driver and the queries, against a local moto server.

Usage (the figures in docs/benchmarks.md):
    .venv/bin/python benchmarks/s3_storage.py --trials 200 --runs 200

Measures, for the same work on a local folder and on s3:// (moto's server
on 127.0.0.1, so network latency is ~0: real S3 adds its round trips):

- the Optuna journal: one trial = ask + one intermediate value + tell, each
  a journal write; on S3 every write uploads the whole journal, so the cost
  per trial grows with the journal;
- the results store: ``write_run`` of ``--runs`` runs (2 row files +
  manifest each) and a cold ``read_results`` (no index) and an indexed one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _journal(where: str, trials: int) -> dict[str, float]:
    import optuna

    from raygrid.storage import Location
    from raygrid.sweep.journal import open_journal

    storage = open_journal(Location.of(where) / "optuna.journal")
    study = optuna.create_study(study_name="bench", storage=storage, direction="maximize")
    started = time.perf_counter()
    marks: dict[str, float] = {}
    for k in range(trials):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
        trial.report(trial.params["x"], 1)
        study.tell(trial, trial.params["x"])
        if k + 1 in (trials // 2, trials):
            marks[f"s_per_trial_at_{k + 1}"] = (time.perf_counter() - started) / (k + 1)
    size = len((Location.of(where) / "optuna.journal").read_bytes())
    return {**marks, "journal_kib": size / 1024, "total_s": time.perf_counter() - started}


def _results(where: str, runs: int) -> dict[str, float]:
    from raygrid.storage import Location
    from raygrid.store import ResultRow, read_results, refresh_index, write_run

    root = Location.of(where) / "results"
    started = time.perf_counter()
    for r in range(runs):
        rows = [
            ResultRow(run_key=f"run{r:05d}", task="xnli", language=lang, split="test", metric=m, value=0.5, stage="confirm")
            for lang in ("de", "ar")
            for m in ("accuracy", "robust_accuracy")
        ]
        write_run(root, f"run{r:05d}", rows)
    written = time.perf_counter() - started
    started = time.perf_counter()
    cold = read_results(root, use_index=False)
    cold_s = time.perf_counter() - started
    refresh_index(root)
    started = time.perf_counter()
    warm = read_results(root)
    warm_s = time.perf_counter() - started
    assert len(cold) == len(warm) == runs * 4
    return {"write_s_per_run": written / runs, "read_cold_s": cold_s, "read_indexed_s": warm_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    import os

    from raygrid.testing.s3server import local_s3

    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, local_s3("bench") as env:
        os.environ.update(env)
        os.environ["RAYGRID_CACHE_DIR"] = str(Path(tmp) / "cache")
        for label, where in (("local", str(Path(tmp) / "sweep")), ("s3", "s3://bench/sweep")):
            out[f"journal/{label}"] = _journal(where, args.trials)
            out[f"results/{label}"] = _results(where, args.runs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
