"""``confirm.replicate_intermediate``: the spec field and its grid.

On by default; off (and every sweep folder's spec written before the
field existed, which reads as off): the grid, the fingerprint and every key
are those of before. On: the confirm
units of a target that starts from an intermediate retrain it per seed
into a checkpoint shared by every target of that intermediate.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raygrid.errors import ConfigError
from raygrid.grid import Grid, Stage, expand
from raygrid.spec import parse_spec
from raygrid.unit.keys import replicate_key

SPEC: dict[str, Any] = {
    "name": "rep",
    "model": {"name_or_path": "tiny"},
    "data": {"source": "bundled", "max_train_examples": 48},
    "intermediates": ["none", "mnli", "all"],
    "targets": [{"task": "xnli", "languages": ["de"]}, {"task": "pawsx", "languages": ["de"]}, {"task": "bucc"}],
    "search_space": {
        "intermediate": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}},
        "target": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}},
    },
    "n_trials": {"intermediate": 2, "target": 2},
    "confirm": {"seeds": [0, 1, 2]},
}


def spec_with(**confirm: Any) -> Any:
    data = copy.deepcopy(SPEC)
    data["confirm"].update(confirm)
    return parse_spec(data, source="rep.yaml")


def grid_with(**confirm: Any) -> Grid:
    return expand(spec_with(**confirm))


@pytest.mark.parametrize("value", ["yes", 1, "true", None, [True]])
def test_a_bad_value_is_one_line_naming_the_file_field_value_and_allowed(value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        spec_with(replicate_intermediate=value)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("rep.yaml: confirm.replicate_intermediate: bad value")
    assert repr(value) in message and message.endswith("allowed: true or false")


def test_off_changes_neither_fingerprint_nor_keys_and_on_is_the_default() -> None:
    unspelled, off, on = spec_with(), spec_with(replicate_intermediate=False), spec_with(replicate_intermediate=True)
    assert unspelled.confirm.replicate_intermediate is True
    assert unspelled.fingerprint() == on.fingerprint() != off.fingerprint()
    assert "replicate_intermediate" not in off.normalised()["confirm"]
    assert on.normalised()["confirm"]["replicate_intermediate"] is True
    legacy = parse_spec(copy.deepcopy(SPEC), source="sweep.json", written=True)  # a folder from before the field
    assert [c.key for c in expand(legacy).cells] == [c.key for c in expand(off).cells]
    assert all(c.replicated_intermediate is None for c in expand(off).cells)
    assert expand(off).summary()["replicated_intermediates"] == 0


def test_on_a_folder_spec_round_trips_through_normalised() -> None:
    on = spec_with(replicate_intermediate=True)
    again = parse_spec(on.normalised(), written=True)
    assert again.confirm.replicate_intermediate is True and again.fingerprint() == on.fingerprint()
    assert any("replicate_intermediate" in line for line in spec_with(replicate_intermediate=False).diff(on))


def test_on_rekeys_only_confirm_units_that_start_from_an_intermediate() -> None:
    off, on = grid_with(replicate_intermediate=False), grid_with(replicate_intermediate=True)
    assert len(off.cells) == len(on.cells)
    for before, after in zip(off.cells, on.cells, strict=True):
        assert (before.stage, before.name) == (after.stage, after.name)
        replicated = after.stage is Stage.CONFIRM and after.intermediate != "none" and not after.evaluate_only
        assert (before.key != after.key) is replicated, after.name
        assert (after.replicated_intermediate is not None) is replicated, after.name
    assert on.summary()["confirm_runs"] == off.summary()["confirm_runs"]


def test_a_seed_shares_its_intermediate_between_targets_and_units_are_chained() -> None:
    grid = grid_with(replicate_intermediate=True)
    inter = {c.intermediate: c for c in grid.cells_of(Stage.INTERMEDIATE)}
    confirm = {c.name: c for c in grid.cells_of(Stage.CONFIRM)}
    for entry in ("mnli", "all"):
        for seed in (0, 1, 2):
            xnli, pawsx = confirm[f"{entry} -> xnli (seed {seed})"], confirm[f"{entry} -> pawsx (seed {seed})"]
            replica = replicate_key(inter[entry].key, seed)
            assert xnli.replicated_intermediate == pawsx.replicated_intermediate == replica
            # The first unit of the (intermediate, seed) trains it; the next waits for it.
            assert xnli.depends_on == (grid.by_key[xnli.depends_on[0]].key,)
            assert grid.by_key[xnli.depends_on[0]].stage is Stage.TARGET
            assert pawsx.depends_on[1:] == (xnli.key,)
            assert grid.replicated_intermediates()[replica] is xnli
    # One checkpoint per (intermediate, seed); seeds and intermediates differ.
    assert len(grid.replicated_intermediates()) == 2 * 3
    assert grid.summary()["replicated_intermediates"] == 6
    # Retrieval evaluates the selected intermediate encoder, once, as before.
    assert confirm["mnli -> bucc (seed 0)"].replicated_intermediate is None


def test_the_intermediate_of_a_seed_is_keyed_by_its_cell_and_seed() -> None:
    a, b = replicate_key("cell", 0), replicate_key("cell", 1)
    assert len({a, b, replicate_key("other", 0)}) == 3 and a == replicate_key("cell", 0)


def test_the_default_is_on_and_a_folder_spec_without_the_field_reads_as_off() -> None:
    data = copy.deepcopy(SPEC)
    assert parse_spec(data, source="user.yaml").confirm.replicate_intermediate is True
    started = parse_spec(data, source="sweep.json", written=True)
    assert started.confirm.replicate_intermediate is False
    assert started.fingerprint() == spec_with(replicate_intermediate=False).fingerprint()
    # what raygrid writes for a new sweep names the field, so it reads back on
    on = spec_with(replicate_intermediate=True)
    assert on.normalised()["confirm"]["replicate_intermediate"] is True
    assert parse_spec(on.normalised(), source="sweep.json", written=True).fingerprint() == on.fingerprint()
    off = spec_with(replicate_intermediate=False)
    assert parse_spec(off.normalised(), source="sweep.json", written=True).fingerprint() == off.fingerprint()


def test_rerunning_an_old_sweep_with_its_spec_file_says_how_to_go_on(tmp_path: Any) -> None:
    from raygrid.storage import Location
    from raygrid.sweep.driver import _check_same

    started = parse_spec(copy.deepcopy(SPEC), source="sweep.json", written=True)
    with pytest.raises(ConfigError, match="replicate_intermediate: false"):
        _check_same(started, parse_spec(copy.deepcopy(SPEC), source="rep.yaml"), Location.of(tmp_path))
