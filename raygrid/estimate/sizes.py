"""Real split sizes of every catalogue task, for cost estimates (no download).

Each task's catalogue entry carries its sizes (:attr:`raygrid.tasks.TaskSpec.sizes`,
with where each figure comes from); this module reads them. Numbers are
examples as the Hugging Face hub serves them.

Training data of a target comes from its ``train_task`` and English dev data
from its ``dev_task`` (:func:`raygrid.tasks.resolve_data_task`): XNLI trains
on MNLI, XQuAD / MLQA / TyDiQA select on SQuAD v1.1 dev, etc. Those are looked
up under the supplying task.

Example:
    >>> english_train("xnli"), english_dev("xquad"), eval_size("xnli", "de", "test")
    (392702, 10570, (5010, True))
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from raygrid.tasks.registry import all_tasks, get_task, resolve_data_task
from raygrid.tasks.types import Role

#: Sequence windows per span-QA example at length 384, stride 128: SQuAD v1.1
#: contexts are short, about 1.01 windows per question. Longer MLQA / TyDiQA
#: contexts yield more windows, which this estimate does not model.
QA_WINDOWS_PER_EXAMPLE = 1.0


def english_train(task: str) -> int:
    """English training examples of the task that supplies ``task``'s train data.

    Raises:
        KeyError: that task has no training split.
    """
    source = resolve_data_task(task, "train")
    if source.sizes.train is None:
        raise KeyError(f"no train size for task {source.name!r}")
    return source.sizes.train


def english_dev(task: str) -> int:
    """English dev examples of the task that supplies ``task``'s dev data.

    Raises:
        KeyError: that task has no English dev split.
    """
    source = resolve_data_task(task, "dev")
    if "en" not in source.sizes.dev:
        raise KeyError(f"no English dev size for task {source.name!r}")
    return source.sizes.dev["en"]


def eval_size(task: str, language: str, split: str) -> tuple[int, bool]:
    """Examples of ``task``'s ``split`` (``dev`` or ``test``) in ``language``,
    and whether the figure is exact. A language missing from the table gets
    the median of the task's other languages (``False``)."""
    sizes = get_task(task).sizes
    table = sizes.test if split == "test" else sizes.dev
    if language in table:
        return table[language], True
    known = sorted(table.values())
    if not known:
        raise KeyError(f"no {split} sizes for task {task!r}")
    return known[len(known) // 2], False


# Views of the catalogue's sizes by task name (the catalogue at import time).

#: English training examples per task (the ``train`` split raygrid loads).
ENGLISH_TRAIN: Mapping[str, int] = MappingProxyType(
    {t.name: t.sizes.train for t in all_tasks() if t.sizes.train is not None}
)
#: English dev examples per task (model selection during trials).
ENGLISH_DEV: Mapping[str, int] = MappingProxyType({t.name: t.sizes.dev["en"] for t in all_tasks() if "en" in t.sizes.dev})
#: Per target, per language: the examples of its test split (what the confirm stage scores by default).
TEST: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {t.name: t.sizes.test for t in all_tasks() if t.role is Role.TARGET and t.sizes.test}
)
#: Per target, per language: the examples of its dev split, where scoring or
#: calibration uses it (``confirm.eval_split: dev``, BUCC's threshold).
DEV: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {t.name: t.sizes.dev for t in all_tasks() if t.role is Role.TARGET and t.sizes.dev}
)

__all__ = ["DEV", "ENGLISH_DEV", "ENGLISH_TRAIN", "QA_WINDOWS_PER_EXAMPLE", "TEST", "english_dev", "english_train", "eval_size"]
