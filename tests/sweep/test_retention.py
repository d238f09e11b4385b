"""Checkpoint retention (raygrid.sweep.retention) on a planner driven in-process,
and through the writer's hooks in raygrid.sweep.ray_backend.CellSearcher."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from raygrid.grid import Stage
from raygrid.storage import Location
from raygrid.store import ResultRow, write_run
from raygrid.sweep import retention
from raygrid.sweep.plan import ATTR_UNIT, FINISHED, Planner, TrialRecord, Unit, UnitKind
from raygrid.sweep.retention import RetentionRecord

from test_plan import _objective, _spec


def _write_checkpoint(sweep_dir: Location, key: str) -> None:
    """What a unit leaves: weights, then its marker (raygrid.json) last."""
    where = retention.checkpoint_of(sweep_dir, key)
    (where / "model.safetensors").write_bytes(b"\0" * 64)
    (where / retention.CHECKPOINT_MARKER).write_text(json.dumps({"key": key}))


def _finish(planner: Planner, unit: Unit, *, status: str = "complete", hook: bool = True) -> None:
    """A unit ends: its checkpoint, record (or rows), the planner told, then the writer's hook."""
    _write_checkpoint(planner.sweep_dir, unit.key)
    if unit.kind is UnitKind.TRIAL:
        value = _objective(unit) if status == "complete" else None
        record = TrialRecord(unit.key, status, value, checkpoint=str(retention.checkpoint_of(planner.sweep_dir, unit.key)))
        record.write(planner.sweep_dir)
    else:
        row = ResultRow(run_key=unit.key, task="x", language="de", split="test", metric="accuracy", value=0.5)
        write_run(planner.sweep_dir / "results", unit.key, [row])
        record = TrialRecord(unit.key, "complete", None)
    planner.complete(unit, record)
    if hook:
        retention.retain(planner, unit.cell_key)


def _drain(planner: Planner, **finish: Any) -> list[Unit]:
    units: list[Unit] = []
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        _finish(planner, unit, **finish)
        units.append(unit)
    return units


def _checkpoints(sweep_dir: Location) -> set[str]:
    """Complete checkpoints (their marker is there)."""
    root = sweep_dir / "checkpoints"
    return {name for name in root.names() if (root / name / retention.CHECKPOINT_MARKER).is_file()}


def _leftovers(sweep_dir: Location) -> set[str]:
    """Every checkpoint folder, complete or not."""
    return set((sweep_dir / "checkpoints").names())


def _expected(planner: Planner) -> set[str]:
    """Under keep: best, what a finished sweep holds: each trial cell's best
    trial, and every confirm run."""
    keep = {cell.key for cell in planner.grid.cells_of(Stage.CONFIRM)}
    for cell in planner.grid.cells:
        if cell.stage is not Stage.CONFIRM and cell.n_trials:
            best = planner.best_trial(cell)
            assert best is not None
            keep.add(best.user_attrs[ATTR_UNIT])
    return keep


def test_marker_is_the_one_raygrid_models_writes() -> None:
    from raygrid.models import CHECKPOINT_META

    assert retention.CHECKPOINT_MARKER == CHECKPOINT_META


