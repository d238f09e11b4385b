"""Which failures of a unit's TorchTrainer run a trial records as the
unit's own (raygrid.sweep.ray_backend._run_trial), without a Ray cluster:
the Train controller's death, as when the driver that owns the trial is
killed, is not one (a resumed sweep must run the unit again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import ray.train.torch
import ray.tune.integration.ray_train
from ray.exceptions import ActorDiedError

from raygrid.storage import Location
from raygrid.sweep import ray_backend
from raygrid.sweep.plan import TrialRecord, Unit, UnitKind


class _FailingTrainer:
    error: Exception = RuntimeError("unset")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def fit(self) -> None:
        raise self.error


def _config(sweep: Path) -> dict[str, Any]:
    resources = {"num_workers": 1, "cpus_per_worker": 1, "use_gpu": False, "gpus_per_worker": 0}
    return {"sweep_dir": str(sweep), "resources": resources, "max_failures": 0}


def _unit() -> Unit:
    return Unit(UnitKind.TRIAL, "u0", "c0", 0, {"learning_rate": 1e-4}, None, 0)


def test_the_controllers_death_is_not_the_units_failure() -> None:
    assert not ray_backend.unit_failed(ActorDiedError())  # its placement group removed with the driver
    assert ray_backend.unit_failed(RuntimeError("loss is NaN"))
    assert ray_backend.unit_failed(ValueError("a worker raised"))


def test_a_trial_whose_controller_died_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray.train.torch, "TorchTrainer", _FailingTrainer)
    monkeypatch.setattr(ray.tune.integration.ray_train, "TuneReportCallback", ray.train.UserCallback)  # no Tune session here
    monkeypatch.setattr(_FailingTrainer, "error", ActorDiedError())
    sweep = Location.of(str(tmp_path))
    with pytest.raises(ActorDiedError):
        ray_backend._run_trial(_config(tmp_path), sweep, _unit())
    assert TrialRecord.read(sweep, "u0") is None  # a resumed sweep reruns it


def test_a_trial_whose_training_failed_records_the_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[dict[str, Any]] = []
    monkeypatch.setattr(ray.train.torch, "TorchTrainer", _FailingTrainer)
    monkeypatch.setattr(ray.tune.integration.ray_train, "TuneReportCallback", ray.train.UserCallback)  # no Tune session here
    monkeypatch.setattr(_FailingTrainer, "error", RuntimeError("loss is NaN"))
    monkeypatch.setattr(ray_backend.tune, "report", reported.append)
    sweep = Location.of(str(tmp_path))
    ray_backend._run_trial(_config(tmp_path), sweep, _unit())
    record = TrialRecord.read(sweep, "u0")
    assert record is not None and record.status == "failed" and "loss is NaN" in (record.error or "")
    assert reported and reported[0]["raygrid_failed"] == 1.0
