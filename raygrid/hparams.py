"""The one table of training hyper-parameters.

Each row names a numeric field of :class:`raygrid.train.config.TrainConfig`:
its type, default, bounds (as a check and the words of the ``allowed:``
part of an error), help text, whether a sweep may search it, and its
``raygrid cell`` option. Everything else is generated from this table:

- the search space of a spec stage (:class:`raygrid.spec.StageSpace`: one
  field per searchable row) and the check of every value it names;
- :class:`raygrid.cell.Overrides` (one field per searchable row) and the
  ``raygrid cell`` options (rows with a ``flag``);
- :class:`~raygrid.train.config.TrainConfig`'s checks of these fields.

So a new hyper-parameter is one row here plus its use in training.

Example:
    >>> problem("warmup_ratio", 1.5)
    'bad value 1.5'
    >>> ROWS["warmup_ratio"].allowed
    'a number in [0, 1)'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

#: Upper bounds no real run reaches: a typo (``1e30`` epochs) fails at once
#: instead of planning a run that never ends (or an OverflowError later).
MAX_EPOCHS = 1_000
MAX_BATCH_SIZE = 1_048_576
MAX_EVALS_PER_EPOCH = 10_000
#: Optuna and NumPy accept seeds in [0, 2**32).
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class HParam:
    """One row of the table.

    Attributes:
        name: the TrainConfig field (and search-space key, and Overrides field).
        kind: ``float`` or ``int``.
        default: TrainConfig's default.
        check: whether a value is allowed; gets the value and the other
            fields of the config (only ``doc_stride`` looks at them).
        allowed: the allowed values in words (the ``allowed:`` of errors).
        help: one line for ``--help`` and docs.
        searchable: a spec's search space (and ``Overrides``) may set it.
        flag: the ``raygrid cell`` option that sets it (``None``: none).
    """

    name: str
    kind: type
    default: float | int
    check: Callable[[Any, Mapping[str, Any]], bool]
    allowed: str
    help: str
    searchable: bool = True
    flag: str | None = None


def _row(name: str, kind: type, default: float | int, ok: Callable[[Any], bool], allowed: str, help: str,
         *, searchable: bool = True, flag: str | None = None) -> HParam:  # fmt: skip
    return HParam(name, kind, default, lambda value, _others: ok(value), allowed, help, searchable, flag)


_TABLE: tuple[HParam, ...] = (
    # searchable, in the order of a spec's search space
    _row("learning_rate", float, 1e-5, lambda v: v > 0, "a number > 0",
         "peak AdamW learning rate", flag="--learning-rate"),
    _row("num_epochs", float, 2.0, lambda v: 0 < v <= MAX_EPOCHS, f"a number > 0 and <= {MAX_EPOCHS}",
         "passes over the training data (fractions allowed)", flag="--epochs"),
    _row("batch_size", int, 32, lambda v: 1 <= v <= MAX_BATCH_SIZE, f"an integer >= 1 and <= {MAX_BATCH_SIZE}",
         "effective batch size", flag="--batch-size"),
    _row("grad_accumulation_steps", int, 1, lambda v: 1 <= v <= MAX_BATCH_SIZE,
         f"an integer >= 1 and <= {MAX_BATCH_SIZE}", "micro-batches per optimizer step",
         flag="--grad-accumulation-steps"),
    _row("max_seq_length", int, 256, lambda v: 8 <= v <= 4096, "an integer in [8, 4096]",
         "tokens per sequence", flag="--max-seq-length"),
    _row("warmup_ratio", float, 0.1, lambda v: 0 <= v < 1, "a number in [0, 1)",
         "fraction of steps with linear warm-up"),
    _row("weight_decay", float, 0.01, lambda v: v >= 0, "a number >= 0", "AdamW decoupled weight decay"),
    _row("evals_per_epoch", int, 1, lambda v: 1 <= v <= MAX_EVALS_PER_EPOCH,
         f"an integer >= 1 and <= {MAX_EVALS_PER_EPOCH}", "English-dev evaluations per epoch"),
    # fixed by raygrid (TrainConfig's checks only)
    _row("max_grad_norm", float, 1.0, lambda v: v >= 0, "a number >= 0", "gradient clipping (0: off)",
         searchable=False),
    HParam("doc_stride", int, 128, lambda v, others: 0 < v < others["max_seq_length"],
           "an integer in (0, max_seq_length)", "span QA window overlap, tokens", searchable=False),
    _row("mixing_cap", int, 20_000, lambda v: v >= 1, "an integer >= 1",
         "multi-task: each task's size capped at this many examples", searchable=False),
    _row("eval_batch_size", int, 64, lambda v: v >= 1, "an integer >= 1", "batch size of dev evaluation",
         searchable=False),
)  # fmt: skip

#: Every row, by name, in table order.
ROWS: Mapping[str, HParam] = MappingProxyType({row.name: row for row in _TABLE})
#: The rows a search space (and ``Overrides``) may set, by name.
SEARCHABLE: Mapping[str, HParam] = MappingProxyType({n: r for n, r in ROWS.items() if r.searchable})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` as the searchable hyper-parameter ``name``
    (``None``: nothing): the one check of a value, shared by the spec's search
    spaces and :class:`raygrid.cell.Overrides` (``raygrid cell``'s options).
    The allowed values are ``SEARCHABLE[name].allowed``."""
    row = SEARCHABLE[name]
    if row.kind is int and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"bad value {value!r}: {name} is an integer"
    if row.kind is not int and not _is_number(value):
        return f"bad value {value!r}: {name} is a number"
    if not math.isfinite(value) or not row.check(value, {}):
        return f"bad value {value!r}"
    return None


__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_EPOCHS",
    "MAX_EVALS_PER_EPOCH",
    "MAX_SEED",
    "ROWS",
    "SEARCHABLE",
    "HParam",
    "problem",
]
