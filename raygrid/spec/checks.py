"""The checks across a spec's fields (field types are pydantic's job).

:func:`check_spec` runs them all, from :class:`~raygrid.spec.SweepSpec`'s
validator; each raises :class:`~raygrid.spec.base.Invalid` with the field
path, the problem and what is allowed (rendered as one line by
:mod:`raygrid.spec.messages`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from raygrid.errors import one_of
from raygrid.hparams import MAX_SEED
from raygrid.spec.attacks import check_attacks
from raygrid.spec.base import Invalid
from raygrid.spec.entries import ALL, MIXTURE_SEPARATOR, NONE, resolve_intermediate
from raygrid.spec.enums import DataSource, Stage
from raygrid.spec.space import (
    PARAMS,
    CategoricalDistribution,
    Distribution,
    DistributionBase,
    FloatDistribution,
    IntDistribution,
    Scalar,
    StageSpace,
    param_problem,
)
from raygrid.spec.storage import storage_syntax

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.spec.schema import SweepSpec
    from raygrid.sweep.search import SearchAlgorithm

_MAX_SEED = MAX_SEED
#: Limits on sizes no real sweep reaches: a typo (``1000000000000``) fails at
#: load instead of planning a study that never ends.
MAX_TRIALS_PER_CELL = 100_000
MAX_CONFIRM_SEEDS = 1_000
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_spec(spec: SweepSpec) -> None:
    """Every semantic check of a spec, in order (the first failure is raised)."""
    _check_scalars(spec)
    _check_runtime(spec)
    _check_grid(spec)
    _check_search(spec)


def _check_int(path: Sequence[str | int], value: int | None, low: int, allowed: str) -> None:
    if value is not None and value < low:
        raise Invalid(path, f"bad value {value!r}", allowed)


def _check_seed(path: Sequence[str | int], value: int | None) -> None:
    if value is not None and not 0 <= value <= _MAX_SEED:
        raise Invalid(path, f"bad seed {value!r}", f"an integer in [0, {_MAX_SEED}]")


def _check_scalars(spec: SweepSpec) -> None:
    if not _NAME_PATTERN.fullmatch(spec.name):  # fullmatch: '$' would let a trailing newline through
        raise Invalid(("name",), f"bad name {spec.name!r}", "letters, digits, '.', '_' and '-' (it names a folder)")
    if not spec.model.name_or_path.strip():
        raise Invalid(("model", "name_or_path"), "empty", "a hub id or a local directory")
    if spec.model.trust_remote_code:
        raise Invalid(
            ("model", "trust_remote_code"),
            "true: a spec may not let transformers run the model's own code",
            "false or absent; set it with --trust-remote-code on the command line",
        )
    _check_printable(("model", "name_or_path"), spec.model.name_or_path)
    for index, directory in enumerate(spec.data.local_dirs):
        if not directory.strip():
            raise Invalid(("data", "local_dirs", index), "empty", "a directory path")
        _check_printable(("data", "local_dirs", index), directory)
    _check_int(("data", "max_train_examples"), spec.data.max_train_examples, 1, "an integer >= 1 or null")
    _check_int(("data", "max_eval_examples"), spec.data.max_eval_examples, 1, "an integer >= 1 or null")
    _check_unique(("data", "local_dirs"), spec.data.local_dirs, "directory")
    _check_seed(("seed",), spec.seed)


def _check_printable(path: Sequence[str | int], text: str) -> None:
    """Refuses a control character (a newline pasted at the end of a path
    or hub id names another folder than the user sees)."""
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise Invalid(path, f"bad value {text!r}: holds a control character", "printable text")


def _check_unique(path: Sequence[str | int], values: Sequence[Any], what: str) -> None:
    seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise Invalid(
                (*path, index), f"duplicated {what} {value!r} (also at index {seen[value]})", f"each {what} once"
            )
        seen[value] = index


def _check_grid(spec: SweepSpec) -> None:
    from raygrid.tasks import get_task, task_names

    intermediates = task_names("intermediate")
    targets = task_names("target")
    entry_allowed = f"{NONE!r}, {ALL!r}, an intermediate task or a mixture 'a+b' of them: {one_of(intermediates)}"

    if not spec.intermediates:
        raise Invalid(("intermediates",), "empty grid: no intermediate entry", f"at least one of {entry_allowed}")
    seen: dict[tuple[str, ...] | str, int] = {}
    for index, entry in enumerate(spec.intermediates):
        path: tuple[str | int, ...] = ("intermediates", index)
        parts = [part.strip() for part in entry.split(MIXTURE_SEPARATOR)]
        if entry in (NONE, ALL):
            tasks: tuple[str, ...] | str = entry if entry == NONE else tuple(sorted(intermediates))
        else:
            for part in parts:
                if part in (NONE, ALL) and len(parts) > 1:
                    raise Invalid(path, f"{part!r} inside the mixture {entry!r}", entry_allowed)
                if part in targets:
                    raise Invalid(path, f"{part!r} is a target task, not an intermediate task", entry_allowed)
                if part not in intermediates:
                    raise Invalid(path, f"unknown intermediate task {part!r}", entry_allowed, guess=(part, intermediates))
            if len(set(parts)) != len(parts):
                raise Invalid(path, f"the mixture {entry!r} names a task twice", "each task once")
            if entry != MIXTURE_SEPARATOR.join(parts):
                raise Invalid(path, f"spaces in {entry!r}", "task names joined by '+' without spaces")
            tasks = tuple(sorted(parts))
        if tasks in seen:
            raise Invalid(
                path,
                f"duplicated intermediate entry {entry!r} (same tasks as intermediates[{seen[tasks]}])",
                "each entry once",
            )
        seen[tasks] = index
        if spec.data.source is DataSource.HUB and not spec.data.local_dirs:
            for task_name in resolve_intermediate(entry):
                if get_task(task_name).hub is None:
                    raise Invalid(
                        path,
                        f"task {task_name!r} has no hub source and data.local_dirs is empty",
                        "data.local_dirs holding <dir>/" + task_name + "/{train,dev}.en.jsonl, or data.source: bundled",
                    )

    if not spec.targets:
        raise Invalid(("targets",), "empty grid: no target task", f"at least one of {one_of(targets)}")
    first: dict[str, int] = {}
    for index, target in enumerate(spec.targets):
        path = ("targets", index, "task")
        if target.task in intermediates:
            raise Invalid(path, f"{target.task!r} is an intermediate task, not a target task", one_of(targets))
        if target.task not in targets:
            raise Invalid(path, f"unknown target task {target.task!r}", one_of(targets), guess=(target.task, targets))
        if target.task in first:
            raise Invalid(path, f"duplicated target {target.task!r} (also targets[{first[target.task]}])", "each target once")
        first[target.task] = index
        task = get_task(target.task)
        if not target.languages:
            raise Invalid(("targets", index, "languages"), "empty", f"omit it (all) or some of {one_of(task.languages)}")
        for lang_index, language in enumerate(target.languages):
            if language not in task.languages:
                raise Invalid(
                    ("targets", index, "languages", lang_index),
                    f"unknown language {language!r} for task {task.name!r}",
                    one_of(task.languages),
                    guess=(language, task.languages),
                )
        _check_unique(("targets", index, "languages"), target.languages, "language")



def _check_param(path: tuple[str | int, ...], name: str, value: Scalar | Distribution) -> None:
    kind, _, allowed = PARAMS[name]
    integer = kind == "int"

    def check_value(where: tuple[str | int, ...], v: Any) -> None:
        problem = param_problem(name, v)
        if problem is not None:
            raise Invalid(where, problem, allowed)

    if isinstance(value, FloatDistribution):
        if integer:
            raise Invalid((*path, "type"), f"a float distribution for the integer {name}", "'int' or 'categorical'")
        check_value((*path, "low"), value.low)
        check_value((*path, "high"), value.high)
        if value.low > value.high:
            raise Invalid(path, f"low {value.low!r} > high {value.high!r}", "low <= high")
        if value.step is not None:
            if value.log:
                raise Invalid((*path, "step"), "step with log: true", "step: null for a log distribution")
            if not value.step > 0:
                raise Invalid((*path, "step"), f"bad value {value.step!r}", "a number > 0 or null")
        if value.log and not value.low > 0:
            raise Invalid((*path, "low"), f"log distribution with low {value.low!r}", "low > 0")
    elif isinstance(value, IntDistribution):
        check_value((*path, "low"), value.low)
        check_value((*path, "high"), value.high)
        if value.low > value.high:
            raise Invalid(path, f"low {value.low!r} > high {value.high!r}", "low <= high")
        if value.step < 1:
            raise Invalid((*path, "step"), f"bad value {value.step!r}", "an integer >= 1")
        if value.log and value.step != 1:
            raise Invalid((*path, "step"), "step != 1 with log: true", "step: 1 for a log distribution")
        if value.log and value.low < 1:
            raise Invalid((*path, "low"), f"log distribution with low {value.low!r}", "low >= 1")
    elif isinstance(value, CategoricalDistribution):
        if not value.choices:
            raise Invalid((*path, "choices"), "empty", "one or more values")
        for index, choice in enumerate(value.choices):
            check_value((*path, "choices", index), choice)
        _check_unique((*path, "choices"), value.choices, "choice")
    else:
        check_value(path, value)


def _values(space: StageSpace, name: str, default: int) -> tuple[Any, ...] | None:
    """The values ``name`` can take in ``space`` (None: not enumerable)."""
    value = space.params().get(name)
    if value is None:
        return (default,)
    if isinstance(value, DistributionBase):
        return value.grid_values()
    return (value,)


def _check_search(spec: SweepSpec) -> None:
    from raygrid.sweep.search import get_sampler
    from raygrid.tasks import get_task

    space = spec.search_space
    trainable_targets = [t.task for t in spec.targets if get_task(t.task).trainable]
    overlay_allowed = [e for e in spec.intermediates if e != NONE] + trainable_targets
    for stage in (Stage.INTERMEDIATE, Stage.TARGET):
        for name, value in getattr(space, stage.value).params().items():
            _check_param(("search_space", stage.value, name), name, value)
    capped = sorted({t for e in spec.intermediates if e != NONE for t in resolve_intermediate(e)}) + trainable_targets
    for key, cap in spec.data.max_train_examples_per_task.items():
        if key not in capped:
            raise Invalid(
                ("data", "max_train_examples_per_task", key),
                f"{key!r} trains in no cell of the grid",
                one_of(capped),
                guess=(key, capped),
            )
        _check_int(("data", "max_train_examples_per_task", key), cap, 1, "an integer >= 1")
    for key, overlay in space.per_task.items():
        if key not in overlay_allowed:
            retrieval = key in {t.task for t in spec.targets}
            problem = f"{key!r} is a retrieval target: it has no trials" if retrieval else f"{key!r} is not in the grid"
            raise Invalid(
                ("search_space", "per_task", key), problem, one_of(overlay_allowed), guess=(key, overlay_allowed)
            )
        for name, value in overlay.params().items():
            _check_param(("search_space", "per_task", key, name), name, value)

    for stage in (Stage.INTERMEDIATE, Stage.TARGET):
        allowed = f"an integer >= 1 and <= {MAX_TRIALS_PER_CELL} (MAX_TRIALS_PER_CELL)"
        _check_int(("n_trials", stage.value), spec.trials_for(stage), 1, allowed)
        if spec.trials_for(stage) > MAX_TRIALS_PER_CELL:
            raise Invalid(("n_trials", stage.value), f"bad value {spec.trials_for(stage)!r}", allowed)

    # Each cell: the space it really searches, and its batch arithmetic.
    sampler = get_sampler(spec.sampler.type)
    cells: list[tuple[Stage, str, tuple[str, ...]]] = [
        (Stage.INTERMEDIATE, e, resolve_intermediate(e)) for e in spec.intermediates if e != NONE
    ] + [(Stage.TARGET, t, (t,)) for t in trainable_targets]
    for stage, name, tasks in cells:
        cell_space = spec.space_for(stage, name)
        where = f"the {stage.value} cell {name!r}"
        n_trials = spec.trials_for(stage)
        if n_trials > 1 and not cell_space.distributions():
            raise Invalid(
                ("n_trials", stage.value),
                f"{n_trials} trials of {where}, whose search space has no distribution (every trial is the same)",
                "1, or a distribution in search_space",
            )
        if sampler.enumerable_only:
            for param, dist in cell_space.distributions().items():
                if dist.grid_values() is None:
                    raise Invalid(
                        ("search_space", stage.value, param),
                        f"a continuous distribution with sampler.type {spec.sampler.type!r} ({where})",
                        "int, categorical or a float with a step",
                    )
        batch_default = min(get_task(t).defaults.batch_size for t in tasks)
        batches = _values(cell_space, "batch_size", batch_default)
        accumulations = _values(cell_space, "grad_accumulation_steps", 1)
        workers = spec.resources.num_workers
        for batch in batches or ():
            for accumulation in accumulations or ():
                if batch % (accumulation * workers):
                    raise Invalid(
                        ("search_space", stage.value, "batch_size"),
                        f"batch_size {batch} of {where} is not divisible by grad_accumulation_steps {accumulation}"
                        f" x resources.num_workers {workers}",
                        "an effective batch divisible by grad_accumulation_steps x num_workers",
                    )


    _check_sampler(spec)
    _check_pruner(spec)


def _check_sampler(spec: SweepSpec) -> None:
    from raygrid.sweep.search import get_sampler, options_of

    sampler = spec.sampler
    algorithm = get_sampler(sampler.type)
    _check_seed(("sampler", "seed"), sampler.seed)
    for name in type(sampler).model_fields:  # a field every sampler has, that this one does not use
        if name not in ("type", "seed") and name not in algorithm.options and getattr(sampler, name) is not None:
            raise Invalid(("sampler", name), f"set for sampler.type {sampler.type!r}", "null")
    _check_options(("sampler",), algorithm, options_of(algorithm, sampler))


def _check_pruner(spec: SweepSpec) -> None:
    from raygrid.sweep.search import get_pruner, options_of

    stopping = spec.early_stopping
    _check_int(("early_stopping", "min_resource"), stopping.min_resource, 1, "an integer >= 1")
    _check_int(("early_stopping", "reduction_factor"), stopping.reduction_factor, 2, "an integer >= 2")
    _check_int(("early_stopping", "n_startup_trials"), stopping.n_startup_trials, 0, "an integer >= 0")
    algorithm = get_pruner(stopping.type)
    _check_options(("early_stopping",), algorithm, options_of(algorithm, stopping))


def _check_options(path: tuple[str, ...], algorithm: SearchAlgorithm, values: Mapping[str, Any]) -> None:
    """The typed options of a sampler or pruner (raygrid.sweep.search.Option)."""
    for name, option in algorithm.options.items():
        problem = option.problem(values[name])
        if problem is not None:
            raise Invalid((*path, name), problem, option.allowed or None)


def _check_runtime(spec: SweepSpec) -> None:
    confirm = spec.confirm
    if not confirm.seeds:
        raise Invalid(("confirm", "seeds"), "empty", "one or more seeds, e.g. [0, 1, 2]")
    if len(confirm.seeds) > MAX_CONFIRM_SEEDS:
        raise Invalid(
            ("confirm", "seeds"), f"{len(confirm.seeds)} seeds", f"at most {MAX_CONFIRM_SEEDS} seeds (MAX_CONFIRM_SEEDS)"
        )
    for index, seed in enumerate(confirm.seeds):
        _check_seed(("confirm", "seeds", index), seed)
    _check_unique(("confirm", "seeds"), confirm.seeds, "seed")

    res = spec.resources
    _check_int(("resources", "num_workers"), res.num_workers, 1, "an integer >= 1")
    if not res.cpus_per_worker > 0:
        raise Invalid(("resources", "cpus_per_worker"), f"bad value {res.cpus_per_worker!r}", "a number > 0")
    if res.gpus_per_worker < 0:
        raise Invalid(("resources", "gpus_per_worker"), f"bad value {res.gpus_per_worker!r}", "a number >= 0")
    if res.use_gpu and res.gpus_per_worker == 0:
        raise Invalid(("resources", "gpus_per_worker"), "0 with use_gpu: true", "a number > 0 (default 1)")
    if not res.use_gpu and res.gpus_per_worker > 0:
        raise Invalid(
            ("resources", "gpus_per_worker"), f"{res.gpus_per_worker!r} with use_gpu: false", "0, or use_gpu: true"
        )
    _check_int(("max_concurrent_trials",), spec.max_concurrent_trials, 1, "an integer >= 1 or null")
    _check_int(("max_failures",), spec.max_failures, 0, "an integer >= 0")
    storage_problem = storage_syntax(spec.storage)
    if storage_problem:
        raise Invalid(("storage",), storage_problem, "a local path or s3://bucket/prefix")
    check_attacks(spec)


__all__ = ["MAX_CONFIRM_SEEDS", "MAX_TRIALS_PER_CELL", "check_spec"]
