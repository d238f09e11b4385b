"""Contract tests of every registered sampler and pruner (raygrid.sweep.search).

In the style of Optuna's own sampler tests (tests/samplers_tests): each
contract is a function of an algorithm's name, parametrized over the
registry, so a sampler registered tomorrow is tested by the same suite
(:func:`test_a_new_sampler_needs_no_other_file` does exactly that). Samplers
are built and asked the way :class:`raygrid.sweep.plan.Planner` does: through
:func:`~raygrid.sweep.search.build_sampler`, one sampler per ask seeded from
(seed, cell, index), ``study.ask(fixed_distributions=space.to_optuna())``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from raygrid.errors import ConfigError
from raygrid.grid import expand
from raygrid.spec import (
    CategoricalDistribution,
    EarlyStopping,
    FloatDistribution,
    IntDistribution,
    SamplerSpec,
    StageSpace,
    load_spec,
    parse_spec,
)
from raygrid.sweep import search
from raygrid.sweep.plan import derived_seed
from raygrid.sweep.search import (
    PRUNERS,
    SAMPLERS,
    Option,
    SearchAlgorithm,
    SearchContext,
    build_pruner,
    build_sampler,
)

optuna = pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parents[2]
N_TRIALS = 12

#: Every kind of distribution a spec can search (the grid sampler gets the
#: enumerable ones only).
CONTINUOUS = StageSpace.model_validate(
    {
        "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
        "num_epochs": {"type": "int", "low": 1, "high": 4},
        "batch_size": {"type": "categorical", "choices": [8, 16, 32]},
        "warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.05},
        "max_seq_length": {"type": "int", "low": 16, "high": 256, "log": True},
        "weight_decay": 0.01,
    }
)
ENUMERABLE = StageSpace.model_validate({n: v for n, v in CONTINUOUS.to_json().items() if n not in ("learning_rate", "max_seq_length")})


def _space(name: str) -> StageSpace:
    return ENUMERABLE if SAMPLERS[name].enumerable_only else CONTINUOUS


def _sampler_spec(name: str, **options: Any) -> SamplerSpec:
    return SamplerSpec.model_validate({"type": name, **options})


def _run(name: str, *, seed: int = 7, pruner: str = "none", n_trials: int = N_TRIALS) -> Any:
    """A study of ``n_trials`` asked as the planner asks; the objective
    reports three intermediate values (so pruners act)."""
    space = _space(name)
    study = optuna.create_study(direction="maximize", pruner=build_pruner(EarlyStopping(type=pruner, min_resource=1)))
    for index in range(n_trials):
        study.sampler = build_sampler(_sampler_spec(name), seed=derived_seed(seed, "cell", index), space=space)
        trial = study.ask(fixed_distributions=space.to_optuna())
        value = -abs(math.log10(trial.params.get("learning_rate", 1e-4)) + 4) - trial.params["num_epochs"] / 10
        state = optuna.trial.TrialState.COMPLETE
        for step in range(3):
            trial.report(value + step / 10, step)
            if trial.should_prune():
                state = optuna.trial.TrialState.PRUNED
                break
        if state is optuna.trial.TrialState.PRUNED:
            study.tell(trial, state=state)
        else:
            study.tell(trial, value)
    return study


# -- the contracts (each a function of a sampler's name) ------------------------------------


def contract_same_seed_same_suggestions(name: str) -> None:
    first = [t.params for t in _run(name, seed=3).trials]
    again = [t.params for t in _run(name, seed=3).trials]
    assert first == again


def contract_suggestions_in_the_space(name: str) -> None:
    space = _space(name)
    distributions = space.distributions()
    for trial in _run(name).trials:
        assert set(trial.params) == set(distributions)
        for param, value in trial.params.items():
            dist = distributions[param]
            if isinstance(dist, CategoricalDistribution):
                assert value in dist.choices
            elif isinstance(dist, IntDistribution):
                assert isinstance(value, int) and not isinstance(value, bool)
                assert dist.low <= value <= dist.high and (value - dist.low) % dist.step == 0
            else:
                assert isinstance(dist, FloatDistribution)
                # within rounding: FloatDistribution.grid_values gives low + i * step (0.30000000000000004
                # for 0.0 + 3 * 0.1), which grid sweeps have always asked (changing it would re-key their trials)
                slack = 1e-9 * (dist.high - dist.low)
                assert isinstance(value, float) and dist.low - slack <= value <= dist.high + slack
                if dist.step is not None:
                    assert math.isclose((value - dist.low) / dist.step, round((value - dist.low) / dist.step), abs_tol=1e-9)


def contract_log_scale_respected(name: str) -> None:
    log_params = {n: d for n, d in _space(name).distributions().items() if getattr(d, "log", False)}
    values = {n: [t.params[n] for t in _run(name, n_trials=20).trials] for n in log_params}
    for param, dist in log_params.items():
        # log-uniform puts ~85% of [1e-5, 1e-3] (and of [16, 256]) below the arithmetic midpoint
        midpoint = (dist.low + dist.high) / 2
        below = sum(v < midpoint for v in values[param])
        assert below > len(values[param]) / 2, (param, values[param])


def contract_works_with_every_pruner(name: str) -> None:
    for pruner in PRUNERS:
        study = _run(name, pruner=pruner)
        assert len(study.trials) == N_TRIALS
        assert all(t.state.is_finished() for t in study.trials)


def contract_a_study_completes(name: str) -> None:
    study = _run(name)
    states = {t.state for t in study.trials}
    assert len(study.trials) == N_TRIALS and states <= {optuna.trial.TrialState.COMPLETE}
    assert study.best_trial.value is not None


def contract_key_fields_are_options(name: str) -> None:
    algorithm = SAMPLERS[name]
    assert set(algorithm.key_fields) <= set(algorithm.options)
    default = _sampler_spec(name).key_fields(seed=0)
    assert default["type"] == name and default["seed"] == 0
    assert set(default) <= {"type", *SamplerSpec.model_fields, *algorithm.key_fields}


def contract_builds_from_a_spec(name: str) -> None:
    data = {
        "name": "x",
        "model": {"name_or_path": "m"},
        "data": {"source": "bundled"},
        "intermediates": ["none"],
        "targets": [{"task": "pawsx"}],
        "search_space": {"target": _space(name).to_json()},
        "n_trials": {"target": 3},
        "sampler": {"type": name},
    }
    spec = parse_spec(data)
    assert str(spec.sampler.type) == name
    assert all(cell.key for cell in expand(spec).cells)


CONTRACTS: tuple[Callable[[str], None], ...] = (
    contract_same_seed_same_suggestions,
    contract_suggestions_in_the_space,
    contract_log_scale_respected,
    contract_works_with_every_pruner,
    contract_a_study_completes,
    contract_key_fields_are_options,
    contract_builds_from_a_spec,
)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__.removeprefix("contract_"))
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name: str, contract: Callable[[str], None]) -> None:
    contract(name)


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_pruner_contract(name: str) -> None:
    algorithm = PRUNERS[name]
    assert set(algorithm.key_fields) <= set(algorithm.options)
    assert isinstance(build_pruner(EarlyStopping(type=name)), optuna.pruners.BasePruner)
    study = _run("random", pruner=name)
    assert all(t.state.is_finished() for t in study.trials)


# -- keys: adding an algorithm or an option re-keys nothing ----------------------------------


def _keys(path: str) -> tuple[str, list[str]]:
    spec = load_spec(ROOT / path)
    return spec.fingerprint(), [cell.key for cell in expand(spec).cells]


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "search_spaces").glob("*.yaml")))
def test_a_new_option_with_its_default_keeps_every_key(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _keys(path)
    tpe = SAMPLERS["tpe"]
    options = {**tpe.options, "multivariate": Option(bool, False, "true or false")}
    monkeypatch.setitem(
        search._SAMPLERS, "tpe", SearchAlgorithm("tpe", tpe.build, options, (*tpe.key_fields, "multivariate"))
    )
    monkeypatch.setitem(search._PRUNERS, "brand_new", SearchAlgorithm("brand_new", PRUNERS["none"].build))
    assert _keys(path) == before
    spec = load_spec(ROOT / path)
    changed = spec.replace(sampler={**spec.sampler.model_dump(mode="json"), "type": "tpe", "multivariate": True})
    assert changed.fingerprint() != spec.fingerprint()  # a key option away from its default is another sweep


def test_a_non_key_option_is_not_in_any_key(monkeypatch: pytest.MonkeyPatch) -> None:
    tpe = SAMPLERS["tpe"]
    options = {**tpe.options, "verbose": Option(bool, False, "true or false")}
    monkeypatch.setitem(search._SAMPLERS, "tpe", SearchAlgorithm("tpe", tpe.build, options, tpe.key_fields))
    spec = load_spec(ROOT / "search_spaces" / "demo.yaml")
    loud = spec.replace(sampler={**spec.sampler.model_dump(mode="json"), "verbose": True})
    assert loud.sampler.model_extra == {"verbose": True}
    assert loud.fingerprint() == spec.fingerprint()
    assert [c.key for c in expand(loud).cells] == [c.key for c in expand(spec).cells]


def test_options_are_typed_with_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"name": "x", "model": {"name_or_path": "m"}, "intermediates": ["none"], "targets": [{"task": "pawsx"}]}
    with pytest.raises(ConfigError) as err:
        parse_spec({**base, "sampler": {"type": "random", "bogus": 1}}, source="s.yaml")
    assert str(err.value) == "s.yaml: sampler.bogus: unknown key; allowed: 'type', 'seed' or 'n_startup_trials'"
    with pytest.raises(ConfigError) as err:
        parse_spec({**base, "sampler": {"type": "cmaes"}}, source="s.yaml")
    assert str(err.value) == "s.yaml: sampler.type: bad value 'cmaes'; allowed: 'tpe', 'random' or 'grid'"
    with pytest.raises(ConfigError) as err:
        parse_spec({**base, "early_stopping": {"type": "hyperband"}}, source="s.yaml")
    assert str(err.value) == "s.yaml: early_stopping.type: bad value 'hyperband'; allowed: 'none', 'median' or 'successive_halving'"
    with pytest.raises(ConfigError) as err:
        parse_spec({**base, "sampler": {"type": "tpe", "n_startup_trials": -1}}, source="s.yaml")
    assert str(err.value) == "s.yaml: sampler.n_startup_trials: bad value -1; allowed: an integer >= 0 or null"


# -- a newcomer adds a sampler -----------------------------------------------------------------


class _HaltonLike:
    """A sampler defined here: a seeded quasi-random walk over each distribution."""

    def __new__(cls, options: Mapping[str, Any], context: SearchContext) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="halton", scramble=options["scramble"], seed=context.seed)


def test_a_new_sampler_needs_no_other_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The acceptance's "newcomer adds a sampler": one register_sampler call
    (here, inside the test); the contract suite and a sweep use it as is."""
    algorithm = SearchAlgorithm(
        "halton",
        _HaltonLike,
        options={"scramble": Option(bool, True, "true or false")},
        key_fields=("scramble",),
        help="Optuna's QMCSampler (Halton)",
    )
    monkeypatch.setitem(search._SAMPLERS, "halton", algorithm)

    for contract in CONTRACTS:
        contract("halton")

    from raygrid.sweep.plan import FINISHED, Planner, TrialRecord, Unit, UnitKind

    data = {
        "name": "h",
        "model": {"name_or_path": "m"},
        "data": {"source": "bundled"},
        "intermediates": ["none"],
        "targets": [{"task": "pawsx", "languages": ["de"]}],
        "search_space": {"target": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}}},
        "n_trials": {"target": 3},
        "sampler": {"type": "halton", "scramble": False},
        "storage": str(tmp_path),
    }
    spec = parse_spec(data)
    assert spec.sampler.key_fields(seed=0) == {"type": "halton", "seed": 0, "n_startup_trials": None, "scramble": False}
    planner = Planner(spec, tmp_path / "h")
    asked = []
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        if unit.kind is UnitKind.TRIAL:
            asked.append(unit.params["learning_rate"])
            record = TrialRecord(unit.key, "complete", -abs(math.log10(unit.params["learning_rate"]) + 4), checkpoint="c")
            record.write(planner.sweep_dir)
        else:
            from raygrid.store import ResultRow, write_run

            row = ResultRow(run_key=unit.key, task="pawsx", language="de", split="test", metric="accuracy", value=0.5)
            write_run(planner.sweep_dir / "results", unit.key, [row])
            record = TrialRecord(unit.key, "complete", None)
        planner.complete(unit, record)
    assert len(asked) == 3 and all(1e-5 <= v <= 1e-3 for v in asked)
    with pytest.raises(ConfigError) as err:
        parse_spec({**data, "sampler": {"type": "halton", "scramble": "yes"}}, source="h.yaml")
    assert str(err.value) == "h.yaml: sampler.scramble: bad value 'yes'; allowed: true or false"
