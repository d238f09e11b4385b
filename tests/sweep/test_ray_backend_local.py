"""The local path of raygrid.sweep.ray_backend (a unit in Train V2's local
mode inside its Tune trial's process) and its saved states
(raygrid.sweep.unit_state), without a Ray cluster."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from raygrid.errors import ConfigError
from raygrid.sweep import ray_backend
from raygrid.sweep.cluster import TRIAL_RESOURCE
from raygrid.sweep.plan import TrialRecord, Unit
from raygrid.sweep.unit_state import POINTER, LocalStates

from test_plan import _spec


def _resources(tmp_path: Path, **changes: Any) -> Any:
    spec = _spec(tmp_path)
    return spec.replace(resources={**spec.resources.model_dump(mode="json"), **changes})


def test_one_worker_units_on_one_node_run_locally_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ray_backend.UNIT_PATH_ENV, raising=False)
    spec = _spec(tmp_path)
    assert spec.resources.num_workers == 1
    assert ray_backend.unit_path(spec, live_nodes=1, autoscaling=False) == ray_backend.LOCAL_PATH
    # several nodes, an autoscaler or several workers: Train's worker actors
    assert ray_backend.unit_path(spec, live_nodes=2, autoscaling=False) == ray_backend.TRAINER_PATH
    assert ray_backend.unit_path(spec, live_nodes=1, autoscaling=True) == ray_backend.TRAINER_PATH
    ddp = _resources(tmp_path, num_workers=2)
    assert ray_backend.unit_path(ddp, live_nodes=1, autoscaling=False) == ray_backend.TRAINER_PATH
    monkeypatch.setenv(ray_backend.UNIT_PATH_ENV, "trainer")
    assert ray_backend.unit_path(spec, live_nodes=1, autoscaling=False) == ray_backend.TRAINER_PATH
    monkeypatch.setenv(ray_backend.UNIT_PATH_ENV, "local")
    assert ray_backend.unit_path(spec, live_nodes=1, autoscaling=False) == ray_backend.LOCAL_PATH


def test_the_local_path_only_where_units_can_run_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(tmp_path)
    monkeypatch.setenv(ray_backend.UNIT_PATH_ENV, "local")
    # a node lost must not take the trial with it: several nodes, or an autoscaler, keep Train's workers
    with pytest.raises(ConfigError, match="has 2 node"):
        ray_backend.unit_path(spec, live_nodes=2, autoscaling=False)
    with pytest.raises(ConfigError, match="and an autoscaler"):
        ray_backend.unit_path(spec, live_nodes=1, autoscaling=True)
    with pytest.raises(ConfigError, match="num_workers is 2"):
        ray_backend.unit_path(_resources(tmp_path, num_workers=2), live_nodes=1, autoscaling=False)
    monkeypatch.setenv(ray_backend.UNIT_PATH_ENV, "fast")
    with pytest.raises(ConfigError, match="RAYGRID_UNIT_PATH='fast': allowed"):
        ray_backend.unit_path(spec, live_nodes=1, autoscaling=False)


def test_a_local_trial_holds_its_workers_resources(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert ray_backend.trial_resources(spec, ray_backend.TRAINER_PATH) == {"CPU": 0, TRIAL_RESOURCE: 0.01}
    assert ray_backend.trial_resources(spec, ray_backend.LOCAL_PATH) == {"CPU": 1, TRIAL_RESOURCE: 0.01}
    gpu = _resources(tmp_path, use_gpu=True, gpus_per_worker=1, cpus_per_worker=4)
    assert ray_backend.trial_resources(gpu, ray_backend.LOCAL_PATH) == {"CPU": 4, "GPU": 1, TRIAL_RESOURCE: 0.01}


def test_a_unit_waits_after_each_report_until_tune_asks_again() -> None:
    channel = ray_backend._Channel()
    progress: list[str] = []

    def unit() -> None:
        try:
            for step in (1, 2, 3):
                channel.report({"step": step})
                progress.append(f"after {step}")
            channel.finish("done", {"objective": 1.0})
        except ray_backend.UnitStopped:
            progress.append("stopped")
            channel.finish("stopped", None)

    thread = threading.Thread(target=unit, daemon=True)
    thread.start()
    assert channel.next() == ("report", {"step": 1})
    thread.join(timeout=0.3)
    assert progress == []  # the result was taken, but nobody asked for the next: it waits
    assert channel.next() == ("report", {"step": 2}) and progress == ["after 1"]
    channel.stop()  # Tune stopped the trial (pruned): the unit goes no further
    thread.join(timeout=5)
    assert not thread.is_alive() and progress == ["after 1", "stopped"]


def _state(where: Path, marker: str) -> Path:
    where.mkdir(parents=True)
    (where / "trainer_state.pt").write_text(marker)  # what raygrid.train.loop.is_saved_state looks for
    (where / "weights.safetensors").write_text(marker)
    return where


def test_the_newest_state_is_resumed_and_the_older_removed(tmp_path: Path) -> None:
    states = LocalStates(tmp_path / "sweep", "unitkey")
    with states.latest() as nothing:
        assert nothing is None
    first = states.save(_state(tmp_path / "s1", "one"), step=2)
    second = states.save(_state(tmp_path / "s2", "two"), step=4)
    assert first != second and states.current() == second
    folder = tmp_path / "sweep" / "train" / "unitkey"
    assert sorted(p.name for p in folder.iterdir()) == sorted([POINTER, second])  # the older one is gone
    with states.latest() as resume:
        assert resume is not None and (resume / "trainer_state.pt").read_text() == "two"


def test_a_pointer_out_of_the_units_folder_is_not_followed(tmp_path: Path) -> None:
    states = LocalStates(tmp_path / "sweep", "unitkey")
    folder = tmp_path / "sweep" / "train" / "unitkey"
    folder.mkdir(parents=True)
    _state(tmp_path / "sweep" / "elsewhere", "x")
    for bad in ("../../elsewhere", "local-../../elsewhere", "other", 5):
        (folder / POINTER).write_text(json.dumps({"state": bad}))
        assert states.current() is None
    (folder / POINTER).write_text("{not json")
    assert states.current() is None


class _Result:
    def __init__(self, value: dict[str, float]) -> None:
        self.return_value = value


def _local_config(tmp_path: Path, max_failures: int) -> dict[str, Any]:
    unit: dict[str, Any] = {name: None for name in Unit.__dataclass_fields__}
    unit.update({"key": "a" * 16, "cell_key": "c" * 16, "kind": "trial", "params": {}, "seed": 0})
    return {"unit": unit, "sweep_dir": str(tmp_path / "sweep"), "max_failures": max_failures}


def _fake_trainer(monkeypatch: pytest.MonkeyPatch, outcomes: list[Any]) -> list[int]:
    """TorchTrainer stand-in: each fit() takes the next outcome (an exception
    raises, a dict returns); returns the list of the workers' num_workers."""
    import ray.train.torch

    seen: list[int] = []

    class Trainer:
        def __init__(self, fn: Any, *, train_loop_config: Any, scaling_config: Any, run_config: Any) -> None:
            seen.append(scaling_config.num_workers)

        def fit(self) -> _Result:
            outcome = outcomes.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return _Result(outcome)

    monkeypatch.setattr(ray.train.torch, "TorchTrainer", Trainer)
    return seen


