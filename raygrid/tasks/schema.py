"""The canonical row schema of each format, as data and as ``datasets`` Features.

The schemas themselves are documented in :mod:`raygrid.tasks.types`; this
module turns them into (a) the column list per format, (b) ``datasets``
Features (built on demand, so importing this module stays cheap) and (c) a
row checker that tests and loaders share.

Example:
    >>> CANONICAL_COLUMNS[FormatName.TAGGING]
    ('tokens', 'tags')
    >>> from raygrid.tasks import get_task
    >>> check_canonical_row(get_task("sst2"), {"text_a": "fine", "text_b": None, "label": 1})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from raygrid.errors import DataError
from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Features

#: Columns of a canonical row, per format.
CANONICAL_COLUMNS: Mapping[FormatName, tuple[str, ...]] = {
    FormatName.CLASSIFICATION: ("text_a", "text_b", "label"),
    FormatName.MULTIPLE_CHOICE: ("context", "question", "choices", "label"),
    FormatName.SPAN_QA: ("id", "question", "context", "answers"),
    FormatName.TAGGING: ("tokens", "tags"),
    FormatName.RETRIEVAL: ("source", "target"),
}


def canonical_features(fmt: FormatName | str) -> Features:
    """``datasets.Features`` of the canonical rows of ``fmt``."""
    from datasets import Features, List, Value

    string = Value("string")
    table: dict[FormatName, dict[str, Any]] = {
        FormatName.CLASSIFICATION: {"text_a": string, "text_b": string, "label": Value("int64")},
        FormatName.MULTIPLE_CHOICE: {
            "context": string,
            "question": string,
            "choices": List(string),
            "label": Value("int64"),
        },
        FormatName.SPAN_QA: {
            "id": string,
            "question": string,
            "context": string,
            "answers": {"text": List(string), "answer_start": List(Value("int32"))},
        },
        FormatName.TAGGING: {"tokens": List(string), "tags": List(Value("int64"))},
        FormatName.RETRIEVAL: {"source": string, "target": string},
    }
    return Features(table[FormatName(fmt)])


def check_canonical_row(task: TaskSpec, row: Mapping[str, Any]) -> None:
    """Raises DataError unless ``row`` is a valid canonical row of ``task``'s format
    (right columns and types, labels in range, one tag per token, answers that
    are true spans of the context)."""

    def bad(what: str) -> DataError:
        return DataError(f"task {task.name!r}: canonical row {dict(row)!r:.200} {what}")

    expected = CANONICAL_COLUMNS[task.format]
    if tuple(sorted(row)) != tuple(sorted(expected)):
        raise bad(f"has columns {sorted(row)}; expected {sorted(expected)}")
    fmt = task.format
    if fmt is FormatName.CLASSIFICATION:
        if not isinstance(row["text_a"], str) or not (row["text_b"] is None or isinstance(row["text_b"], str)):
            raise bad("has non-string text")
        if not isinstance(row["label"], int) or not 0 <= row["label"] < (task.num_labels or 0):
            raise bad(f"has label {row['label']!r} outside 0..{(task.num_labels or 0) - 1}")
    elif fmt is FormatName.MULTIPLE_CHOICE:
        choices = row["choices"]
        if not isinstance(choices, list) or len(choices) != task.num_choices:
            raise bad(f"does not have {task.num_choices} choices")
        if not all(isinstance(c, str) for c in [row["context"], row["question"], *choices]):
            raise bad("has non-string text")
        if not isinstance(row["label"], int) or not 0 <= row["label"] < len(choices):
            raise bad(f"has label {row['label']!r} outside 0..{len(choices) - 1}")
    elif fmt is FormatName.SPAN_QA:
        context, answers = row["context"], row["answers"]
        if not all(isinstance(row[c], str) for c in ("id", "question", "context")):
            raise bad("has non-string text")
        if sorted(answers) != ["answer_start", "text"] or len(answers["text"]) != len(answers["answer_start"]):
            raise bad("has malformed answers")
        for answer, start in zip(answers["text"], answers["answer_start"], strict=True):
            if not context[start:].startswith(answer):
                raise bad(f"has answer {answer!r} that is not at context[{start}:]")
    elif fmt is FormatName.TAGGING:
        tokens, tags = row["tokens"], row["tags"]
        if len(tokens) != len(tags) or not all(isinstance(t, str) for t in tokens):
            raise bad("does not have one tag per token")
        if not all(isinstance(t, int) and 0 <= t < (task.num_labels or 0) for t in tags):
            raise bad(f"has tags outside 0..{(task.num_labels or 0) - 1}")
    elif fmt is FormatName.RETRIEVAL:
        if not isinstance(row["source"], str) or not isinstance(row["target"], str):
            raise bad("has non-string text")


__all__ = ["CANONICAL_COLUMNS", "canonical_features", "check_canonical_row"]
