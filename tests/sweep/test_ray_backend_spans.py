"""The unit spans of raygrid.sweep.ray_backend (RAYGRID_UNIT_SPANS) and the
settings that cut a unit's set-up (no Ray cluster needed)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from raygrid.sweep import ray_backend


def test_no_span_file_is_written_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ray_backend.SPANS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    ray_backend._span("trial.start", "k")
    assert list(tmp_path.iterdir()) == []


def test_a_span_is_one_json_line_with_the_process_birth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / "spans.jsonl"
    monkeypatch.setenv(ray_backend.SPANS_ENV, str(where))
    before = time.time()
    ray_backend._span("report", "abc", step=3.0, loop_seconds=1.5)
    ray_backend._span("unit.end", "abc", unit_seconds=2.0)
    lines = [json.loads(line) for line in where.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["report", "unit.end"]
    first = lines[0]
    assert first["unit"] == "abc" and first["pid"] == os.getpid() and first["step"] == 3.0
    assert before - 1 <= first["t"] <= time.time() + 1
    started = first["process_started"]
    assert started is None or started <= before  # this process began before the span (None off Linux)


def test_the_process_start_is_in_the_past_on_linux() -> None:
    started = ray_backend._process_started()
    if not Path("/proc/self/stat").exists():
        assert started is None
        return
    assert started is not None and 0 < time.time() - started < 7 * 24 * 3600


def test_the_trial_sets_trains_poll_interval_without_overriding_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    """_run_trial sets Train's controller poll interval unless the caller set one."""
    captured: dict[str, Any] = {}

    class Trainer:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            captured["poll"] = os.environ.get(ray_backend.TRAIN_POLL_ENV)

        def fit(self) -> None:
            raise RuntimeError("stop here")

    import ray.train.torch
    import ray.tune.integration.ray_train

    written: list[Any] = []
    monkeypatch.setattr(ray.train.torch, "TorchTrainer", Trainer)
    monkeypatch.setattr(ray.tune.integration.ray_train, "TuneReportCallback", ray.train.UserCallback)  # needs a Tune session
    monkeypatch.setattr(ray_backend.TrialRecord, "write", lambda self, where: written.append(self))
    monkeypatch.setattr(ray_backend.tune, "report", lambda metrics: None)
    unit = ray_backend.Unit.from_config(_unit_config())
    config = {"resources": {"cpus_per_worker": 1, "use_gpu": False, "gpus_per_worker": 0, "num_workers": 1},
              "max_failures": 0}  # fmt: skip
    monkeypatch.delenv(ray_backend.TRAIN_POLL_ENV, raising=False)
    ray_backend._run_trial(config, ray_backend.Location.of("/nonexistent-sweep"), unit)
    assert captured["poll"] == ray_backend.TRAIN_POLL_S
    assert written and written[0].status == "failed" and "stop here" in written[0].error
    monkeypatch.setenv(ray_backend.TRAIN_POLL_ENV, "3")
    ray_backend._run_trial(config, ray_backend.Location.of("/nonexistent-sweep"), unit)
    assert captured["poll"] == "3"


def _unit_config() -> dict[str, Any]:
    fields = ray_backend.Unit.__dataclass_fields__
    values: dict[str, Any] = {"key": "k" * 16, "cell_key": "c" * 16, "kind": "trial", "params": {}, "seed": 0}
    return {name: values.get(name) for name in fields}


def test_the_experiment_reuses_trial_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_plan import _spec

    built: list[Any] = []

    class Tuner:
        def __init__(self, trainable: Any, *, tune_config: Any, run_config: Any) -> None:
            built.append(tune_config)

        def fit(self) -> str:
            return "results"

    monkeypatch.setattr(ray_backend.tune, "Tuner", Tuner)
    monkeypatch.setattr(ray_backend, "start_ray", lambda address: None)
    monkeypatch.setattr(ray_backend.ray, "nodes", lambda: [{"Alive": True, "Resources": {"CPU": 2.0}}])
    monkeypatch.setattr(ray_backend.ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(ray_backend, "autoscaler_node_groups", lambda: [])
    monkeypatch.delenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", raising=False)  # run_experiment sets it: restored after
    ray_backend.run_experiment(_spec(tmp_path), tmp_path / "sweep", address=None, quiet=True)
    (config,) = built
    assert config.reuse_actors is True  # every trial holds the same resources: Tune can hand a process on
