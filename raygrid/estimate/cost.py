"""The GPU-hours of a sweep, from its spec alone: no Ray, no GPU, no download.

The formula (every figure an upper bound: no trial is pruned, and every
sequence is counted at ``max_seq_length``):

one training run of a cell (a trial, or a confirm retrain)
    ``train_tokens = epochs x sequences_per_epoch x max_seq_length``, where an
    epoch is the (capped) English training set, times the choices of a
    multiple-choice task; a multi-task cell's epoch is
    ``sum_i min(n_i, mixing_cap) x sequences_i`` (raygrid.train.batching).
    ``dev_tokens = evaluations x dev_sequences x max_seq_length`` with
    ``evaluations = ceil(epochs x evals_per_epoch)``.
    Wall time: ``train_tokens / (train_rate x G) + dev_tokens / eval_rate``
    (data-parallel training over G GPUs; every worker evaluates the whole dev set).
a confirm unit
    the best target config retrained once, then zero-shot evaluation of every
    language, clean and under each attack of the suite:
    ``eval_tokens = sum_lang n_lang x sequences x max_seq_length x (1 + attacks)``,
    on rank 0 (``/ eval_rate``). Retrieval targets only encode both sides of
    each pair (and BUCC's dev pairs for its threshold), at the task's length.
a replicated intermediate (``confirm.replicate_intermediate``)
    one run of the intermediate cell's configuration per (intermediate,
    confirm seed), shared by the targets of that intermediate: a row of the
    confirm stage (its GPU-hours count there, its runs are not units).
GPU-hours of a unit
    wall time x G: the trial holds all its GPUs.

With checkpoint reuse (what raygrid does) each intermediate cell runs its
trials once and its best checkpoint is shared by every target cell. Without
reuse, every unit that starts from an intermediate checkpoint (each target
trial, each confirm run, each evaluate-only target) retrains it once with the
intermediate cell's config (the replicated intermediates, already retrained
per seed, are then shared by no one).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from raygrid.estimate.sizes import QA_WINDOWS_PER_EXAMPLE, english_dev, english_train, eval_size
from raygrid.estimate.throughput import Throughput
from raygrid.grid import Cell, Grid, expand
from raygrid.spec import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    Stage,
    StageSpace,
    SweepSpec,
)

#: What TrainConfig uses when the spec leaves these out (raygrid.train.config).
DEFAULT_EVALS_PER_EPOCH = 1
DEFAULT_MIXING_CAP = 20_000


class EpochsPolicy(str, Enum):
    """How a searched hyper-parameter (epochs, length, evaluations) is costed."""

    MEAN = "mean"  # the distribution's mean: the expected cost of a trial
    MAX = "max"  # its upper bound: the most a trial can cost


def policy_value(value: Any, policy: EpochsPolicy) -> float:
    """A number for a fixed value or distribution under ``policy``.

    Uniform: (low + high) / 2; log-uniform: (high - low) / ln(high / low);
    stepped or integer: the mean of its grid; categorical: of its choices.

    Example:
        >>> policy_value(IntDistribution(low=1, high=3), EpochsPolicy.MEAN)
        2.0
    """
    if isinstance(value, CategoricalDistribution):
        numbers = [float(v) for v in value.choices]
        return max(numbers) if policy is EpochsPolicy.MAX else statistics.fmean(numbers)
    if isinstance(value, IntDistribution) or (isinstance(value, FloatDistribution) and value.step is not None):
        grid = [float(v) for v in value.grid_values() or ()]
        return max(grid) if policy is EpochsPolicy.MAX else statistics.fmean(grid)
    if isinstance(value, FloatDistribution):
        if policy is EpochsPolicy.MAX:
            return value.high
        if value.log and value.high > value.low:
            return (value.high - value.low) / math.log(value.high / value.low)
        return (value.low + value.high) / 2
    return float(value)


def sequences_per_example(task: str) -> float:
    """Encoded sequences per example: choices (multiple choice), windows (QA), 1."""
    from raygrid.tasks import get_task
    from raygrid.tasks.types import FormatName

    spec = get_task(task)
    if spec.format is FormatName.MULTIPLE_CHOICE:
        return float(spec.num_choices or 1)
    if spec.format is FormatName.SPAN_QA:
        return QA_WINDOWS_PER_EXAMPLE
    if spec.format is FormatName.RETRIEVAL:
        return 2.0  # source and target sentence
    return 1.0


@dataclass(frozen=True)
class RunCost:
    """One training run of a cell's configuration.

    Attributes:
        epochs: passes over the training data.
        max_seq_length: tokens per sequence.
        sequences_per_epoch: encoded training sequences in one epoch.
        train_tokens: padded tokens trained on.
        dev_tokens: padded tokens of the English-dev evaluations (per worker).
    """

    epochs: float
    max_seq_length: float
    sequences_per_epoch: float
    train_tokens: float
    dev_tokens: float

    def wall_hours(self, rate: Throughput, gpus: int) -> float:
        return (self.train_tokens / (rate.train_tokens_per_s * gpus) + self.dev_tokens / rate.eval_tokens_per_s) / 3600


def run_cost(spec: SweepSpec, tasks: tuple[str, ...], space: StageSpace, policy: EpochsPolicy) -> RunCost:
    """The cost of one run training ``tasks`` with ``space``'s values under ``policy``.

    Unset hyper-parameters take the tasks' defaults as
    :func:`raygrid.cell.train_config` does: the first task's epochs, the
    longest default length."""
    from raygrid.tasks import get_task

    specs = [get_task(t) for t in tasks]
    params = space.params()
    epochs = policy_value(params.get("num_epochs", specs[0].defaults.num_epochs), policy)
    length = policy_value(params.get("max_seq_length", max(t.defaults.max_seq_length for t in specs)), policy)
    evals = policy_value(params.get("evals_per_epoch", DEFAULT_EVALS_PER_EPOCH), policy)
    eval_cap = spec.data.max_eval_examples
    per_epoch = 0.0
    dev = 0.0
    for task in tasks:
        examples = english_train(task)
        train_cap = spec.data.train_cap(task)
        if train_cap is not None:
            examples = min(examples, train_cap)
        if len(tasks) > 1:  # examples-proportional mixing with a cap (raygrid.train.batching)
            examples = min(examples, DEFAULT_MIXING_CAP)
        per_epoch += examples * sequences_per_example(task)
        dev_examples = english_dev(task)
        if eval_cap is not None:
            dev_examples = min(dev_examples, eval_cap)
        dev += dev_examples * sequences_per_example(task)
    evaluations = max(1, math.ceil(epochs * evals - 1e-9))
    return RunCost(epochs, length, per_epoch, epochs * per_epoch * length, evaluations * dev * length)


@dataclass(frozen=True)
class EvalCost:
    """Zero-shot evaluation of one confirm unit.

    Attributes:
        tokens: padded forward tokens (all languages, clean and attacked).
        examples: examples scored per pass (all languages).
        passes: 1 + attacks (retrieval: 1).
        approximate: languages whose size is the task's median, not a real figure.
    """

    tokens: float
    examples: int
    passes: int
    approximate: tuple[str, ...]


def eval_cost(spec: SweepSpec, cell: Cell, length: float) -> EvalCost:
    """What the confirm stage evaluates for ``cell`` (a target or confirm cell)."""
    from raygrid.tasks import available_splits, get_task

    task = get_task(str(cell.target))
    retrieval = not task.trainable
    passes = 1 if retrieval else 1 + len(spec.attacks)
    cap = spec.data.max_eval_examples
    examples = 0
    approximate: list[str] = []
    for language in cell.languages:
        have = [s.value for s in available_splits(task, language)]
        wanted = spec.confirm.eval_split or ("test" if "test" in have else "dev")
        split = wanted if wanted in have else ("test" if "test" in have else "dev")
        splits = [split]
        if task.name == "bucc" and split != "dev" and "dev" in have:
            splits.append("dev")  # the similarity threshold is calibrated on dev
        for name in splits:
            size, exact = eval_size(task.name, language, name)
            if not exact:
                approximate.append(f"{language}/{name}")
            examples += min(size, cap) if cap is not None else size
    sequences = examples * sequences_per_example(task.name)
    eval_length = task.defaults.max_seq_length if retrieval else length
    return EvalCost(sequences * eval_length * passes, examples, passes, tuple(approximate))


@dataclass(frozen=True)
class CellEstimate:
    """The cost of one cell's units (trials; for confirm, its seeds).

    Attributes:
        stage: intermediate, target or confirm (one entry per target cell).
        name: the cell's label (``mnli``, ``mnli -> xnli``).
        units: trials, or confirm runs.
        run: one training run (``None``: evaluate-only).
        eval: zero-shot evaluation per unit (confirm only).
        gpu_hours_per_unit: held GPU-hours of one unit.
        replicated: a row of an intermediate's own checkpoints per confirm
            seed (``confirm.replicate_intermediate``): ``units`` are
            intermediate runs inside confirm units, not units of their own.
    """

    stage: Stage
    name: str
    units: int
    run: RunCost | None
    eval: EvalCost | None
    gpu_hours_per_unit: float
    replicated: bool = False

    @property
    def gpu_hours(self) -> float:
        return self.units * self.gpu_hours_per_unit

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.stage.value,
            "name": self.name,
            "units": self.units,
            "gpu_hours_per_unit": self.gpu_hours_per_unit,
            "gpu_hours": self.gpu_hours,
            "epochs": None,
            "max_seq_length": None,
            "train_sequences_per_epoch": None,
            "train_tokens_per_unit": 0.0,
            "dev_tokens_per_unit": 0.0,
            "eval_tokens_per_unit": 0.0,
            "approximate_sizes": [],
            "replicated_intermediate": self.replicated,
        }
        if self.run is not None:
            out.update(
                epochs=self.run.epochs,
                max_seq_length=self.run.max_seq_length,
                train_sequences_per_epoch=self.run.sequences_per_epoch,
                train_tokens_per_unit=self.run.train_tokens,
                dev_tokens_per_unit=self.run.dev_tokens,
            )
        if self.eval is not None:
            out.update(eval_tokens_per_unit=self.eval.tokens, approximate_sizes=list(self.eval.approximate))
        return out


@dataclass(frozen=True)
class Estimate:
    """A sweep's estimated cost (see the module docstring for the formula).

    Attributes:
        spec: the spec estimated.
        throughput: tokens/s per GPU used.
        gpus_per_unit: GPUs one trial holds (workers x GPUs per worker).
        policy: how searched values were costed.
        cells: per intermediate and target cell, and per target cell's confirm runs.
        retrained_intermediates: intermediate runs added without reuse.
        without_reuse_extra_gpu_hours: their GPU-hours.
    """

    spec: SweepSpec
    throughput: Throughput
    gpus_per_unit: int
    policy: EpochsPolicy
    cells: tuple[CellEstimate, ...]
    retrained_intermediates: int
    without_reuse_extra_gpu_hours: float
    grid: Grid = field(repr=False)

    def stage(self, stage: Stage) -> dict[str, Any]:
        """Cells, trials / runs, tokens and GPU-hours of one stage."""
        cells = [c for c in self.cells if c.stage is stage]
        return {
            "cells": len(self.grid.cells_of(stage)),
            "trials": sum(c.n_trials for c in self.grid.cells_of(stage)),
            "units": sum(c.units for c in cells if not c.replicated),
            "train_tokens": sum(c.units * (c.run.train_tokens if c.run else 0.0) for c in cells),
            "eval_tokens": sum(
                c.units * ((c.run.dev_tokens if c.run else 0.0) + (c.eval.tokens if c.eval else 0.0)) for c in cells
            ),
            "gpu_hours": sum(c.gpu_hours for c in cells),
        }

    @property
    def gpu_hours_with_reuse(self) -> float:
        return sum(c.gpu_hours for c in self.cells)

    @property
    def gpu_hours_without_reuse(self) -> float:
        return self.gpu_hours_with_reuse + self.without_reuse_extra_gpu_hours

    @property
    def replicated_intermediates(self) -> int:
        """Intermediate runs the confirm stage adds (``confirm.replicate_intermediate``)."""
        return sum(c.units for c in self.cells if c.replicated)

    @property
    def replicated_intermediate_gpu_hours(self) -> float:
        return sum(c.gpu_hours for c in self.cells if c.replicated)

    @property
    def eval_gpu_hours(self) -> float:
        """GPU-hours of the confirm stage's zero-shot evaluation (clean + attacked)."""
        hours = 0.0
        for cell in self.cells:
            if cell.eval is not None:
                hours += cell.units * cell.eval.tokens / self.throughput.eval_tokens_per_s / 3600 * self.gpus_per_unit
        return hours

    def to_json(self) -> dict[str, Any]:
        """A JSON object with stable keys (``raygrid plan --json``)."""
        return {
            "name": self.spec.name,
            "model": self.spec.model.name_or_path,
            "throughput": {
                "train_tokens_per_s_per_gpu": self.throughput.train_tokens_per_s,
                "eval_tokens_per_s_per_gpu": self.throughput.eval_tokens_per_s,
                "source": self.throughput.source,
            },
            "gpus_per_unit": self.gpus_per_unit,
            "epochs_policy": self.policy.value,
            "pruner": str(self.spec.early_stopping.type),
            "upper_bound": True,
            "data_caps": {
                "max_train_examples": self.spec.data.max_train_examples,
                "max_train_examples_per_task": dict(self.spec.data.max_train_examples_per_task),
                "max_eval_examples": self.spec.data.max_eval_examples,
            },
            "attacks": len(self.spec.attacks),
            "stages": {stage.value: self.stage(stage) for stage in Stage},
            "cells": [cell.to_json() for cell in self.cells],
            "totals": {
                "gpu_hours_with_reuse": self.gpu_hours_with_reuse,
                "gpu_hours_without_reuse": self.gpu_hours_without_reuse,
                "saved_gpu_hours": self.without_reuse_extra_gpu_hours,
                "retrained_intermediates": self.retrained_intermediates,
                "eval_gpu_hours": self.eval_gpu_hours,
                "replicate_intermediate": self.spec.confirm.replicate_intermediate,
                "replicated_intermediates": self.replicated_intermediates,
                "replicated_intermediate_gpu_hours": self.replicated_intermediate_gpu_hours,
            },
        }


