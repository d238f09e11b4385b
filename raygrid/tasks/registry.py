"""The task catalogue: every task registered once, looked up by name.

Example:
    >>> get_task("xnli").train_task
    'mnli'
    >>> resolve_data_task("xnli", "train").name
    'mnli'
    >>> [s.value for s in available_splits("udpos", "th")]
    ['test']
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from raygrid.errors import ConfigError, one_of, unknown
from raygrid.tasks.intermediate import INTERMEDIATE_TASKS, LOCAL_SPLITS
from raygrid.tasks.types import Role, Split, TaskSpec
from raygrid.tasks.xtreme import LANGUAGE_SPLITS, XTREME_TASKS

#: The catalogue, in order: intermediate tasks, then XTREME targets.
CATALOGUE: tuple[TaskSpec, ...] = INTERMEDIATE_TASKS + XTREME_TASKS

_BY_NAME: Mapping[str, TaskSpec] = MappingProxyType({task.name: task for task in CATALOGUE})
if len(_BY_NAME) != len(CATALOGUE):  # pragma: no cover - a programming error, caught by the tests too
    raise RuntimeError("duplicate task names in the catalogue")


def get_task(name: TaskSpec | str) -> TaskSpec:
    """The catalogue entry called ``name`` (a TaskSpec is returned as is).

    Raises:
        ConfigError: no task has that name (the message lists them).
    """
    if isinstance(name, TaskSpec):
        return name
    key = str(name).strip().lower()
    try:
        return _BY_NAME[key]
    except KeyError:
        raise ConfigError(unknown("task", name, _BY_NAME)) from None


def all_tasks() -> tuple[TaskSpec, ...]:
    """Every task, intermediate tasks first, in catalogue order."""
    return CATALOGUE


def task_names(role: Role | str | None = None) -> tuple[str, ...]:
    """Task names in catalogue order, optionally only those of one role."""
    if role is None:
        return tuple(task.name for task in CATALOGUE)
    try:
        wanted = Role(role)
    except ValueError:
        raise ConfigError(unknown("role", role, [r.value for r in Role])) from None
    return tuple(task.name for task in CATALOGUE if task.role is wanted)


def parse_split(split: Split | str) -> Split:
    """``Split`` from its value (``"train"``, ``"dev"``, ``"test"``)."""
    try:
        return Split(split)
    except ValueError:
        raise ConfigError(unknown("split", split, [s.value for s in Split])) from None


def check_language(task: TaskSpec, language: str) -> str:
    """``language`` if ``task`` has it, else a ConfigError listing its languages."""
    if language not in task.languages:
        raise ConfigError(f"task {task.name!r}: {unknown('language', language, task.languages)}")
    return language


def available_splits(task: TaskSpec | str, language: str) -> tuple[Split, ...]:
    """The raygrid splits ``task`` has in ``language``, in train/dev/test order.

    A target's ``train`` split exists for English only (zero-shot protocol);
    some hub configs lack splits (:data:`raygrid.tasks.xtreme.LANGUAGE_SPLITS`).
    """
    spec = get_task(task)
    check_language(spec, language)
    declared = set(spec.hub.splits) if spec.hub is not None else set(LOCAL_SPLITS.get(spec.name, ()))
    declared &= set(LANGUAGE_SPLITS.get(spec.name, {}).get(language, tuple(Split)))
    if spec.role is Role.TARGET and language != "en":
        declared.discard(Split.TRAIN)
    return tuple(s for s in Split if s in declared)


def check_split(task: TaskSpec, split: Split | str, language: str) -> Split:
    """``split`` parsed, if ``task`` has it in ``language``; else a ConfigError
    that lists the splits it has and, for ``train``/``dev`` supplied by another
    task, names that task."""
    wanted = parse_split(split)
    have = available_splits(task, language)
    if wanted in have:
        return wanted
    message = (
        f"task {task.name!r} has no {wanted.value!r} split for language {language!r}; "
        f"allowed: {one_of(s.value for s in have)}"
    )
    source = resolve_data_task(task, wanted)
    if source is not task:
        message += f" (its {wanted.value} data comes from task {source.name!r}: see resolve_data_task)"
    raise ConfigError(message)


def resolve_data_task(task: TaskSpec | str, split: Split | str) -> TaskSpec:
    """The catalogue entry that supplies ``task``'s English ``split`` data.

    Targets trained on another task's English data name it in ``train_task``
    (XNLI -> MNLI, XQuAD/MLQA -> SQuAD v1.1) and their English model-selection
    data in ``dev_task`` (defaulting to ``train_task``). Everything else,
    including every ``test`` split, comes from the task itself.

    Example:
        >>> resolve_data_task("xquad", "dev").name, resolve_data_task("mlqa", "dev").name
        ('squad', 'mlqa')
    """
    spec = get_task(task)
    wanted = parse_split(split)
    if wanted is Split.TRAIN and spec.train_task:
        return get_task(spec.train_task)
    if wanted is Split.DEV and (spec.dev_task or spec.train_task):
        return get_task(spec.dev_task or spec.train_task)  # type: ignore[arg-type]
    return spec


__all__ = [
    "CATALOGUE",
    "all_tasks",
    "available_splits",
    "check_language",
    "check_split",
    "get_task",
    "parse_split",
    "resolve_data_task",
    "task_names",
]
