"""Units run in-process (no Ray): the planner + run_unit, end to end on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygrid.grid import Stage
from raygrid.spec import parse_spec
from raygrid.store import read_rows
from raygrid.sweep.plan import FINISHED, Planner, Unit
from raygrid.sweep.work import UnitContext, run_unit
from raygrid.train.loop import Placement


def tiny_spec(model: Path, storage: Path, **extra):  # type: ignore[no-untyped-def]
    space = {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        "num_epochs": 1,
        "batch_size": 16,
        "max_seq_length": 48,
    }
    data = {
        "name": "tiny",
        "model": {"name_or_path": str(model)},
        "data": {"source": "bundled", "max_train_examples": 32, "max_eval_examples": 8},
        "intermediates": ["none", "mnli"],
        "targets": [{"task": "xnli", "languages": ["de", "zh"]}, {"task": "bucc", "languages": ["de"]}],
        "search_space": {"intermediate": space, "target": space},
        "n_trials": {"intermediate": 2, "target": 2},
        "confirm": {"seeds": [0]},
        "storage": str(storage),
        **extra,
    }
    return parse_spec(data)


def test_units_in_process_write_checkpoints_records_and_rows(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tiny_spec(tiny_model_dir, tmp_path)
    sweep = tmp_path / "tiny"
    planner = Planner(spec, sweep)
    ran = []
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        cell = planner.grid.by_key[unit.cell_key]
        record = run_unit(UnitContext(spec, sweep, unit, cell), Placement())
        planner.complete(unit, record)
        ran.append((cell.stage, unit))
    assert [s for s, _ in ran].count(Stage.INTERMEDIATE) == 2
    progress = planner.progress()
    assert progress["done"] == progress["total"]
    rows = read_rows(sweep / "results")
    confirm = [r for r in rows if r["stage"] == "confirm"]
    # xnli: English dev rows + de, zh test rows, for none and mnli; bucc: de
    assert {(r["intermediate"], r["task"], r["language"], r["split"]) for r in confirm if r["metric"] in {"accuracy", "f1"}} == {
        (i, "xnli", lang, split) for i in ("none", "mnli") for lang, split in (("en", "dev"), ("de", "test"), ("zh", "test"))
    } | {(i, "bucc", "de", "test") for i in ("none", "mnli")}
    # every intermediate trial wrote a checkpoint; target cells of mnli start from the best one
    inter = planner.grid.cells_of(Stage.INTERMEDIATE)[0]
    best = planner.best_trial(inter)
    assert best is not None
    mnli_targets = [u for s, u in ran if s is Stage.TARGET and planner.grid.by_key[u.cell_key].intermediate == "mnli"]
    assert {u.parent_checkpoint for u in mnli_targets} == {best.user_attrs["raygrid_checkpoint"]}
    assert all((Path(u.parent_checkpoint) / "model.safetensors").is_file() for u in mnli_targets)  # type: ignore[arg-type]
    assert (sweep / "tensorboard").is_dir()
    # run again: nothing is retrained (records say complete)
    again = run_unit(UnitContext(spec, sweep, ran[0][1], planner.grid.by_key[ran[0][1].cell_key]), Placement())
    assert again.status == "complete" and again.key == ran[0][1].key
    # a kill between a unit's rows and its record: the resumed unit rebuilds the very
    # record from the rows' manifest, and neither retrains nor counts as failed
    for stage, unit in (ran[0], next(r for r in ran if r[0] is Stage.CONFIRM)):
        record_file = sweep / "trials" / f"{unit.key}.json"
        written = record_file.read_bytes()
        record_file.unlink()
        rows_before = sorted(p.stat().st_mtime_ns for p in (sweep / "results").rglob(f"{unit.key}.parquet"))
        rebuilt = run_unit(UnitContext(spec, sweep, unit, planner.grid.by_key[unit.cell_key]), Placement())
        assert rebuilt.status == "complete" and record_file.read_bytes() == written, stage
        assert sorted(p.stat().st_mtime_ns for p in (sweep / "results").rglob(f"{unit.key}.parquet")) == rows_before
        # a confirm cell whose rows are done is never handed out again: the writer's start writes its record
        if stage is Stage.CONFIRM:
            record_file.unlink()
            Planner(spec, sweep)
            assert record_file.read_bytes() == written
    # a kill between a unit's checkpoint and its rows: the rerun reuses the checkpoint (no
    # training) and writes the same record and rows
    import json

    import raygrid.cell

    def no_training(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("retrained a unit whose checkpoint is complete")

    monkeypatch.setattr(raygrid.cell, "phase_model", no_training)
    unit = ran[0][1]
    record_file = sweep / "trials" / f"{unit.key}.json"
    before = json.loads(record_file.read_text())
    rows_before = read_rows(sweep / "results", run_keys=[unit.key])
    record_file.unlink()
    (sweep / "results" / "_runs" / f"{unit.key}.json").unlink()
    for path in (sweep / "results").rglob(f"{unit.key}.parquet"):
        path.unlink()
    rerun = run_unit(UnitContext(spec, sweep, unit, planner.grid.by_key[unit.cell_key]), Placement())
    after = json.loads(record_file.read_text())
    assert {k: v for k, v in after.items() if k != "seconds"} == {k: v for k, v in before.items() if k != "seconds"}
    assert rerun.objective == before["objective"]
    assert read_rows(sweep / "results", run_keys=[unit.key]) == rows_before


def test_per_task_training_caps_reach_each_phase(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import raygrid.cell

    spec = tiny_spec(tiny_model_dir, tmp_path)
    spec = spec.replace(data={**spec.data.model_dump(mode="json"), "max_train_examples_per_task": {"xnli": 12}})
    real, seen = raygrid.cell.phase_data, []

    def spy(task, *args, **kwargs):  # type: ignore[no-untyped-def]
        data = real(task, *args, **kwargs)
        seen.append((task.name, kwargs["max_train_examples"], len(data.train)))
        return data

    monkeypatch.setattr(raygrid.cell, "phase_data", spy)
    sweep = tmp_path / "tiny"
    planner = Planner(spec, sweep)
    while not any(name == "xnli" for name, _, _ in seen) and (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        planner.complete(unit, run_unit(UnitContext(spec, sweep, unit, planner.grid.by_key[unit.cell_key]), Placement()))
    # the mnli intermediate keeps the global cap (32 rows); XNLI's target phase trains on 12 MNLI rows
    assert ("mnli", 32, 32) in seen and ("xnli", 12, 12) in seen


def test_token_cache_is_in_the_sweep_or_node_local_for_s3(tmp_path, monkeypatch) -> None:
    from raygrid.storage import Location
    from raygrid.sweep.work import token_cache_dir

    assert token_cache_dir(tmp_path / "sweep") == tmp_path / "sweep" / "cache" / "tokens"
    monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "node"))
    remote = token_cache_dir(Location.of("s3://bucket/sweeps/demo"))
    assert remote.is_relative_to(tmp_path / "node") and remote.name == "tokens"
    assert remote != token_cache_dir(Location.of("s3://bucket/sweeps/other"))


def test_finished_trials_are_trimmed_to_what_raygrid_reads() -> None:
    from types import SimpleNamespace

    from ray.tune.trainable.metadata import _TrainingRunMetadata

    from raygrid.sweep.ray_backend import OBJECTIVE, TrimFinishedTrials

    meta = _TrainingRunMetadata()
    result = {OBJECTIVE: 0.7, "raygrid_done": 1.0, "training_iteration": 3, "time_this_iter_s": 0.2,
              "config": {"unit": {"key": "x" * 500}}, "pid": 42, "hostname": "h"}  # fmt: skip
    meta.last_result = result
    for metric in ("objective", "time_this_iter_s", "pid", "timestamp"):
        meta.update_metric(metric, 1.0)
    trial = SimpleNamespace(run_metadata=meta)
    before = len(meta.get_json_state())
    TrimFinishedTrials().on_trial_complete(iteration=1, trials=[trial], trial=trial)
    assert meta.metric_analysis == {} and meta.metric_n_steps == {}
    assert meta.last_result == {OBJECTIVE: 0.7, "raygrid_done": 1.0, "training_iteration": 3}
    assert len(meta.get_json_state()) < before / 3  # the cached JSON is rebuilt from the trimmed state


def test_finished_trials_release_freed_memory_every_n(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from ray.tune.trainable.metadata import _TrainingRunMetadata

    from raygrid.sweep import ray_backend

    calls: list[int] = []
    monkeypatch.setattr(ray_backend, "release_freed_memory", lambda: calls.append(1) or True)
    callback = ray_backend.TrimFinishedTrials(release_every=3)
    for n in range(7):
        trial = SimpleNamespace(run_metadata=_TrainingRunMetadata())
        if n % 2:
            callback.on_trial_error(iteration=n, trials=[trial], trial=trial)
        else:
            callback.on_trial_complete(iteration=n, trials=[trial], trial=trial)
    assert len(calls) == 2  # after the 3rd and the 6th finished trial, errored ones included
    assert isinstance(ray_backend.release_freed_memory(), bool)  # the real one: glibc here, a no-op elsewhere


def test_tune_forgets_trials_that_finished_cleanly_and_were_saved() -> None:
    from types import SimpleNamespace

    from raygrid.sweep.ray_backend import forget_finished_trials

    class Trial:  # hashed by identity, as Tune's are
        def __init__(self, trial_id: str, status: str) -> None:
            self.trial_id, self.status = trial_id, status

    def trial(n: int, status: str) -> Trial:
        return Trial(f"t{n}", status)

    first, done, saving, running, failed, stopping = (
        trial(0, "TERMINATED"), trial(1, "TERMINATED"), trial(2, "TERMINATED"),
        trial(3, "RUNNING"), trial(4, "ERROR"), trial(5, "TERMINATED"),
    )  # fmt: skip
    trials = [first, done, saving, running, failed, stopping]
    handed_to_callbacks = trials
    controller = SimpleNamespace(
        _trials=trials,
        _stopped_trials={first, done, saving, stopping},
        _trial_metadata={t.trial_id: ("{}", "{}") for t in trials},
        _trials_to_cache={saving},  # its final state is not in the experiment state yet
        _trial_to_actor={running: "actor", stopping: "actor"},
    )
    assert forget_finished_trials(controller) == 1
    assert handed_to_callbacks == [first, saving, running, failed, stopping]  # the same list, edited in place
    assert done not in controller._stopped_trials and "t1" not in controller._trial_metadata
    assert set(controller._trial_metadata) == {"t0", "t2", "t3", "t4", "t5"}
    controller._trials_to_cache.clear()
    controller._trial_to_actor.pop(stopping)
    assert forget_finished_trials(controller) == 2 and controller._trials == [first, running, failed]
    assert forget_finished_trials(SimpleNamespace(_trials=trials)) == 0  # another Ray: left alone


def test_the_tune_controller_still_has_the_fields_forget_finished_trials_edits() -> None:
    import inspect

    from ray.tune.execution.tune_controller import TuneController

    from raygrid.sweep.ray_backend import _CONTROLLER_TRIAL_FIELDS

    source = inspect.getsource(TuneController.__init__)
    missing = [f for f in (*_CONTROLLER_TRIAL_FIELDS, "_staged_trials") if f"self.{f}" not in source]
    assert not missing, f"Ray's TuneController changed ({missing}): finished trials are no longer forgotten"
