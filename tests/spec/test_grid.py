"""Grid expansion: cell counts, shared intermediate cells, dependencies, stable keys."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from raygrid.grid import Cell, Grid, Stage, expand
from raygrid.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]

SPEC: dict[str, Any] = {
    "name": "grid",
    "model": {"name_or_path": "tiny"},
    "data": {"source": "bundled", "max_train_examples": 48},
    "intermediates": ["none", "mnli", "all"],
    "targets": [{"task": "xnli", "languages": ["de", "sw"]}, {"task": "pawsx", "languages": ["de", "ja"]}],
    "search_space": {
        "intermediate": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}},
        "target": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}, "batch_size": 16},
    },
    "n_trials": {"intermediate": 2, "target": 3},
    "confirm": {"seeds": [0, 1]},
}


def grid_of(change: Any = None) -> Grid:
    data = copy.deepcopy(SPEC)
    if change is not None:
        change(data)
    return expand(parse_spec(data))


def keys(grid: Grid, stage: Stage) -> dict[str, str]:
    return {cell.name: cell.key for cell in grid.cells_of(stage)}


def test_demo_shaped_grid() -> None:
    grid = grid_of()
    inter, targets, confirm = (grid.cells_of(s) for s in Stage)
    assert [c.name for c in inter] == ["mnli", "all"]
    assert [c.name for c in targets] == [
        "none -> xnli", "none -> pawsx", "mnli -> xnli", "mnli -> pawsx", "all -> xnli", "all -> pawsx",
    ]  # fmt: skip
    assert len(confirm) == 6 * 2 and {c.seed for c in confirm} == {0, 1}
    assert grid.n_trials == 2 * 2 + 6 * 3
    assert grid.summary()["cells"] == {"intermediate": 2, "target": 6, "confirm": 12}

    mnli, all_ = inter
    assert mnli.tasks == ("mnli",) and mnli.languages == ("en",) and mnli.n_trials == 2 and mnli.depends_on == ()
    assert len(all_.tasks) == 10 and list(all_.tasks) == sorted(all_.tasks)
    for cell in targets:
        assert cell.tasks == (cell.target,) and cell.n_trials == 3
        expected = () if cell.intermediate == "none" else (keys(grid, Stage.INTERMEDIATE)[cell.intermediate],)
        assert cell.depends_on == expected
    assert targets[0].languages == ("de", "sw") and targets[1].languages == ("de", "ja")
    for cell in confirm:
        parent = grid.by_key[cell.depends_on[0]]
        assert parent.stage is Stage.TARGET and (parent.intermediate, parent.target) == (cell.intermediate, cell.target)
        assert cell.n_trials == 0 and cell.search_space is None and cell.languages == parent.languages


def test_intermediate_cells_are_shared_by_their_targets() -> None:
    grid = grid_of()
    for cell in grid.cells_of(Stage.INTERMEDIATE):
        assert [d.name for d in grid.dependents(cell.key)] == [f"{cell.name} -> xnli", f"{cell.name} -> pawsx"]
    target = grid.cells_of(Stage.TARGET)[0]
    assert [d.seed for d in grid.dependents(target.key)] == [0, 1]
    assert grid.dependents(grid.cells_of(Stage.CONFIRM)[0].key) == ()
    with pytest.raises(KeyError):
        grid.dependents("no-such-key")


def test_order_is_topological_and_keys_unique() -> None:
    grid = grid_of()
    assert grid.order == tuple(c.key for c in grid.cells) and len(set(grid.order)) == len(grid.cells)
    position = {key: i for i, key in enumerate(grid.order)}
    for cell in grid.cells:
        assert all(position[parent] < position[cell.key] for parent in cell.depends_on)
        assert grid.by_key[cell.key] is cell


def test_paper_grid_shares_intermediate_checkpoints() -> None:
    spec = load_spec(ROOT / "search_spaces" / "xstilts.yaml")
    grid = expand(spec)
    inter = grid.cells_of(Stage.INTERMEDIATE)
    targets = grid.cells_of(Stage.TARGET)
    assert len(inter) == 10  # nine tasks + all, not 90 pairings
    assert len(targets) == 11 * 9
    for cell in inter:
        assert len(grid.dependents(cell.key)) == 9
    retrieval = [c for c in targets if c.target in ("bucc", "tatoeba")]
    assert len(retrieval) == 22
    for cell in retrieval:
        assert cell.evaluate_only and cell.n_trials == 0 and cell.search_space is None
        assert [d.seed for d in grid.dependents(cell.key)] == [spec.confirm.seeds[0]]
    trainable = [c for c in targets if not c.evaluate_only]
    assert all(c.n_trials == spec.n_trials.target for c in trainable)
    udpos = next(c for c in trainable if c.target == "udpos")
    assert udpos.search_space is not None and udpos.search_space.num_epochs.grid_values() == (5, 10, 15)  # type: ignore[union-attr]
    assert len(grid.cells_of(Stage.CONFIRM)) == 77 * 3 + 22


def test_keys_are_stable_across_runs_and_processes(tmp_path: Path) -> None:
    assert keys(grid_of(), Stage.TARGET) == keys(grid_of(), Stage.TARGET)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))
    code = (
        "import json, sys\n"
        "from raygrid.grid import expand\n"
        "from raygrid.spec import parse_spec\n"
        "print(json.dumps(expand(parse_spec(json.load(open(sys.argv[1])))).order))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(spec_file)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "123")
    ]  # fmt: skip
    assert json.loads(runs[0]) == json.loads(runs[1]) == list(grid_of().order)


def test_keys_change_with_what_determines_the_cell() -> None:
    base = grid_of()
    # The intermediate space: its cells and every target starting from them change; the baseline does not.
    wider = grid_of(lambda d: d["search_space"]["intermediate"]["learning_rate"].update(high=1e-2))
    changed = {name for name, key in keys(wider, Stage.TARGET).items() if key != keys(base, Stage.TARGET)[name]}
    assert changed == {"mnli -> xnli", "mnli -> pawsx", "all -> xnli", "all -> pawsx"}
    assert set(keys(wider, Stage.INTERMEDIATE).values()).isdisjoint(keys(base, Stage.INTERMEDIATE).values())
    # The target space: target cells change, intermediate cells do not.
    narrower = grid_of(lambda d: d["search_space"]["target"].update(batch_size=32))
    assert keys(narrower, Stage.INTERMEDIATE) == keys(base, Stage.INTERMEDIATE)
    assert set(keys(narrower, Stage.TARGET).values()).isdisjoint(keys(base, Stage.TARGET).values())
    # Trials, data caps and the sampler seed change every training cell.
    for change in (
        lambda d: d["n_trials"].update(intermediate=3),
        lambda d: d["data"].update(max_train_examples=100),
        lambda d: d.update(sampler={"seed": 7}),
    ):
        other = grid_of(change)
        assert keys(other, Stage.INTERMEDIATE) != keys(base, Stage.INTERMEDIATE)
    # A per-task training cap changes the cells' keys; none set hashes as before the field existed.
    capped = grid_of(lambda d: d["data"].update(max_train_examples_per_task={"xnli": 8}))
    assert set(keys(capped, Stage.TARGET).values()).isdisjoint(keys(base, Stage.TARGET).values())
    assert "max_train_examples_per_task" not in parse_spec(copy.deepcopy(SPEC)).data.key_fields()
    # Evaluation languages: only confirm units (model selection is on English dev data).
    fewer = grid_of(lambda d: d["targets"][0].update(languages=["de"]))
    assert keys(fewer, Stage.TARGET) == keys(base, Stage.TARGET)
    assert keys(fewer, Stage.CONFIRM) != keys(base, Stage.CONFIRM)
    # Where and how wide it runs: no key changes.
    moved = grid_of(lambda d: d.update(storage="s3://bucket/x", resources={"num_workers": 2}, name="other"))
    assert moved.order == base.order


def test_schema_version_is_part_of_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import raygrid.grid

    base = grid_of()
    monkeypatch.setattr(raygrid.grid, "SCHEMA_VERSION", 10_000)
    assert set(grid_of().order).isdisjoint(base.order)


def test_baseline_only_grid_has_no_intermediate_cells() -> None:
    grid = grid_of(lambda d: d.update(intermediates=["none"]))
    assert grid.cells_of(Stage.INTERMEDIATE) == ()
    assert all(c.depends_on == () for c in grid.cells_of(Stage.TARGET))


def test_mixture_cell() -> None:
    grid = grid_of(lambda d: d.update(intermediates=["squad_v2+mnli"]))
    (cell,) = grid.cells_of(Stage.INTERMEDIATE)
    assert cell.intermediate == "squad_v2+mnli" and cell.tasks == ("mnli", "squad_v2")


def test_grid_and_spec_pickle() -> None:
    import pickle

    spec = parse_spec(copy.deepcopy(SPEC), source="s.yaml")
    grid = expand(spec)
    again = pickle.loads(pickle.dumps(grid))
    assert again == grid and again.order == grid.order
    assert [c.name for c in again.dependents(grid.order[0])] == [c.name for c in grid.dependents(grid.order[0])]
    copy_ = pickle.loads(pickle.dumps(spec))
    assert copy_ == spec and copy_.fingerprint() == spec.fingerprint()


def test_grid_refuses_inconsistent_cells() -> None:
    cell = grid_of().cells[0]
    with pytest.raises(ValueError, match="two cells"):
        Grid.of((cell, cell))
    orphan = Cell("k", Stage.TARGET, "mnli", "xnli", ("xnli",), ("missing",), None, 0, ("de",))
    with pytest.raises(ValueError, match="depends on"):
        Grid.of((orphan,))
