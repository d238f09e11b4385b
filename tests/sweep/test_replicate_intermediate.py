"""``confirm.replicate_intermediate``, end to end in-process (no Ray) on the tiny model.

Each confirm seed of a target that starts from an intermediate retrains
that intermediate (its cell's selected config, the seed) into the seed's own
checkpoint, trained once and shared by every target of the intermediate,
and trains its target phase from it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from raygrid.grid import Stage
from raygrid.layout import CHECKPOINT_MARKER
from raygrid.spec import parse_spec
from raygrid.sweep import retention
from raygrid.sweep.plan import FINISHED, Planner, TrialRecord, Unit, UnitKind
from raygrid.sweep.work import UnitContext, run_unit
from raygrid.train.loop import Placement
from raygrid.unit import phases


def replicating_spec(model: Path, storage: Path) -> Any:
    space = {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        "num_epochs": 1,
        "batch_size": 16,
        "max_seq_length": 48,
    }
    return parse_spec(
        {
            "name": "rep",
            "model": {"name_or_path": str(model)},
            "data": {"source": "bundled", "max_train_examples": 32, "max_eval_examples": 8},
            "intermediates": ["none", "mnli"],
            "targets": [{"task": "xnli", "languages": ["de"]}, {"task": "pawsx", "languages": ["de"]}],
            "search_space": {"intermediate": space, "target": space},
            "n_trials": {"intermediate": 2, "target": 1},
            "confirm": {"seeds": [3, 4], "replicate_intermediate": True},
            "storage": str(storage),
        }
    )


def meta_of(checkpoint: Path | str) -> dict[str, Any]:
    return dict(json.loads((Path(checkpoint) / CHECKPOINT_MARKER).read_text()))


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the phases trained, by checkpoint key."""
    counts: Counter[str] = Counter()
    real = phases.train

    def counting(phase: phases.Phase, *args: Any, **kwargs: Any) -> Any:
        counts[phase.key] += 1
        return real(phase, *args, **kwargs)

    monkeypatch.setattr(phases, "train", counting)
    return counts


def test_confirm_seeds_retrain_their_intermediate_once_and_start_from_it(
    tiny_model_dir: Path, tmp_path: Path, trainings: Counter[str]
) -> None:
    spec = replicating_spec(tiny_model_dir, tmp_path)
    sweep = tmp_path / "rep"
    planner = Planner(spec, sweep)
    grid = planner.grid
    records: dict[str, TrialRecord] = {}
    # Hand out everything that can run at once (as concurrent trials would), then run it.
    while True:
        batch = []
        while isinstance(unit := planner.next_unit(), Unit):
            batch.append(unit)
        if not batch:
            assert unit is FINISHED
            break
        shared = [grid.by_key[u.cell_key].replicated_intermediate for u in batch if u.kind is UnitKind.CONFIRM]
        shared = [r for r in shared if r is not None]
        assert len(shared) == len(set(shared)), "two units at once on one seed's intermediate"
        for unit in batch:
            records[unit.key] = run_unit(UnitContext(spec, sweep, unit, grid.by_key[unit.cell_key]), Placement())
            planner.complete(unit, records[unit.key])
            retention.retain(planner, unit.cell_key)
    assert planner.progress()["done"] == len(grid.cells)

    inter = grid.cells_of(Stage.INTERMEDIATE)[0]
    best = planner.best_trial(inter)
    assert best is not None
    selected = str(best.user_attrs["raygrid_checkpoint"])
    replicas = grid.replicated_intermediates()
    assert len(replicas) == 2  # mnli x seeds 3, 4: shared by xnli and pawsx
    for key in replicas:
        assert trainings[key] == 1  # trained once, by the first of its units
    for cell in grid.cells_of(Stage.CONFIRM):
        record = records[cell.key]
        target_meta = meta_of(record.checkpoint or "")
        if cell.intermediate == "none":
            assert cell.replicated_intermediate is None and record.replicated_intermediate is None
            assert target_meta["parent"] is None
            continue
        own = sweep / "checkpoints" / str(cell.replicated_intermediate)
        assert record.replicated_intermediate == str(own) == target_meta["parent"]
        own_meta = meta_of(own)
        # the selected config, with the confirm seed; the intermediate cell's own; from the pretrained model
        assert own_meta["kind"] == "intermediate" and own_meta["cell"] == inter.key and own_meta["parent"] is None
        assert own_meta["train"] == {**meta_of(selected)["train"], "seed": cell.seed}
        assert own_meta["tasks"] == ["mnli"] and target_meta["train"]["seed"] == cell.seed
    # keep: best deleted the losing intermediate trial, never a seed's intermediate or the selected one
    losers = [str(t.user_attrs["raygrid_checkpoint"]) for t in planner._trials(inter) if t.number != best.number]
    assert losers and not any((Path(p) / CHECKPOINT_MARKER).is_file() for p in losers)
    assert (Path(selected) / CHECKPOINT_MARKER).is_file()
    assert all((sweep / "checkpoints" / key / CHECKPOINT_MARKER).is_file() for key in replicas)


