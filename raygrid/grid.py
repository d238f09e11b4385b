"""The transfer grid: a :class:`~raygrid.spec.SweepSpec` expanded into cells.

Three stages, each a set of cells with stable keys and dependencies:

``intermediate``
    One cell per intermediate entry other than ``none`` (``all`` is one
    multi-task cell over every intermediate task; ``a+b`` one over those):
    ``n_trials.intermediate`` Optuna trials on the entry's English dev set.
``target``
    One cell per (intermediate entry including ``none``, target task), which
    starts from the best checkpoint of its intermediate cell (``none``: from
    the pretrained model) and depends on it. So an intermediate checkpoint is
    trained once and shared by every target that starts from it: the paper's
    grid (9 tasks + ``all``, x 9 targets) has 10 intermediate cells, not 90.
    Retrieval targets (BUCC, Tatoeba) have no training data (Phang et al.
    2020, section 3): their cells are ``evaluate_only`` with no trials.
``confirm``
    One unit per (target cell, confirm seed): the target cell's best config
    retrained with that seed, then evaluated zero-shot per language, clean
    and under each attack. An ``evaluate_only`` target has nothing to
    retrain, so it gets a single unit (the first seed). With
    ``confirm.replicate_intermediate`` a unit whose target starts from an
    intermediate first retrains that intermediate (its cell's selected
    config, the unit's seed) into the seed's own checkpoint
    (:func:`raygrid.unit.keys.replicate_key`), shared by every target of
    the intermediate: the first such unit of an (intermediate, seed) trains
    it and each later one depends on the one before, so that two units
    never train it at once and each later one finds it trained.

A key hashes everything that determines a cell's result: the model, the
tasks, the stage, the search space, the trials, the sampler (and its seed),
the pruner (of these two, the fields their registry entries declare:
:mod:`raygrid.sweep.search`), the data source and caps, the parent cell's key and
:data:`raygrid.SCHEMA_VERSION`; never where or how wide the sweep runs
(:data:`raygrid.spec.RUNTIME_FIELDS`). A target key leaves out the
evaluation languages (they do not change model selection, which looks at
English dev data only); confirm keys include them, and, only for a unit
that replicates its intermediate, that and the seed's intermediate
checkpoint key (so every other unit keeps the key it had before the
option existed).

Example:
    >>> from raygrid.spec import load_spec
    >>> grid = expand(load_spec("search_spaces/demo.yaml"))  # doctest: +SKIP
    >>> [len(grid.cells_of(s)) for s in Stage]  # doctest: +SKIP
    [1, 4, 8]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from raygrid import SCHEMA_VERSION
from raygrid.keys import stable_key
from raygrid.spec import NONE, Stage, StageSpace, SweepSpec, resolve_intermediate
from raygrid.unit.keys import replicate_key


@dataclass(frozen=True)
class Cell:
    """One unit of the grid.

    Attributes:
        key: stable key (see the module docstring); the name of its
            checkpoints and results.
        stage: intermediate, target or confirm.
        intermediate: the intermediate entry (``none``, ``mnli``, ``all``,
            ``a+b``) the cell trains or starts from.
        target: the target task (``None`` for intermediate cells).
        tasks: the tasks the cell trains (intermediate: the entry's tasks,
            sorted; target and confirm: the target).
        depends_on: keys of the cells that must finish first.
        search_space: what the cell's Optuna study searches (``None`` for
            confirm units and evaluate-only cells).
        n_trials: the study's trials (0: no study).
        languages: evaluation languages (intermediate cells: ``("en",)``).
        seed: confirm units: the seed of the retraining run.
        evaluate_only: retrieval targets: no training, only evaluation of the
            intermediate encoder.
        replicated_intermediate: confirm units that retrain their
            intermediate (``confirm.replicate_intermediate``): the key of
            the seed's own intermediate checkpoint (``checkpoints/<key>``),
            which their target phase starts from; ``None``: the target
            phase starts from the intermediate cell's selected checkpoint
            (or the pretrained model).
    """

    key: str
    stage: Stage
    intermediate: str
    target: str | None
    tasks: tuple[str, ...]
    depends_on: tuple[str, ...]
    search_space: StageSpace | None
    n_trials: int
    languages: tuple[str, ...]
    seed: int | None = None
    evaluate_only: bool = False
    replicated_intermediate: str | None = None

    @property
    def name(self) -> str:
        """A human label: ``mnli``, ``mnli -> xnli``, ``mnli -> xnli (seed 1)``."""
        if self.stage is Stage.INTERMEDIATE:
            return self.intermediate
        label = f"{self.intermediate} -> {self.target}"
        return f"{label} (seed {self.seed})" if self.stage is Stage.CONFIRM else label


@dataclass(frozen=True)
class Grid:
    """The cells of a sweep in a dependency order.

    Attributes:
        cells: every cell; each after the cells it depends on (intermediate,
            then target, then confirm).
        by_key: cell key -> cell.
        order: the keys of ``cells``, in that order.
    """

    cells: tuple[Cell, ...]
    by_key: Mapping[str, Cell]
    order: tuple[str, ...]
    _dependents: Mapping[str, tuple[Cell, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dependents: dict[str, list[Cell]] = {key: [] for key in self.order}
        for cell in self.cells:
            for parent in cell.depends_on:
                dependents[parent].append(cell)
        object.__setattr__(self, "_dependents", MappingProxyType({k: tuple(v) for k, v in dependents.items()}))

    @classmethod
    def of(cls, cells: tuple[Cell, ...]) -> Grid:
        """A grid of ``cells``; each must come after the cells it depends on.

        Raises:
            ValueError: a duplicated key, or a dependency that is missing or
                comes later (a programming error, not a user's).
        """
        by_key: dict[str, Cell] = {}
        for cell in cells:
            if cell.key in by_key:
                raise ValueError(f"two cells have the key {cell.key}: {by_key[cell.key].name!r} and {cell.name!r}")
            for parent in cell.depends_on:
                if parent not in by_key:
                    raise ValueError(f"cell {cell.name!r} depends on {parent}, which does not come before it")
            by_key[cell.key] = cell
        return cls(cells=cells, by_key=MappingProxyType(by_key), order=tuple(by_key))

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType does not pickle; the searcher holding a grid must.
        return (Grid.of, (self.cells,))

    def cells_of(self, stage: Stage | str) -> tuple[Cell, ...]:
        """The cells of one stage, in grid order."""
        wanted = Stage(stage)
        return tuple(cell for cell in self.cells if cell.stage is wanted)

    def dependents(self, key: str) -> tuple[Cell, ...]:
        """The cells that depend directly on the cell ``key``.

        Raises:
            KeyError: no cell has that key.
        """
        return self._dependents[key]

    def replicated_intermediates(self) -> dict[str, Cell]:
        """Each confirm seed's own intermediate checkpoint key
        (``confirm.replicate_intermediate``) -> the confirm unit that trains
        it (the first of its intermediate and seed); empty when off."""
        owners: dict[str, Cell] = {}
        for cell in self.cells_of(Stage.CONFIRM):
            if cell.replicated_intermediate is not None:
                owners.setdefault(cell.replicated_intermediate, cell)
        return owners

    @property
    def n_trials(self) -> int:
        """Optuna trials over all cells (confirm runs not included)."""
        return sum(cell.n_trials for cell in self.cells)

    def summary(self) -> dict[str, Any]:
        """Counts per stage, for ``raygrid validate`` and the progress display."""
        return {
            "cells": {stage.value: len(self.cells_of(stage)) for stage in Stage},
            "trials": {stage.value: sum(c.n_trials for c in self.cells_of(stage)) for stage in Stage},
            "total_trials": self.n_trials,
            "confirm_runs": len(self.cells_of(Stage.CONFIRM)),
            "replicated_intermediates": len(self.replicated_intermediates()),
            "evaluate_only_targets": sum(cell.evaluate_only for cell in self.cells_of(Stage.TARGET)),
        }


def _common(spec: SweepSpec) -> dict[str, Any]:
    """What every training cell's key shares: model, data, sampler, pruner (of
    these two, only their declared key fields: raygrid.sweep.search)."""
    return {
        "model": spec.model.model_dump(mode="json"),
        "data": spec.data.key_fields(),
        "sampler": spec.sampler.key_fields(seed=spec.sampler_seed),
        "early_stopping": spec.early_stopping.key_fields(),
        "direction": spec.direction.value,
        "schema": SCHEMA_VERSION,
    }


def expand(spec: SweepSpec) -> Grid:
    """The grid of ``spec`` (see the module docstring).

    Example:
        >>> from raygrid.spec import parse_spec
        >>> spec = parse_spec({"name": "x", "model": {"name_or_path": "m"}, "data": {"source": "bundled"},
        ...                    "intermediates": ["none", "mnli"], "targets": [{"task": "xnli"}, {"task": "bucc"}]})
        >>> grid = expand(spec)
        >>> [c.name for c in grid.cells_of("target")]
        ['none -> xnli', 'none -> bucc', 'mnli -> xnli', 'mnli -> bucc']
        >>> [c.name for c in grid.dependents(grid.cells_of("intermediate")[0].key)]
        ['mnli -> xnli', 'mnli -> bucc']
    """
    from raygrid.tasks import get_task

    common = _common(spec)
    cells: list[Cell] = []

    intermediate_keys: dict[str, str] = {}
    for entry in spec.intermediates:
        if entry == NONE:
            continue
        tasks = resolve_intermediate(entry)
        space = spec.space_for(Stage.INTERMEDIATE, entry)
        n_trials = spec.trials_for(Stage.INTERMEDIATE)
        key = stable_key(
            {
                **common,
                "stage": Stage.INTERMEDIATE.value,
                "tasks": list(tasks),
                "search_space": space.to_json(),
                "n_trials": n_trials,
            }
        )
        intermediate_keys[entry] = key
        cells.append(Cell(key, Stage.INTERMEDIATE, entry, None, tasks, (), space, n_trials, ("en",)))

    targets: list[Cell] = []
    for entry in spec.intermediates:
        parent = intermediate_keys.get(entry)
        depends_on = (parent,) if parent else ()
        for target in spec.targets:
            task = get_task(target.task)
            payload: dict[str, Any] = {**common, "stage": Stage.TARGET.value, "parent": parent, "task": task.name}
            target_space: StageSpace | None = None
            n_trials = 0
            if task.trainable:
                target_space = spec.space_for(Stage.TARGET, task.name)
                n_trials = spec.trials_for(Stage.TARGET)
                payload.update(search_space=target_space.to_json(), n_trials=n_trials)
            else:
                payload.update(evaluate_only=True)
            if parent is None:
                payload["intermediate"] = NONE  # the baseline: from the pretrained model
            targets.append(
                Cell(
                    stable_key(payload),
                    Stage.TARGET,
                    entry,
                    task.name,
                    (task.name,),
                    depends_on,
                    target_space,
                    n_trials,
                    target.languages,
                    evaluate_only=not task.trainable,
                )
            )
    cells.extend(targets)

    confirm_common = {
        "stage": Stage.CONFIRM.value,
        "eval_split": spec.confirm.eval_split,
        "max_eval_examples": spec.data.max_eval_examples,
        "attacks": [attack.model_dump(mode="json") for attack in spec.attacks],
        "schema": SCHEMA_VERSION,
    }
    last_of_replica: dict[str, str] = {}  # a seed's intermediate checkpoint -> the last unit that uses it
    for cell in targets:
        # Retrieval: nothing is retrained, so other seeds would repeat the same run.
        seeds = spec.confirm.seeds[:1] if cell.evaluate_only else spec.confirm.seeds
        for seed in seeds:
            payload = {**confirm_common, "parent": cell.key, "seed": seed, "languages": list(cell.languages)}
            needs: tuple[str, ...] = (cell.key,)  # the target cell first: the planner's parent
            replica = _replica(spec, cell, seed)
            if replica is not None:
                payload.update(replicate_intermediate=True, intermediate_checkpoint=replica)
                if replica in last_of_replica:
                    needs += (last_of_replica[replica],)
            key = stable_key(payload)
            if replica is not None:
                last_of_replica[replica] = key
            cells.append(
                Cell(
                    key,
                    Stage.CONFIRM,
                    cell.intermediate,
                    cell.target,
                    cell.tasks,
                    needs,
                    None,
                    0,
                    cell.languages,
                    seed=seed,
                    evaluate_only=cell.evaluate_only,
                    replicated_intermediate=replica,
                )
            )
    return Grid.of(tuple(cells))


def _replica(spec: SweepSpec, target: Cell, seed: int) -> str | None:
    """The seed's own intermediate checkpoint key of a confirm unit of
    ``target`` (:func:`raygrid.unit.keys.replicate_key`); ``None`` when
    intermediates are not replicated, the target starts from the
    pretrained model (``none``) or is evaluate-only (retrieval: one unit,
    the intermediate encoder as selected)."""
    if not spec.confirm.replicate_intermediate or not target.depends_on or target.evaluate_only:
        return None
    return replicate_key(target.depends_on[0], seed)


__all__ = ["Cell", "Grid", "Stage", "expand"]
