"""The sweep a ``raygrid cell`` run is one unit of each phase of.

A cell (model, intermediate entry, target, hyper-parameters, caps, seed,
data) is the one-cell sweep whose search space fixes every hyper-parameter
the cell sets, with one trial per stage, the default sampler, pruner and
direction, ``seed`` the cell's seed and confirm seeds ``(seed,)``. The
cell's phases are that sweep's first trials:

* its intermediate checkpoint is trial 0 of the sweep's intermediate cell;
* its target checkpoint is trial 0 of the sweep's target cell (trained
  with the cell's seed, from that intermediate checkpoint), so evaluating
  more languages later reuses it;

both under the sweep's keys (:func:`raygrid.unit.keys.trial_key`). So a
sweep of that configuration finds the checkpoints ``raygrid cell
--output <sweep folder>`` trained under ``<sweep>/checkpoints/`` and reuses
them, and the reverse.

Example:
    >>> from raygrid.tasks import DataSources
    >>> units = cell_units(sweep_of(model="m", intermediate="mnli", target="xnli", languages=("de",),
    ...                             params={"num_epochs": 1.0}, seed=0, sources=DataSources(bundled=True)))
    >>> units.spec.search_space.target.to_json(), units.target_params
    ({'num_epochs': 1.0}, {'num_epochs': 1.0})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raygrid.tasks.types import Split
from raygrid.unit.keys import trial_key

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.grid import Cell
    from raygrid.spec import SweepSpec
    from raygrid.tasks.sources import DataSources

#: The index of a cell's trial in its one-trial sweep cell.
FIRST_TRIAL = 0


@dataclass(frozen=True)
class CellUnits:
    """The sweep units a ``raygrid cell`` run's phases are.

    Attributes:
        spec: the equivalent sweep spec.
        intermediate: its intermediate grid cell (``None`` for ``none``).
        target: its target grid cell.
        intermediate_params / target_params: the trials' hyper-parameters,
            as the sweep's planner hands them out.
    """

    spec: SweepSpec
    intermediate: Cell | None
    target: Cell
    intermediate_params: dict[str, Any]
    target_params: dict[str, Any]

    @property
    def intermediate_key(self) -> str | None:
        """The intermediate checkpoint's key (``None``: no intermediate phase)."""
        if self.intermediate is None:
            return None
        return trial_key(self.intermediate.key, FIRST_TRIAL, self.intermediate_params)

    @property
    def target_key(self) -> str | None:
        """The target checkpoint's key (``None``: a retrieval target, not trained)."""
        if self.target.evaluate_only:
            return None
        return trial_key(self.target.key, FIRST_TRIAL, self.target_params)


def sweep_of(
    *,
    model: str,
    intermediate: str,
    target: str,
    languages: Sequence[str],
    params: Mapping[str, Any],
    seed: int,
    sources: DataSources,
    max_train_examples: int | None = None,
    max_eval_examples: int | None = None,
    eval_split: Split | None = None,
) -> SweepSpec:
    """The one-cell sweep of a ``raygrid cell`` run (see the module
    docstring): ``params`` are the hyper-parameters the cell sets (the
    non-``None`` fields of :class:`raygrid.cell.Overrides`). Data files
    named one by one (``DataSources.files``) have no sweep equivalent:
    their content keys the cell's phases
    (:func:`raygrid.unit.keys.with_local_content`)."""
    from raygrid.spec import parse_spec

    return parse_spec(
        {
            "name": "cell",
            "model": {"name_or_path": model},
            "data": {
                "source": "bundled" if sources.bundled else "hub",
                "local_dirs": [str(d) for d in sources.local_dirs],
                "max_train_examples": max_train_examples,
                "max_eval_examples": max_eval_examples,
            },
            "intermediates": [intermediate],
            "targets": [{"task": target, "languages": list(languages)}],
            "search_space": {"intermediate": dict(params), "target": dict(params)},
            "n_trials": {"intermediate": 1, "target": 1},
            "confirm": {"seeds": [seed], "eval_split": eval_split.value if eval_split else None},
            "seed": seed,
        }
    )


def cell_units(spec: SweepSpec) -> CellUnits:
    """The units of a one-cell sweep (:func:`sweep_of`) that a ``raygrid
    cell`` run's phases are."""
    from raygrid.grid import Stage, expand

    grid = expand(spec)
    inter = next(iter(grid.cells_of(Stage.INTERMEDIATE)), None)
    target = grid.cells_of(Stage.TARGET)[0]

    def params(of: Cell | None) -> dict[str, Any]:
        return dict(of.search_space.fixed()) if of is not None and of.search_space is not None else {}

    return CellUnits(spec, inter, target, params(inter), params(target))


__all__ = ["FIRST_TRIAL", "CellUnits", "cell_units", "sweep_of"]
