"""One unit-of-work pipeline (raygrid.unit): `raygrid cell` and a sweep's units
share keys, so a checkpoint either trains is reused by the other.

"The same configuration": the cell's model, data, caps, seed and
hyper-parameters, written as a sweep spec whose search space fixes those
hyper-parameters, with one trial per stage and the default sampler, pruner
and direction (:mod:`raygrid.unit.cellsweep`). The cell's intermediate and
target checkpoints are that sweep's first intermediate and target trials.
No Ray: the sweep's units run in-process, as in tests/sweep/test_work.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from raygrid.cell import CellSpec, Overrides, run_cell
from raygrid.grid import Stage, expand
from raygrid.spec import SweepSpec, parse_spec
from raygrid.store import read_rows
from raygrid.sweep.plan import Planner, TrialRecord, Unit, UnitKind
from raygrid.sweep.work import UnitContext, run_unit
from raygrid.tasks import DataSources
from raygrid.train.loop import Placement
from raygrid.unit import doc_stride, eval_settings, trial_key
from raygrid.unit.cellsweep import cell_units, sweep_of

SOURCES = DataSources(bundled=True)
FAST = Overrides(learning_rate=5e-4, num_epochs=1.0, batch_size=8, max_seq_length=32)
LANGUAGES = ("de",)


def _cell(model: Path) -> CellSpec:
    return CellSpec(
        model=str(model), intermediate="mnli", target="pawsx", languages=LANGUAGES, seed=0,
        max_train_examples=8, max_eval_examples=4, overrides=FAST,
    )  # fmt: skip


def _sweep(model: Path, storage: Path) -> SweepSpec:
    """The cell's configuration as a user writes it in a spec."""
    fixed = {"learning_rate": 5e-4, "num_epochs": 1.0, "batch_size": 8, "max_seq_length": 32}
    return parse_spec(
        {
            "name": "same",
            "model": {"name_or_path": str(model)},
            "data": {"source": "bundled", "max_train_examples": 8, "max_eval_examples": 4},
            "intermediates": ["mnli"],
            "targets": [{"task": "pawsx", "languages": list(LANGUAGES)}],
            "search_space": {"intermediate": fixed, "target": fixed},
            "n_trials": {"intermediate": 1, "target": 1},
            "confirm": {"seeds": [0]},
            "storage": str(storage),
            "seed": 0,
        }
    )


def _trial_units(spec: SweepSpec, folder: Path) -> list[tuple[Unit, TrialRecord]]:
    """The sweep's intermediate and target trials, run in-process."""
    planner = Planner(spec, folder)
    out = []
    for stage in (Stage.INTERMEDIATE, Stage.TARGET):
        unit = planner.next_unit()
        assert isinstance(unit, Unit) and unit.kind is UnitKind.TRIAL
        cell = planner.grid.by_key[unit.cell_key]
        assert cell.stage is stage
        record = run_unit(UnitContext(spec, folder, unit, cell), Placement())
        planner.complete(unit, record)
        out.append((unit, record))
    return out


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import raygrid.cell

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a phase trained although its checkpoint was there")

    monkeypatch.setattr(raygrid.cell, "phase_model", refuse)


def test_a_cell_is_the_first_trials_of_its_one_cell_sweep(tmp_path: Path) -> None:
    cell = _cell(tmp_path / "model")
    spec = sweep_of(
        model=cell.model, intermediate=cell.intermediate, target=cell.target, languages=LANGUAGES,
        params={k: v for k, v in asdict(cell.overrides).items() if v is not None}, seed=cell.seed,
        max_train_examples=cell.max_train_examples, max_eval_examples=cell.max_eval_examples, sources=SOURCES,
    )  # fmt: skip
    units = cell_units(spec)
    written = expand(_sweep(tmp_path / "model", tmp_path))
    assert spec.fingerprint() == _sweep(tmp_path / "model", tmp_path).replace(name="cell").fingerprint()
    assert [c.key for c in expand(spec).cells] == [c.key for c in written.cells]
    assert units.intermediate is not None and units.intermediate.key == written.cells_of(Stage.INTERMEDIATE)[0].key
    # the planner asks the sweep's first trial under the cell's key
    planner = Planner(_sweep(tmp_path / "model", tmp_path), tmp_path / "sweep")
    unit = planner.next_unit()
    assert isinstance(unit, Unit) and unit.key == units.intermediate_key
    assert unit.key == trial_key(unit.cell_key, 0, unit.params)
    assert units.target_key == trial_key(written.cells_of(Stage.TARGET)[0].key, 0, units.target_params)


def test_evaluation_settings_follow_the_sequence_length() -> None:
    assert [doc_stride(n) for n in (32, 256, 384, 512)] == [16, 128, 128, 128]
    settings = eval_settings(48, device="cpu", retrieval_layer=3)
    assert (settings.encode.max_seq_length, settings.encode.doc_stride, settings.retrieval_layer) == (48, 24, 3)
    assert eval_settings(device="cpu").encode == type(settings.encode)()  # `raygrid attack`: the defaults


def test_a_sweep_reuses_what_raygrid_cell_trained(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "shared"
    logs: list[str] = []
    cell = run_cell(_cell(tiny_model_dir), folder, SOURCES, device="cpu", log=logs.append)
    assert sum(": training" in line for line in logs) == 2 and cell.reused == []
    assert cell.intermediate_checkpoint is not None and cell.target_checkpoint is not None

    _no_training(monkeypatch)
    (inter, inter_record), (target, target_record) = _trial_units(_sweep(tiny_model_dir, tmp_path), folder)
    assert inter_record.checkpoint == str(cell.intermediate_checkpoint)
    assert target.parent_checkpoint == str(cell.intermediate_checkpoint)
    assert target_record.checkpoint == str(cell.target_checkpoint)
    meta = json.loads((cell.target_checkpoint / "raygrid.json").read_text())
    assert target_record.status == "complete" and target_record.objective == meta["objective"]
    assert target_record.metrics == meta["dev_metrics"]
    # the reused trial's English dev rows are those training would have written
    dev = read_rows(folder / "results", run_keys=[target.key])
    assert {(r["stage"], r["language"], r["split"]) for r in dev} == {("trial", "en", "dev")}
    assert {r["metric"]: r["value"] for r in dev} == {
        k.split("/", 1)[1]: v for k, v in meta["dev_metrics"].items() if "/" in k
    }


def test_raygrid_cell_reuses_what_a_sweep_trained(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sweep"
    (inter, _), (target, _) = _trial_units(_sweep(tiny_model_dir, tmp_path), folder)

    _no_training(monkeypatch)
    logs: list[str] = []
    cell = run_cell(_cell(tiny_model_dir), folder, SOURCES, device="cpu", log=logs.append)
    assert cell.intermediate_checkpoint == folder / "checkpoints" / inter.key
    assert cell.target_checkpoint == folder / "checkpoints" / target.key
    assert cell.reused == [str(cell.intermediate_checkpoint), str(cell.target_checkpoint)]
    assert not any(": training" in line for line in logs)
    assert {r["language"] for r in cell.rows} == set(LANGUAGES) and all(r["stage"] == "cell" for r in cell.rows)