def test_a_failing_local_unit_is_retried_then_recorded_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from raygrid.train.loop import NonFiniteLoss

    errors = [NonFiniteLoss(f"non-finite loss nan at step {i}") for i in range(3)]
    seen = _fake_trainer(monkeypatch, list(errors))
    out = ray_backend._run_local(_local_config(tmp_path, max_failures=2), ray_backend._Channel())
    assert seen == [0, 0, 0]  # local mode, tried 1 + max_failures times
    assert out["raygrid_failed"] == 1.0
    record = TrialRecord.read(tmp_path / "sweep", "a" * 16)
    assert record is not None and record.status == "failed" and record.path == ray_backend.LOCAL_PATH
    assert record.error is not None and record.error.startswith("NonFiniteLoss: non-finite loss nan at step 2")


def test_a_local_unit_that_recovers_ends_done_and_its_states_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = {"raygrid_done": 1.0, "objective": 0.5}
    seen = _fake_trainer(monkeypatch, [RuntimeError("a flaky step"), dict(done)])
    states = LocalStates(tmp_path / "sweep", "a" * 16)
    states.save(_state(tmp_path / "s", "x"), step=1)
    assert ray_backend._run_local(_local_config(tmp_path, max_failures=1), ray_backend._Channel()) == done
    assert len(seen) == 2 and TrialRecord.read(tmp_path / "sweep", "a" * 16) is None  # run_unit writes it, not this
    assert not (tmp_path / "sweep" / "train" / ("a" * 16)).exists()


def test_a_stopped_unit_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _fake_trainer(monkeypatch, [ray_backend.UnitStopped()])
    with pytest.raises(ray_backend.UnitStopped):
        ray_backend._run_local(_local_config(tmp_path, max_failures=3), ray_backend._Channel())
    assert seen == [0] and TrialRecord.read(tmp_path / "sweep", "a" * 16) is None


def test_old_records_read_without_a_path(tmp_path: Path) -> None:
    where = tmp_path / "sweep" / "trials"
    where.mkdir(parents=True)
    (where / "k.json").write_text(json.dumps({"key": "k", "status": "complete", "objective": 1.0}))
    record = TrialRecord.read(tmp_path / "sweep", "k")
    assert record is not None and record.path is None


def test_status_counts_the_paths_finished_units_took(tmp_path: Path) -> None:
    from raygrid.sweep.plan import TrialRecord, unit_paths

    sweep = tmp_path / "s"
    (sweep / "trials").mkdir(parents=True)
    assert unit_paths(sweep) == {}
    TrialRecord("a", "complete", 0.5, path="local").write(sweep)
    TrialRecord("b", "pruned", 0.1, path="local").write(sweep)
    TrialRecord("c", "complete", 0.4, path="trainer").write(sweep)
    TrialRecord("d", "complete", 0.3).write(sweep)  # a record from before records said
    assert unit_paths(sweep) == {"local": 2, "trainer": 1, "unknown": 1}
