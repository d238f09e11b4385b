"""Probe 1: a Tune function trial that runs a Ray Train V2 TorchTrainer.

- metrics per "epoch" via ray.train.report(metrics, checkpoint=...) reach Tune
  through ray.tune.integration.ray_train.TuneReportCallback;
- the Train run name is stable (the Tune trial name) and its storage is the Tune
  experiment folder, so a retried trial resumes from the latest checkpoint;
- the trial itself holds only a tiny custom resource, so the Train workers get
  the 2 CPUs (no deadlock);
- DDP with 2 CPU workers (gloo) through ray.train.torch.prepare_model.

Run: .venv/bin/python benchmarks/ray_probe/probe_train_in_tune.py
"""

from __future__ import annotations

import os
import tempfile
import time

import ray
import torch
from torch import nn
from ray import tune
from ray.train import Checkpoint, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

EPOCHS = 4


def train_loop(config: dict) -> None:
    """Runs on every Train worker (rank 0..world_size-1)."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.manual_seed(0)
    model = nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    start = 0
    ckpt = ray.train.get_checkpoint()  # the latest reported checkpoint of THIS run name
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(os.path.join(d, "state.pt"))
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["epoch"] + 1
    # world_size 1: returns the model moved to the device; >1: wraps in DDP (gloo on CPU)
    ddp = ray.train.torch.prepare_model(model)
    x = torch.randn(64, 8)
    y = x.sum(1, keepdim=True)
    for epoch in range(start, EPOCHS):
        shard = slice(rank, None, world)  # data parallel: each rank its own rows
        loss = nn.functional.mse_loss(ddp(x[shard]), y[shard])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if config.get("fail_once_at") == epoch and not os.path.exists(config["marker"]):
            open(config["marker"], "w").close()
            raise RuntimeError(f"injected failure at epoch {epoch}")
        metrics = {"epoch": epoch, "loss": float(loss), "resumed_from": start,
                   "world_size": world, "ddp": type(ddp).__name__}
        with tempfile.TemporaryDirectory() as d:
            checkpoint = None
            if rank == 0:  # only rank 0 writes; the others report metrics only
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch},
                           os.path.join(d, "state.pt"))
                checkpoint = Checkpoint.from_directory(d)
            ray.train.report(metrics, checkpoint=checkpoint)  # a collective: every rank calls it


def trial(config: dict) -> None:
    """The Tune trial: builds and runs one Train run; metrics flow via TuneReportCallback."""
    ctx = tune.get_context()
    storage = ctx.get_storage()  # TuneContext has no get_experiment_path() in 2.60
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=config["workers"], use_gpu=False,
                                     resources_per_worker={"CPU": 1}),
        run_config=RunConfig(
            name=ctx.get_trial_name(),               # stable: no timestamp
            storage_path=storage.experiment_fs_path,  # -> <storage>/<experiment>/<trial name>/
            storage_filesystem=storage.storage_filesystem,  # same fs as Tune (local or s3)
            failure_config=FailureConfig(max_failures=0),  # let Tune's retry do it here
            callbacks=[TuneReportCallback()],
        ),
    )
    trainer.fit()


def main() -> None:
    ray.init(address="local", num_cpus=2, resources={"trial_slot": 100}, include_dashboard=True)
    try:
        with tempfile.TemporaryDirectory() as root:
            marker = os.path.join(root, "failed-once")
            t0 = time.perf_counter()
            tuner = tune.Tuner(
                # the trial holds 0 CPU and 0.01 of a custom resource: all CPUs go to Train
                tune.with_resources(trial, {"CPU": 0, "trial_slot": 0.01}),
                param_space={"lr": 0.05, "workers": 1, "fail_once_at": 2, "marker": marker},
                tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=1),
                run_config=tune.RunConfig(name="probe1", storage_path=root,
                                          failure_config=tune.FailureConfig(max_failures=1)),
            )
            res = tuner.fit()
            t1 = time.perf_counter()
            print("=== 1 worker, failure injected at epoch 2, Tune retries once")
            print("num_errors", res.num_errors, "wall_s", round(t1 - t0, 1))
            df = res[0].metrics_dataframe
            print(df[["epoch", "loss", "resumed_from", "world_size", "ddp"]].to_string())

            t0 = time.perf_counter()
            tuner = tune.Tuner(
                tune.with_resources(trial, {"CPU": 0, "trial_slot": 0.01}),
                param_space={"lr": 0.05, "workers": 2},
                tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=1),
                run_config=tune.RunConfig(name="probe1ddp", storage_path=root),
            )
            res = tuner.fit()
            print("=== DDP, 2 CPU workers (gloo)")
            print("num_errors", res.num_errors, "wall_s", round(time.perf_counter() - t0, 1))
            print(res[0].metrics_dataframe[["epoch", "loss", "world_size", "ddp"]].to_string())
            for dirpath, _, files in os.walk(os.path.join(root, "probe1")):
                if "state.pt" in files or "checkpoint_manager_snapshot.json" in files:
                    print("  ", os.path.relpath(dirpath, root))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