def test_a_killed_unit_reuses_the_seeds_intermediate_it_had_trained(
    tiny_model_dir: Path, tmp_path: Path, trainings: Counter[str]
) -> None:
    spec = replicating_spec(tiny_model_dir, tmp_path)
    sweep = tmp_path / "rep"
    planner = Planner(spec, sweep)
    done: list[Unit] = []
    while isinstance(unit := planner.next_unit(), Unit):
        planner.complete(unit, run_unit(UnitContext(spec, sweep, unit, planner.grid.by_key[unit.cell_key]), Placement()))
        done.append(unit)
    owner_cell = next(iter(planner.grid.replicated_intermediates().values()))
    owner = next(u for u in done if u.key == owner_cell.key)
    # a kill after the seed's intermediate was written, before the target phase's checkpoint and rows
    import shutil

    shutil.rmtree(sweep / "checkpoints" / owner.key)
    (sweep / "trials" / f"{owner.key}.json").unlink()
    (sweep / "results" / "_runs" / f"{owner.key}.json").unlink()
    trainings.clear()
    record = run_unit(UnitContext(spec, sweep, owner, owner_cell), Placement())
    assert record.status == "complete"
    assert dict(trainings) == {owner.key: 1}  # the target phase only
    assert record.replicated_intermediate == str(sweep / "checkpoints" / str(owner_cell.replicated_intermediate))



#: One of two data-parallel ranks (gloo, CPU) running a confirm unit: argv is
#: rank, the sweep folder, the unit's key, the rendezvous file, the output folder.
RANK_SCRIPT = """
import json, sys
from pathlib import Path
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from raygrid.sweep.folder import started_spec
from raygrid.storage import Location
from raygrid.grid import expand
from raygrid.sweep.plan import Unit
from raygrid.sweep.work import UnitContext, run_unit
from raygrid.train.loop import Placement

rank, sweep, key, rendezvous, out = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5])
spec = started_spec(Location.of(sweep))
unit = Unit.from_config(json.loads((out / "unit.json").read_text()))
cell = expand(spec).by_key[key]
dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=2)
placement = Placement(rank=rank, world_size=2, wrap=lambda model: DistributedDataParallel(model))
record = run_unit(UnitContext(spec, sweep, unit, cell), placement)
dist.destroy_process_group()
(out / f"rank{rank}.json").write_text(json.dumps({"status": record.status, "replica": record.replicated_intermediate}))
"""


@pytest.mark.slow  # two processes of torch on 2 CPUs: about 2 minutes
def test_two_ranks_train_a_mixtures_seed_intermediate_then_the_target_from_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    spec = replicating_spec(tiny_model_dir, tmp_path)
    spec = spec.replace(
        intermediates=["mnli+anli"],
        targets=[{"task": "xnli", "languages": ["de"]}],
        n_trials={"intermediate": 1, "target": 1},
        confirm={"seeds": [5], "replicate_intermediate": True},
    )
    sweep = tmp_path / "rep"
    planner = Planner(spec, sweep)
    units: list[Unit] = []
    while isinstance(unit := planner.next_unit(), Unit):
        cell = planner.grid.by_key[unit.cell_key]
        if cell.stage is Stage.CONFIRM:
            units.append(unit)  # run below, on two ranks
            continue
        planner.complete(unit, run_unit(UnitContext(spec, sweep, unit, cell), Placement()))
    (unit,) = units
    cell = planner.grid.by_key[unit.cell_key]
    own = sweep / "checkpoints" / str(cell.replicated_intermediate)
    assert not own.exists()
    (sweep / "sweep.json").write_text(json.dumps({"spec": spec.normalised()}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "unit.json").write_text(json.dumps(unit.to_config()))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    args = [str(sweep), unit.key, f"file://{tmp_path / 'rendezvous'}", str(out)]
    ranks = [subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(r), *args], env=env) for r in (0, 1)]
    try:
        assert [p.wait(timeout=300) for p in ranks] == [0, 0]
    finally:
        for p in ranks:
            p.kill()
    results = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert results == [{"status": "complete", "replica": str(own)}] * 2
    assert meta_of(own)["tasks"] == ["anli", "mnli"] and meta_of(own)["train"]["seed"] == 5
    assert meta_of(sweep / "checkpoints" / unit.key)["parent"] == str(own)