def test_best_is_kept_and_the_others_go_only_once_the_cell_is_done(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path, n_trials={"intermediate": 3, "target": 2}), tmp_path / "s")
    first, second, third = (planner.next_unit() for _ in range(3))  # the intermediate cell's trials, at once
    assert all(isinstance(u, Unit) for u in (first, second, third))
    cell = planner.grid.by_key[first.cell_key]  # type: ignore[union-attr]
    _finish(planner, first)  # type: ignore[arg-type]
    _finish(planner, second)  # type: ignore[arg-type]
    assert _checkpoints(planner.sweep_dir) == {first.key, second.key}  # type: ignore[union-attr]
    assert not (planner.sweep_dir / "retention").exists()  # the cell is not done: nothing decided
    _finish(planner, third)  # type: ignore[arg-type]
    best = max((first, second, third), key=_objective)  # type: ignore[arg-type]
    assert _leftovers(planner.sweep_dir) == {best.key}
    record = RetentionRecord.read(planner.sweep_dir, cell.key)
    assert record is not None and record.complete and record.best == best.key
    assert set(record.delete) == {first.key, second.key, third.key} - {best.key}  # type: ignore[union-attr]

    # the pending target cells start from the kept best; at the end, one per cell plus the confirm runs
    units = _drain(planner)
    assert all(u.parent_checkpoint in (None, str(retention.checkpoint_of(planner.sweep_dir, best.key))) for u in units)
    assert _leftovers(planner.sweep_dir) == _checkpoints(planner.sweep_dir) == _expected(planner)
    trial_cells = [c for c in planner.grid.cells if c.stage is not Stage.CONFIRM and c.n_trials]
    assert sorted((planner.sweep_dir / "retention").names()) == sorted(f"{c.key}.json" for c in trial_cells)


def test_keep_all_keeps_every_checkpoint(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path, checkpoints={"keep": "all"}), tmp_path / "s")
    units = _drain(planner)
    assert _checkpoints(planner.sweep_dir) == {u.key for u in units}
    assert retention.resume(planner) == []  # a writer's start deletes nothing either
    assert _checkpoints(planner.sweep_dir) == {u.key for u in units} and not (planner.sweep_dir / "retention").exists()


def test_pruned_and_failed_trials_checkpoints_go_too(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path, n_trials={"intermediate": 3, "target": 2}), tmp_path / "s")
    units = [planner.next_unit() for _ in range(3)]
    for unit, status in zip(units, ("complete", "pruned", "failed")):
        _finish(planner, unit, status=status)  # type: ignore[arg-type]
    assert _leftovers(planner.sweep_dir) == {units[0].key}  # type: ignore[union-attr]


