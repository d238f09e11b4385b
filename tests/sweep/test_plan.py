"""The planner without Ray: order, budgets, dependencies, determinism, orphans."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from raygrid.grid import Stage
from raygrid.spec import parse_spec
from raygrid.store import ResultRow, write_run
from raygrid.sweep.plan import FINISHED, Planner, TrialRecord, Unit, UnitKind


def _spec(tmp_path: Path, **extra: Any):  # type: ignore[no-untyped-def]
    data = {
        "name": "t",
        "model": {"name_or_path": "m"},
        "data": {"source": "bundled"},
        "intermediates": ["none", "mnli"],
        "targets": [{"task": "xnli", "languages": ["de"]}, {"task": "bucc", "languages": ["de"]}],
        "search_space": {
            "intermediate": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
            "target": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
        },
        "n_trials": {"intermediate": 2, "target": 2},
        "confirm": {"seeds": [0, 1]},
        "storage": str(tmp_path),
        **extra,
    }
    return parse_spec(data)


def _objective(unit: Unit) -> float:
    return -abs(math.log10(unit.params["learning_rate"]) + 4)  # best near 1e-4


def _finish(planner: Planner, unit: Unit) -> None:
    if unit.kind is UnitKind.TRIAL:
        record = TrialRecord(unit.key, "complete", _objective(unit), checkpoint=f"ckpt/{unit.key}")
        record.write(planner.sweep_dir)
        planner.complete(unit, record)
    else:
        row = ResultRow(run_key=unit.key, task="x", language="de", split="test", metric="accuracy", value=0.5)
        write_run(planner.sweep_dir / "results", unit.key, [row])
        planner.complete(unit, TrialRecord(unit.key, "complete", None))


def _drain(planner: Planner) -> list[Unit]:
    done: list[Unit] = []
    while True:
        unit = planner.next_unit()
        if unit is FINISHED:
            return done
        assert isinstance(unit, Unit), "a sequential sweep never waits"
        _finish(planner, unit)
        done.append(unit)


def test_sequential_sweep_runs_every_unit_once_in_dependency_order(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "sweep")
    units = _drain(planner)
    kinds = [(planner.grid.by_key[u.cell_key].stage, u.kind) for u in units]
    # 1 intermediate cell x 2 trials, 2 trainable target cells x 2 trials,
    # 2 xnli cells x 2 seeds + 2 bucc cells x 1 unit of confirm
    assert len(units) == 2 + 4 + 6
    assert kinds[:2] == [(Stage.INTERMEDIATE, UnitKind.TRIAL)] * 2
    assert len({u.key for u in units}) == len(units)
    mnli_target = [u for u in units if planner.grid.by_key[u.cell_key].stage is Stage.TARGET and u.parent_checkpoint]
    best = max(units[:2], key=_objective)
    assert mnli_target and all(u.parent_checkpoint == str(planner.sweep_dir / "checkpoints" / best.key) for u in mnli_target)
    progress = planner.progress()
    assert progress["done"] == progress["total"] and progress["failures"] == 0


def test_same_spec_same_trials_and_a_resumed_planner_continues(tmp_path: Path) -> None:
    a = [(u.cell_key, u.params, u.key) for u in _drain(Planner(_spec(tmp_path), tmp_path / "a"))]
    # interrupted after 3 units: the second planner picks up from the journal
    first = Planner(_spec(tmp_path), tmp_path / "b")
    head = []
    for _ in range(3):
        unit = first.next_unit()
        assert isinstance(unit, Unit)
        _finish(first, unit)
        head.append(unit)
    tail = _drain(Planner(_spec(tmp_path), tmp_path / "b"))
    assert [(u.cell_key, u.params, u.key) for u in head + tail] == a


def test_orphaned_running_trial_is_asked_again_with_the_same_params(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    unit = planner.next_unit()
    assert isinstance(unit, Unit)
    # the driver dies: the trial is RUNNING in the journal, no Tune trial survives
    again = Planner(_spec(tmp_path), tmp_path / "s").next_unit()
    assert isinstance(again, Unit) and again.params == unit.params and again.key == unit.key
    assert again.trial_number != unit.trial_number


def test_an_orphan_whose_later_sibling_finished_is_asked_again_and_not_the_sibling(tmp_path: Path) -> None:
    """Two trials of a cell in flight; the second finishes, the driver is killed
    before the first does. The resumed writer must ask the first one's place
    again (its unit, its params), not the second's: asking place "number of
    counted trials" re-ran the finished sibling and lost the orphan's unit
    (the fault e2e test's seeded kills, 2026-12-07)."""
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    first = planner.next_unit()
    second = planner.next_unit()
    assert isinstance(first, Unit) and isinstance(second, Unit) and first.cell_key == second.cell_key
    planner.complete(second, TrialRecord(second.key, "complete", 0.5, checkpoint="c"))
    resumed = Planner(_spec(tmp_path), tmp_path / "s")  # kill -9, then a new writer
    again = resumed.next_unit()
    assert isinstance(again, Unit) and again.cell_key == first.cell_key
    assert again.key == first.key and again.params == first.params
    assert again.key != second.key


def test_an_orphan_asked_again_keeps_its_reported_values_for_the_pruner(tmp_path: Path) -> None:
    spec = _spec(tmp_path, early_stopping={"type": "median", "min_resource": 1})
    planner = Planner(spec, tmp_path / "s")
    unit = planner.next_unit()
    assert isinstance(unit, Unit)
    planner.report(unit, 1, 0.4)
    planner.report(unit, 2, 0.5)  # then kill -9; its Train run has a checkpoint at step 2
    for restart in range(2):  # killed again after the first resume: nothing is lost either
        planner = Planner(spec, tmp_path / "s")
        again = planner.next_unit()
        assert isinstance(again, Unit) and again.key == unit.key
        cell = planner.grid.by_key[again.cell_key]
        trial = planner.study(cell).trials[int(again.trial_number or 0)]
        assert trial.intermediate_values == {1: 0.4, 2: 0.5}
    other = planner.next_unit()  # a different unit starts with nothing
    assert isinstance(other, Unit) and other.key != unit.key
    assert planner.study(cell).trials[int(other.trial_number or 0)].intermediate_values == {}


def test_tied_trials_select_the_same_best_whether_or_not_the_sweep_was_killed(tmp_path: Path) -> None:
    """Two trials of a cell tie (a small eval set gives few distinct scores).
    Uninterrupted, place 0 wins the tie. Killed while place 0 ran, place 0 is
    asked again under a higher trial number than place 1: it must still win,
    or the selected model and the checkpoints kept depend on the kill (the
    fault e2e test's seeded kills, CI of 2026-12-07)."""
    reference = Planner(_spec(tmp_path), tmp_path / "a")
    a0, a1 = reference.next_unit(), reference.next_unit()
    assert isinstance(a0, Unit) and isinstance(a1, Unit)
    for unit in (a0, a1):
        reference.complete(unit, TrialRecord(unit.key, "complete", 0.5, checkpoint="c"))
    cell = reference.grid.by_key[a0.cell_key]
    assert reference.best_trial(cell).user_attrs["raygrid_unit"] == a0.key  # type: ignore[union-attr]

    killed = Planner(_spec(tmp_path), tmp_path / "b")
    b0, b1 = killed.next_unit(), killed.next_unit()
    assert isinstance(b0, Unit) and isinstance(b1, Unit)
    killed.complete(b1, TrialRecord(b1.key, "complete", 0.5, checkpoint="c"))  # then kill -9 while b0 runs
    resumed = Planner(_spec(tmp_path), tmp_path / "b")
    again = resumed.next_unit()
    assert isinstance(again, Unit) and again.key == a0.key
    assert (again.trial_number or 0) > (b1.trial_number or 0)
    resumed.complete(again, TrialRecord(again.key, "complete", 0.5, checkpoint="c"))
    assert resumed.best_trial(cell).user_attrs["raygrid_unit"] == a0.key  # type: ignore[union-attr]


def test_a_finished_but_untold_trial_is_told_from_its_record(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    unit = planner.next_unit()
    assert isinstance(unit, Unit)
    TrialRecord(unit.key, "complete", 0.7, checkpoint="c").write(planner.sweep_dir)  # then kill -9
    restored = Planner(_spec(tmp_path), tmp_path / "s")
    cell = restored.grid.by_key[unit.cell_key]
    assert restored.best_trial(cell).value == pytest.approx(0.7)  # type: ignore[union-attr]


def test_failed_intermediate_cell_blocks_its_dependents(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path), tmp_path / "s")
    seen = []
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        seen.append(unit)
        if planner.grid.by_key[unit.cell_key].stage is Stage.INTERMEDIATE:
            planner.complete(unit, TrialRecord(unit.key, "failed", None, error="boom"))
        else:
            _finish(planner, unit)
    blocked = [c for c in planner.progress()["cells"] if c["status"] == "blocked"]
    assert len(blocked) == 2 + 3  # mnli->xnli, mnli->bucc and their 3 confirm units
    assert all(planner.grid.by_key[u.cell_key].intermediate == "none" for u in seen[2:])


def test_concurrent_asks_wait_for_dependencies(tmp_path: Path) -> None:
    planner = Planner(_spec(tmp_path, intermediates=["mnli"], targets=[{"task": "xnli", "languages": ["de"]}]), tmp_path / "s")
    first, second = planner.next_unit(), planner.next_unit()
    assert isinstance(first, Unit) and isinstance(second, Unit)
    assert planner.next_unit() is None  # the target cell waits for its intermediate cell
    _finish(planner, first)
    assert planner.next_unit() is None
    _finish(planner, second)
    assert isinstance(planner.next_unit(), Unit)


def test_pruning_compares_trials_of_the_same_cell_only(tmp_path: Path) -> None:
    """Two target cells with very different scales: the median pruner of one
    cell must not stop a trial because another cell's values are higher."""
    spec = _spec(
        tmp_path,
        intermediates=["none"],
        targets=[{"task": "xnli", "languages": ["de"]}, {"task": "pawsx", "languages": ["de"]}],
        n_trials={"intermediate": 1, "target": 4},
        early_stopping={"type": "median", "min_resource": 1, "n_startup_trials": 2},
    )
    planner = Planner(spec, tmp_path / "s")
    xnli, pawsx = planner.grid.cells_of(Stage.TARGET)
    high = {xnli.key: 0.9, pawsx.key: 0.1}  # pawsx is a much "harder" cell
    pruned: list[tuple[str, int]] = []
    for _ in range(8):
        unit = planner.next_unit()
        assert isinstance(unit, Unit)
        cell_value = high[unit.cell_key] + 0.01 * int(unit.trial_number or 0)  # later trials a bit better
        if planner.report(unit, 1, cell_value):
            pruned.append((unit.cell_key, int(unit.trial_number or 0)))
            planner.complete(unit, TrialRecord(unit.key, "pruned", None))
        else:
            TrialRecord(unit.key, "complete", cell_value, checkpoint="c").write(planner.sweep_dir)
            planner.complete(unit, TrialRecord(unit.key, "complete", cell_value, checkpoint="c"))
    # every trial improves on its own cell's earlier ones: nothing is pruned,
    # although every pawsx value is below every xnli value
    assert pruned == []
    # a trial that is worse than its own cell's median is pruned
    spec2 = _spec(
        tmp_path,
        intermediates=["none"],
        targets=[{"task": "xnli", "languages": ["de"]}],
        n_trials={"intermediate": 1, "target": 4},
        early_stopping={"type": "median", "min_resource": 1, "n_startup_trials": 2},
    )
    planner = Planner(spec2, tmp_path / "t")
    decisions = []
    for value in (0.8, 0.9, 0.1):
        unit = planner.next_unit()
        assert isinstance(unit, Unit)
        decisions.append(planner.report(unit, 1, value))
        planner.complete(unit, TrialRecord(unit.key, "complete", value, checkpoint="c"))
    assert decisions == [False, False, True]


def test_the_planner_builds_samplers_and_pruners_through_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pruner registered in raygrid.sweep.search (here: one that stops every
    trial once ``patience`` values are reported) is what a cell's study uses;
    its option comes from the spec."""
    import optuna

    from raygrid.sweep import search

    class Impatient(optuna.pruners.BasePruner):
        def __init__(self, patience: int) -> None:
            self.patience = patience

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            return len(trial.intermediate_values) >= self.patience

    algorithm = search.SearchAlgorithm(
        "impatient",
        lambda options, _context: Impatient(options["patience"]),
        options={"patience": search.Option(int, 2, "an integer >= 1", lambda v: v >= 1)},
        key_fields=("patience",),
    )
    monkeypatch.setitem(search._PRUNERS, "impatient", algorithm)
    spec = _spec(tmp_path, intermediates=["none"], targets=[{"task": "xnli", "languages": ["de"]}],
                 early_stopping={"type": "impatient", "patience": 3})  # fmt: skip
    planner = Planner(spec, tmp_path / "s")
    unit = planner.next_unit()
    assert isinstance(unit, Unit) and unit.kind is UnitKind.TRIAL
    assert [planner.report(unit, step, 0.5) for step in range(4)] == [False, False, True, True]
