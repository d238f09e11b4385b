"""Probe 5: per-trial overhead of a Tune trial wrapping a TorchTrainer that does nothing.

Three sequential trials; each records when the trial function started, when the Train
worker's function started and ended, and when fit() returned.

Run: .venv/bin/python benchmarks/ray_probe/probe_trial_overhead.py
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on 127.0.0.1

import tempfile  # noqa: E402
import time  # noqa: E402

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.train import RunConfig, ScalingConfig  # noqa: E402
from ray.train.torch import TorchTrainer  # noqa: E402
from ray.tune.integration.ray_train import TuneReportCallback  # noqa: E402


def noop(config: dict) -> None:
    # Result.metrics is None in Train V2 when no checkpoint was reported: pass times by file
    with open(config["times"], "w") as f:
        f.write(f"{time.time()} {time.time()}")


def trial(config: dict) -> None:
    t_trial = time.time()
    ctx = tune.get_context()
    storage = ctx.get_storage()
    result = TorchTrainer(
        noop,
        train_loop_config={"times": os.path.join(storage.experiment_fs_path, ctx.get_trial_name() + ".t")},
        scaling_config=ScalingConfig(num_workers=1),
        run_config=RunConfig(name=ctx.get_trial_name(), storage_path=storage.experiment_fs_path,
                             callbacks=[TuneReportCallback()]),
    ).fit()
    assert result.error is None
    start, end = map(float, open(os.path.join(storage.experiment_fs_path, ctx.get_trial_name() + ".t")).read().split())
    tune.report({"setup_s": start - t_trial, "teardown_s": time.time() - end,
                 "trial_fn_s": time.time() - t_trial})


def main() -> None:
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=2, resources={"trial_slot": 100}, include_dashboard=True)
    t_init = time.perf_counter() - t0
    try:
        with tempfile.TemporaryDirectory() as root:
            t1 = time.perf_counter()
            res = tune.Tuner(
                tune.with_resources(trial, {"CPU": 0, "trial_slot": 0.01}),
                param_space={"i": tune.grid_search([0, 1, 2])},
                tune_config=tune.TuneConfig(max_concurrent_trials=1),
                run_config=tune.RunConfig(name="probe5", storage_path=root, verbose=0),
            ).fit()
            wall = time.perf_counter() - t1
            df = res.get_dataframe().sort_values("config/i")
            print(f"=== ray.init {t_init:.1f} s; Tuner.fit for 3 sequential trials {wall:.1f} s "
                  f"({wall / 3:.1f} s a trial); num_errors {res.num_errors}")
            for _, r in df.iterrows():
                print(f"    trial {int(r['config/i'])}: trial fn {r['trial_fn_s']:.1f} s = set-up "
                      f"{r['setup_s']:.1f} s (trial start -> worker fn) + tear-down {r['teardown_s']:.1f} s")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
