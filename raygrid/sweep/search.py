"""Search algorithms behind one seam: samplers and pruners by name.

A spec's ``sampler.type`` and ``early_stopping.type`` name an entry of
:data:`SAMPLERS` and :data:`PRUNERS`. An entry is a :class:`SearchAlgorithm`:
a factory (what :class:`raygrid.sweep.plan.Planner` calls for each cell's
study), its typed options (written next to ``type`` in the spec and checked
at load with the usual one-line errors), and which options belong in a cell
key. Adding an algorithm is one :func:`register_sampler` (or
:func:`register_pruner`) call; nothing else in raygrid names algorithms.

Keys
    A cell key (and the spec's fingerprint) holds ``key_payload``: the
    fields of the spec's ``sampler`` / ``early_stopping`` model (``type``,
    ``seed``, ``n_startup_trials``; ``type``, ``min_resource``,
    ``reduction_factor``, ``n_startup_trials``: what every key held before
    this registry), and each declared key option only when it differs from
    its default. So a new algorithm, or a new option with its default,
    re-keys no existing sweep; options that do not change what is computed
    are not key fields at all.

Example:
    >>> sorted(SAMPLERS)
    ['grid', 'random', 'tpe']
    >>> SAMPLERS["tpe"].options["n_startup_trials"].allowed
    'an integer >= 0 or null'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from raygrid.errors import ConfigError, one_of


class Space(Protocol):
    """What a factory sees of a cell's search space (a
    :class:`raygrid.spec.StageSpace`; this module imports nothing of the spec)."""

    def distributions(self) -> Mapping[str, Any]:
        """The searched hyper-parameters: name -> distribution (with ``grid_values()``)."""
        ...


@dataclass(frozen=True)
class Option:
    """One typed option of a search algorithm.

    Attributes:
        kind: ``int``, ``float``, ``bool`` or ``str`` (``int`` refuses
            booleans; ``float`` takes integers and refuses inf and nan).
        default: the value when the spec leaves it out (``None`` allowed).
        allowed: the allowed values in words (the ``allowed:`` of errors).
        check: whether a (well-typed, non-null) value is allowed.
    """

    kind: type
    default: Any = None
    allowed: str = ""
    check: Callable[[Any], bool] = lambda _value: True

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (``None``: nothing)."""
        if value is None:
            return None if self.default is None else f"bad value {value!r}"
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, self.kind)
        return None if ok and self.check(value) else f"bad value {value!r}"


@dataclass(frozen=True)
class SearchContext:
    """What a factory may use besides its options.

    Attributes:
        seed: the seed of this ask (derived per cell and trial; samplers).
        space: the cell's search space (samplers; the grid sampler needs it).
    """

    seed: int = 0
    space: Space | None = None


@dataclass(frozen=True)
class SearchAlgorithm:
    """One registered sampler or pruner.

    Attributes:
        name: its ``type`` in a spec.
        build: ``(options, context) -> an Optuna sampler or pruner``;
            ``options`` holds every field of the spec's model (with
            defaults) and this algorithm's options.
        options: its own typed options, by name.
        key_fields: the options that change what a sweep computes: they
            enter cell keys (when not at their default).
        enumerable_only: every searched distribution must be enumerable
            (int, stepped float, categorical), as for a grid.
        help: one line for docs.
    """

    name: str
    build: Callable[[Mapping[str, Any], SearchContext], Any]
    options: Mapping[str, Option] = field(default_factory=dict)
    key_fields: tuple[str, ...] = ()
    enumerable_only: bool = False
    help: str = ""

    def __post_init__(self) -> None:
        unknown = [f for f in self.key_fields if f not in self.options]
        if unknown:
            raise ValueError(f"search algorithm {self.name!r}: key fields {unknown} are not among its options")


_SAMPLERS: dict[str, SearchAlgorithm] = {}
_PRUNERS: dict[str, SearchAlgorithm] = {}
#: The registered samplers, by name (read-only view).
SAMPLERS: Mapping[str, SearchAlgorithm] = MappingProxyType(_SAMPLERS)
#: The registered pruners, by name (read-only view).
PRUNERS: Mapping[str, SearchAlgorithm] = MappingProxyType(_PRUNERS)


def register_sampler(algorithm: SearchAlgorithm) -> SearchAlgorithm:
    """Adds a sampler (its name must be new); returns it."""
    return _register(_SAMPLERS, "sampler", algorithm)


def register_pruner(algorithm: SearchAlgorithm) -> SearchAlgorithm:
    """Adds a pruner (its name must be new); returns it."""
    return _register(_PRUNERS, "pruner", algorithm)


def unregister(name: str) -> None:
    """Removes a sampler or pruner (tests that register their own)."""
    _SAMPLERS.pop(name, None)
    _PRUNERS.pop(name, None)