def gpus_per_unit(spec: SweepSpec) -> int:
    """GPUs one trial holds; a CPU spec is costed as if each worker had one."""
    resources = spec.resources
    per_worker = resources.gpus_per_worker if resources.use_gpu else 1.0
    return max(1, math.ceil(resources.num_workers * per_worker))


def estimate(spec: SweepSpec, throughput: Throughput, *, policy: EpochsPolicy = EpochsPolicy.MEAN) -> Estimate:
    """The estimated cost of ``spec``'s sweep (see the module docstring)."""
    grid = expand(spec)
    gpus = gpus_per_unit(spec)
    cells: list[CellEstimate] = []
    intermediate_runs: dict[str, RunCost] = {}
    for cell in grid.cells_of(Stage.INTERMEDIATE):
        run = run_cost(spec, cell.tasks, cell.search_space or StageSpace(), policy)
        intermediate_runs[cell.key] = run
        cells.append(CellEstimate(Stage.INTERMEDIATE, cell.name, cell.n_trials, run, None, run.wall_hours(throughput, gpus) * gpus))
    confirm_units: dict[str, int] = {}
    for unit in grid.cells_of(Stage.CONFIRM):
        confirm_units[unit.depends_on[0]] = confirm_units.get(unit.depends_on[0], 0) + 1
    extra_runs = 0
    extra_hours = 0.0
    for cell in grid.cells_of(Stage.TARGET):
        target_run = None if cell.evaluate_only else run_cost(spec, cell.tasks, cell.search_space or StageSpace(), policy)
        if target_run is not None:
            target_hours = target_run.wall_hours(throughput, gpus)
            cells.append(CellEstimate(Stage.TARGET, cell.name, cell.n_trials, target_run, None, target_hours * gpus))
        evaluation = eval_cost(spec, cell, target_run.max_seq_length if target_run else 0.0)
        per_unit = (target_run.wall_hours(throughput, gpus) if target_run else 0.0) + evaluation.tokens / throughput.eval_tokens_per_s / 3600
        cells.append(CellEstimate(Stage.CONFIRM, cell.name, confirm_units.get(cell.key, 0), target_run, evaluation, per_unit * gpus))
        if cell.depends_on:
            parent = intermediate_runs[cell.depends_on[0]]
            retrains = cell.n_trials + confirm_units.get(cell.key, 0)
            extra_runs += retrains
            extra_hours += retrains * parent.wall_hours(throughput, gpus) * gpus
    for row in _replicated_rows(grid, intermediate_runs, throughput, gpus):
        cells.append(row)
        extra_runs -= row.units  # counted above as retrained without reuse, but always retrained
        extra_hours -= row.gpu_hours
    return Estimate(spec, throughput, gpus, policy, tuple(cells), extra_runs, extra_hours, grid)