def test_a_cell_whose_trials_all_failed_keeps_nothing(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    units = [planner.next_unit() for _ in range(2)]
    for unit in units:
        _finish(planner, unit, status="failed")  # type: ignore[arg-type]
    record = RetentionRecord.read(planner.sweep_dir, units[0].cell_key)  # type: ignore[union-attr]
    assert record is not None and record.best is None and record.complete
    assert _leftovers(planner.sweep_dir) == set()


def test_a_parent_of_a_pending_or_running_unit_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(tmp_path, intermediates=["mnli"], targets=[{"task": "xnli", "languages": ["de"]}])
    planner = Planner(spec, tmp_path / "s")
    first, second = planner.next_unit(), planner.next_unit()
    _finish(planner, first, hook=False)  # type: ignore[arg-type]
    _finish(planner, second, hook=False)  # type: ignore[arg-type]
    loser = min((first, second), key=_objective)  # type: ignore[arg-type]
    # A planner whose rule hands the pending target cell the worse trial's
    # checkpoint (raygrid's never does: the guard must hold all the same).
    monkeypatch.setattr(Planner, "_parent_checkpoint", lambda self, cell: str(retention.checkpoint_of(self.sweep_dir, loser.key)))
    record = retention.retain(planner, first.cell_key)  # type: ignore[union-attr]
    assert record is not None and record.delete == () and record.kept_as_parents == (loser.key,)
    assert _leftovers(planner.sweep_dir) == {first.key, second.key}  # type: ignore[union-attr]
    target = planner.next_unit()
    assert isinstance(target, Unit) and target.parent_checkpoint is not None
    assert (Location.of(target.parent_checkpoint) / retention.CHECKPOINT_MARKER).is_file()


def _writer_finish(searcher: Any, trial_id: str) -> None:
    """A Tune trial ends: the unit's files, then what Tune tells the searcher."""
    unit = searcher.live[trial_id]
    _write_checkpoint(searcher.sweep_dir, unit.key)
    if unit.kind is UnitKind.TRIAL:
        value = _objective(unit)
        TrialRecord(unit.key, "complete", value).write(searcher.sweep_dir)
    else:
        value = 0.5
        row = ResultRow(run_key=unit.key, task="x", language="de", split="test", metric="accuracy", value=value)
        write_run(searcher.sweep_dir / "results", unit.key, [row])
        TrialRecord(unit.key, "complete", None).write(searcher.sweep_dir)
    searcher.on_trial_complete(trial_id, {"objective": value})


def test_a_kill_between_the_record_and_the_deletions_is_finished_by_the_next_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raygrid.sweep.ray_backend import CellSearcher

    spec = _spec(tmp_path, n_trials={"intermediate": 4, "target": 2})
    sweep = tmp_path / "s"
    planner = Planner(spec, sweep)
    units = [planner.next_unit() for _ in range(4)]
    for unit in units:
        _finish(planner, unit, hook=False)  # type: ignore[arg-type]
    cell = planner.grid.by_key[units[0].cell_key]  # type: ignore[union-attr]
    # The writer is killed inside the deletions: one checkpoint gone, the
    # next one with its marker removed but its weights still there.
    removed: list[str] = []

    def rmtree_then_die(self: Location) -> None:
        if removed:
            raise KeyboardInterrupt("kill -9")
        removed.append(self.name)
        real_rmtree(self)

    real_rmtree = Location.rmtree
    monkeypatch.setattr(Location, "rmtree", rmtree_then_die)
    with pytest.raises(KeyboardInterrupt):
        retention.retain(planner, cell.key)
    monkeypatch.setattr(Location, "rmtree", real_rmtree)
    record = RetentionRecord.read(planner.sweep_dir, cell.key)
    assert record is not None and not record.complete and len(record.delete) == 3
    gone, half, whole = record.delete
    assert gone not in _leftovers(planner.sweep_dir)
    assert half in _leftovers(planner.sweep_dir) and half not in _checkpoints(planner.sweep_dir)  # never taken as complete
    assert whole in _checkpoints(planner.sweep_dir)

    # raygrid resume: the writer's start finishes the record, then the sweep goes on through the hooks
    searcher = CellSearcher(spec, sweep)
    assert not {half, whole} & _leftovers(searcher.planner.sweep_dir)
    assert RetentionRecord.read(searcher.sweep_dir, cell.key).complete  # type: ignore[union-attr]
    for number in range(100):
        if searcher.suggest(f"t{number}") == "FINISHED":
            break
        _writer_finish(searcher, f"t{number}")
    assert searcher.planner.finished()
    assert _leftovers(searcher.sweep_dir) == _checkpoints(searcher.sweep_dir) == _expected(searcher.planner)


def test_a_done_cell_without_a_record_is_decided_at_the_writers_start(tmp_path: Path) -> None:
    """A kill between a cell's last trial and its record, or a folder
    started before checkpoints.keep existed: the next writer catches up."""
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    units = _drain(planner, hook=False)
    assert _checkpoints(planner.sweep_dir) == {u.key for u in units}
    applied = retention.resume(Planner(_spec(tmp_path), tmp_path / "s"))
    assert {r.cell for r in applied} == {c.key for c in planner.grid.cells if c.stage is not Stage.CONFIRM and c.n_trials}
    assert _leftovers(planner.sweep_dir) == _expected(planner)
    assert retention.resume(Planner(_spec(tmp_path), tmp_path / "s")) == []  # nothing left to do


def test_an_incomplete_record_is_finished_under_keep_all_too(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    units = [planner.next_unit() for _ in range(2)]
    for unit in units:
        _finish(planner, unit, hook=False)  # type: ignore[arg-type]
    record = retention.decide(planner, planner.grid.by_key[units[0].cell_key])  # type: ignore[union-attr]
    assert record is not None and len(record.delete) == 1
    record.write(planner.sweep_dir)  # then the kill
    (retention.checkpoint_of(planner.sweep_dir, record.delete[0]) / retention.CHECKPOINT_MARKER).remove()
    # resumed with keep: all: the half-deleted checkpoint still goes, nothing else does
    applied = retention.resume(Planner(_spec(tmp_path, checkpoints={"keep": "all"}), tmp_path / "s"))
    assert [r.complete for r in applied] == [True]
    assert _leftovers(planner.sweep_dir) == {record.best}


def test_readers_never_delete(tmp_path: Path) -> None:
    from raygrid.sweep.driver import SWEEP_FILE, sweep_status

    spec = _spec(tmp_path)
    sweep = tmp_path / spec.name
    planner = Planner(spec, sweep)
    units = _drain(planner, hook=False)
    (sweep / SWEEP_FILE).write_text(json.dumps({"spec": spec.normalised()}))
    progress = sweep_status(sweep)
    assert progress["done"] == progress["total"]
    assert _checkpoints(Location.of(sweep)) == {u.key for u in units}


def test_retention_on_s3_deletes_marker_first_and_leaves_only_what_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("moto.server", reason="needs the dev extra (moto[server])")
    from raygrid.testing.s3server import local_s3, object_keys

    bucket = "raygrid-retention"
    with local_s3(bucket) as env:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "cache"))
        sweep = Location.of(f"s3://{bucket}/runs/t")
        planner = Planner(_spec(str(tmp_path), storage=f"s3://{bucket}/runs"), sweep)
        first, second = planner.next_unit(), planner.next_unit()
        _finish(planner, first, hook=False)  # type: ignore[arg-type]
        _finish(planner, second, hook=False)  # type: ignore[arg-type]
        order: list[str] = []
        real_remove, real_rmtree = Location.remove, Location.rmtree
        monkeypatch.setattr(Location, "remove", lambda self: (order.append(f"remove {self.name}"), real_remove(self))[1])
        monkeypatch.setattr(Location, "rmtree", lambda self: (order.append(f"rmtree {self.name}"), real_rmtree(self))[1])
        record = retention.retain(planner, first.cell_key)  # type: ignore[union-attr]
        assert record is not None and record.complete and len(record.delete) == 1
        assert order == [f"remove {retention.CHECKPOINT_MARKER}", f"rmtree {record.delete[0]}"]
        monkeypatch.setattr(Location, "remove", real_remove)
        monkeypatch.setattr(Location, "rmtree", real_rmtree)
        _drain(planner)
        # (pyarrow leaves an empty "checkpoints/" marker object behind when it deletes a folder's last child)
        checkpoints = {k.split("/")[3] for k in object_keys(env, bucket) if k.startswith("runs/t/checkpoints/")} - {""}
        assert checkpoints == _expected(planner)