def _register(table: dict[str, SearchAlgorithm], what: str, algorithm: SearchAlgorithm) -> SearchAlgorithm:
    if algorithm.name in table:
        raise ValueError(f"a {what} named {algorithm.name!r} is already registered")
    table[algorithm.name] = algorithm
    return algorithm


def get_sampler(name: str) -> SearchAlgorithm:
    """The sampler ``name``.

    Raises:
        ConfigError: no sampler has that name.
    """
    return _get(SAMPLERS, "sampler", name)


def get_pruner(name: str) -> SearchAlgorithm:
    """The pruner ``name``.

    Raises:
        ConfigError: no pruner has that name.
    """
    return _get(PRUNERS, "pruner", name)


def _get(table: Mapping[str, SearchAlgorithm], what: str, name: str) -> SearchAlgorithm:
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; allowed: {one_of(table)}")
    return table[name]


def options_of(algorithm: SearchAlgorithm, model: Any) -> dict[str, Any]:
    """Every field of a spec's sampler / early-stopping ``model`` plus the
    algorithm's options (the spec's values, else their defaults)."""
    values = {name: getattr(model, name) for name in type(model).model_fields}
    extra = getattr(model, "model_extra", None) or {}
    for name, option in algorithm.options.items():
        if name not in type(model).model_fields:
            values[name] = extra.get(name, option.default)
    return values


def key_payload(algorithm: SearchAlgorithm, model: Any, **resolved: Any) -> dict[str, Any]:
    """What a cell key holds of a sampler or pruner (see the module docstring);
    ``resolved`` replaces fields (the sampler's seed, resolved from the spec's)."""
    base = type(model).model_fields
    payload: dict[str, Any] = {name: getattr(model, name) for name in base}
    payload["type"] = str(payload["type"])
    payload.update(resolved)
    extra = getattr(model, "model_extra", None) or {}
    for name in algorithm.key_fields:
        if name in base:
            continue
        value = extra.get(name, algorithm.options[name].default)
        if value != algorithm.options[name].default:
            payload[name] = value
    return payload


def build_sampler(spec_sampler: Any, *, seed: int, space: Space | None = None) -> Any:
    """The Optuna sampler of one ask of a cell's study (imports optuna)."""
    algorithm = get_sampler(str(spec_sampler.type))
    return algorithm.build(options_of(algorithm, spec_sampler), SearchContext(seed=seed, space=space))


def build_pruner(spec_stopping: Any) -> Any:
    """The Optuna pruner of a cell's study (imports optuna)."""
    algorithm = get_pruner(str(spec_stopping.type))
    return algorithm.build(options_of(algorithm, spec_stopping), SearchContext())


# -- the built-in algorithms ---------------------------------------------------------------


def _tpe(options: Mapping[str, Any], context: SearchContext) -> Any:
    import optuna

    extra = {} if options["n_startup_trials"] is None else {"n_startup_trials": options["n_startup_trials"]}
    return optuna.samplers.TPESampler(seed=context.seed, **extra)


def _random(options: Mapping[str, Any], context: SearchContext) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=context.seed)


def _grid(options: Mapping[str, Any], context: SearchContext) -> Any:
    import optuna

    distributions = context.space.distributions() if context.space is not None else {}
    grid = {name: list(dist.grid_values() or ()) for name, dist in distributions.items()}
    return optuna.samplers.GridSampler(grid, seed=context.seed)


def _no_pruner(options: Mapping[str, Any], context: SearchContext) -> Any:
    import optuna

    return optuna.pruners.NopPruner()


def _median(options: Mapping[str, Any], context: SearchContext) -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=options["n_startup_trials"], n_warmup_steps=options["min_resource"])


def _successive_halving(options: Mapping[str, Any], context: SearchContext) -> Any:
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=options["min_resource"], reduction_factor=options["reduction_factor"]
    )


register_sampler(
    SearchAlgorithm(
        "tpe",
        _tpe,
        options={"n_startup_trials": Option(int, None, "an integer >= 0 or null", lambda v: v >= 0)},
        key_fields=("n_startup_trials",),
        help="Optuna's TPESampler (n_startup_trials: random trials before TPE takes over; default 10)",
    )
)
register_sampler(SearchAlgorithm("random", _random, help="Optuna's RandomSampler"))
register_sampler(
    SearchAlgorithm("grid", _grid, enumerable_only=True, help="Optuna's GridSampler over every enumerable value")
)
register_pruner(SearchAlgorithm("none", _no_pruner, help="no early stopping"))
register_pruner(SearchAlgorithm("median", _median, help="Optuna's MedianPruner"))
register_pruner(
    SearchAlgorithm("successive_halving", _successive_halving, help="Optuna's SuccessiveHalvingPruner (ASHA's rungs)")
)


__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "Option",
    "SearchAlgorithm",
    "SearchContext",
    "build_pruner",
    "build_sampler",
    "get_pruner",
    "get_sampler",
    "key_payload",
    "options_of",
    "register_pruner",
    "register_sampler",
    "unregister",
]