def _replicated_rows(
    grid: Grid, intermediate_runs: Mapping[str, RunCost], throughput: Throughput, gpus: int
) -> list[CellEstimate]:
    """Per intermediate cell, its own checkpoints per confirm seed
    (``confirm.replicate_intermediate``; none when off): one run each of
    the cell's configuration, shared by its targets."""
    seeds: dict[str, int] = {}
    for owner in grid.replicated_intermediates().values():
        intermediate = grid.by_key[owner.depends_on[0]].depends_on[0]
        seeds[intermediate] = seeds.get(intermediate, 0) + 1
    rows = []
    for key, count in seeds.items():
        run = intermediate_runs[key]
        name = f"{grid.by_key[key].name} (retrained per seed)"
        rows.append(CellEstimate(Stage.CONFIRM, name, count, run, None, run.wall_hours(throughput, gpus) * gpus, replicated=True))
    return rows


def stage_rows(result: Estimate) -> Mapping[str, dict[str, Any]]:
    """``stage -> summary`` in stage order (for the table)."""
    return {stage.value: result.stage(stage) for stage in Stage}


__all__ = [
    "CellEstimate",
    "EpochsPolicy",
    "EvalCost",
    "Estimate",
    "RunCost",
    "estimate",
    "eval_cost",
    "gpus_per_unit",
    "policy_value",
    "run_cost",
    "sequences_per_example",
    "stage_rows",
]