def test_a_folder_started_before_the_field_existed_resumes(tmp_path: Path) -> None:
    from raygrid.sweep.driver import SWEEP_FILE, _check_same, started_spec

    spec = _spec(tmp_path)
    old = spec.normalised()
    del old["checkpoints"]  # what sweep.json held before checkpoints.keep existed
    sweep = Location.of(tmp_path / "old")
    (sweep / SWEEP_FILE).write_text(json.dumps({"fingerprint": spec.fingerprint(), "spec": old}))
    started = started_spec(sweep)
    assert started.checkpoints == spec.checkpoints
    for policy in ("best", "all"):
        _check_same(started, _spec(tmp_path, checkpoints={"keep": policy}), sweep)  # no ConfigError


def test_a_storage_error_postpones_the_deletions_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    units = [planner.next_unit() for _ in range(2)]
    _finish(planner, units[0])  # type: ignore[arg-type]

    def unreachable(self: Location) -> None:
        raise OSError("S3: connection reset")

    monkeypatch.setattr(Location, "rmtree", unreachable)
    _finish(planner, units[1])  # type: ignore[arg-type]  # no error: the writer goes on
    record = RetentionRecord.read(planner.sweep_dir, units[0].cell_key)  # type: ignore[union-attr]
    assert record is not None and not record.complete and len(record.delete) == 1
    monkeypatch.undo()
    assert [r.complete for r in retention.resume(Planner(_spec(tmp_path), tmp_path / "s"))] == [True]
    assert _leftovers(planner.sweep_dir) == {record.best}
