"""Probe 2: one Tune experiment, one Optuna study per cell (CellSearcher), a dependent
cell waiting for its parent, per-cell Optuna pruning through CellPruningScheduler,
max_concurrent_trials (ConcurrencyLimiter), num_samples=-1, save/restore of the searcher.

Run: .venv/bin/python benchmarks/ray_probe/probe_cell_searcher.py
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time

import ray
import ray.cloudpickle as cloudpickle
from ray import tune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cellsearch import CellPlan, CellPruningScheduler, CellSearcher  # noqa: E402

EPOCHS = 4


def trial(config: dict) -> None:
    """Stands in for the Train run: one report per epoch (TuneReportCallback does the same)."""
    started = time.time()
    quality = -abs(math.log10(config["lr"]) + 2.5)  # best lr = 10**-2.5
    for epoch in range(EPOCHS):
        time.sleep(0.3)
        tune.report({"score": quality + 0.1 * epoch, "epoch": epoch, "cell": config["cell"],
                     "started": started})


def main() -> None:
    cells = [
        CellPlan("intermediate:A", budget=6, space={"lr": (1e-5, 1e-1)}, seed=1),
        CellPlan("intermediate:B", budget=4, space={"lr": (1e-5, 1e-1)}, seed=2),
        CellPlan("target:A->X", budget=3, space={"lr": (1e-5, 1e-1)}, parent="intermediate:A", seed=3),
    ]
    ray.init(address="local", num_cpus=2, resources={"trial_slot": 100}, include_dashboard=False)
    try:
        with tempfile.TemporaryDirectory() as root:
            journal = os.path.join(root, "optuna.journal")
            searcher = CellSearcher(journal, cells, metric="score", mode="max")
            t0 = time.perf_counter()
            tuner = tune.Tuner(
                tune.with_resources(trial, {"CPU": 0, "trial_slot": 0.01}),
                tune_config=tune.TuneConfig(
                    search_alg=searcher,            # Tune wraps it in a ConcurrencyLimiter
                    scheduler=CellPruningScheduler(),
                    num_samples=-1,                 # else Tune stops asking after num_samples
                    max_concurrent_trials=2,
                ),
                run_config=tune.RunConfig(name="probe2", storage_path=root, verbose=0),
            )
            res = tuner.fit()
            wall = time.perf_counter() - t0
            print("=== fit: wall_s", round(wall, 1), "tune trials", len(res), "num_errors", res.num_errors)
            df = res.get_dataframe()
            df = df.sort_values("started")
            first_target = df[df["cell"] == "target:A->X"]["started"].min()
            a_ends = df[df["cell"] == "intermediate:A"]
            print("trials per cell (Tune):", df.groupby("cell").size().to_dict())
            print("iterations of each trial:", df[["cell", "training_iteration"]].values.tolist())
            print("target cell started after the last A trial ended:",
                  bool(first_target >= (a_ends["started"] + a_ends["time_total_s"]).max() - 0.5))
            spans = list(zip(df["started"], df["started"] + df["time_total_s"]))
            peak = max(sum(s0 <= t < s1 for s0, s1 in spans) for t, _ in spans)
            print("peak concurrent trials:", peak, "(max_concurrent_trials=2)")
            # concurrency: the searcher's journal is the source of truth
            final = CellSearcher(journal, cells, metric="score", mode="max")
            print("journal states:", final.summary())
            import optuna
            s = optuna.load_study(study_name="intermediate:A",
                                  storage=optuna.storages.JournalStorage(
                                      optuna.storages.journal.JournalFileBackend(journal)))
            for t in s.trials:
                print("  A#%d %-8s lr=%.2e value=%s intermediate=%s" % (
                    t.number, t.state.name, t.params["lr"], None if t.value is None else round(t.value, 3),
                    {k: round(v, 2) for k, v in t.intermediate_values.items()}))
            # pickling: Tune pickles the searcher in tuner.pkl and via save() every ~10 s
            blob = cloudpickle.dumps(searcher)
            back = cloudpickle.loads(blob)
            print("cloudpickle round trip:", len(blob), "bytes; reopened journal:", back.summary() == final.summary())
            ck = os.path.join(root, "searcher.pkl")
            searcher.save(ck)
            fresh = CellSearcher(journal, cells, metric="score", mode="max")
            fresh.restore(ck)
            print("save/restore -> suggest():", fresh.suggest("x"))
            state_files = [f for f in os.listdir(os.path.join(root, "probe2")) if "searcher" in f or f.endswith(".pkl")]
            print("experiment folder searcher files:", sorted(state_files))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
