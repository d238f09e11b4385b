"""Adapters: one hub row (dataset's own column schema) -> one canonical row.

Every adapter is a small frozen dataclass with ``__call__`` (picklable, so a
TaskSpec travels to Ray workers and ``datasets.map`` can fingerprint it). They
accept the same row from three places:

* the hub (``datasets`` types: ints for ClassLabel columns, lists, dicts);
* jsonl / parquet files written in the hub's column schema (same types);
* csv files, where every cell is a string: list- and dict-valued columns
  (``tokens``, ``endings``, ``answers``, ``choices``, ...) are JSON-encoded
  (``["a", "b"]``, ``{"text": ["x"], "answer_start": [3]}``) and integers
  are digit strings; the adapters decode both.

Labels and tags may be given as ids (the hub's ClassLabel ints) or as their
names (``"entailment"``, ``"B-PER"``), which is what hand-written local files
usually contain.

A bad value raises :class:`RowError` naming the field, the value and what is
allowed; :func:`raygrid.tasks.sources.load_rows` adds the file and row number.

Example:
    >>> PairClassification("premise", "hypothesis", ("entailment", "neutral", "contradiction"))(
    ...     {"premise": "A man sleeps.", "hypothesis": "A man is awake.", "label": "contradiction"})
    {'text_a': 'A man sleeps.', 'text_b': 'A man is awake.', 'label': 2}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raygrid.errors import one_of

# ---------------------------------------------------------------- value helpers


class RowError(ValueError):
    """A row has a bad value in one field (the loader adds file and row)."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"field {field!r} has bad value {shown}; allowed: {allowed}")
        self.field = field
        self.value = value
        self.allowed = allowed


def _decode_json(value: Any, field: str, kind: type, what: str) -> Any:
    """Decodes a JSON-encoded csv cell when ``value`` is a string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowError(field, value, f"{what} (csv cells hold JSON, e.g. {_example(kind)})") from None
    if not isinstance(value, kind):
        raise RowError(field, value, what)
    return value


def _example(kind: type) -> str:
    return '["a", "b"]' if kind is list else '{"text": ["a"], "answer_start": [0]}'


def text(row: Mapping[str, Any], field: str) -> str:
    """The string in ``row[field]``."""
    value = row[field]
    if not isinstance(value, str):
        raise RowError(field, value, "a string")
    return value


def string_list(row: Mapping[str, Any], field: str) -> list[str]:
    """A list of strings (JSON-encoded in csv)."""
    values = _decode_json(row[field], field, list, "a list of strings")
    if not all(isinstance(v, str) for v in values):
        raise RowError(field, values, "a list of strings")
    return list(values)


#: An integer written in ASCII digits. ``str.isdigit`` is not enough: it is
#: true for '²' and other Unicode digits that ``int()`` refuses, and
#: ``lstrip("-")`` let '--1' through.
_INTEGER = re.compile(r"[+-]?[0-9]+")


def is_integer_text(value: str) -> bool:
    """Whether ``value`` (surrounding spaces allowed) is an integer ``int()`` reads."""
    return _INTEGER.fullmatch(value.strip()) is not None


def as_int(value: Any, field: str, allowed: str) -> int:
    """An int from an int or a digit string (csv); bools are rejected."""
    if isinstance(value, bool):
        raise RowError(field, value, allowed)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and is_integer_text(value):
        return int(value.strip())
    raise RowError(field, value, allowed)


def label_id(value: Any, names: Sequence[str], field: str = "label") -> int:
    """A class id from an id (int or digit string) or a class name."""
    allowed = f"an id 0..{len(names) - 1} or one of {one_of(names)}"
    if isinstance(value, str) and value in names:
        return names.index(value)
    ident = as_int(value, field, allowed)
    if not 0 <= ident < len(names):
        raise RowError(field, value, allowed)
    return ident


def choice_id(value: Any, num_choices: int, field: str = "label") -> int:
    """The index of the correct choice (int or digit string)."""
    allowed = f"an id 0..{num_choices - 1}"
    ident = as_int(value, field, allowed)
    if not 0 <= ident < num_choices:
        raise RowError(field, value, allowed)
    return ident


def tag_ids(values: Any, names: Sequence[str], field: str, *, fallback: str | None = None) -> list[int]:
    """Tag ids from a list of ids or tag names (JSON-encoded in csv).

    ``fallback`` names the class that tags outside ``names`` map to (CCG's
    catch-all); without it an unknown tag is an error.
    """
    values = _decode_json(values, field, list, "a list of tag ids or tag names")
    index = {name: i for i, name in enumerate(names)}
    out: list[int] = []
    for value in values:
        if isinstance(value, str) and value in index:
            out.append(index[value])
        elif isinstance(value, str) and not is_integer_text(value):
            if fallback is None:
                raise RowError(field, value, f"a tag id 0..{len(names) - 1} or one of {one_of(names)}")
            out.append(index[fallback])
        else:
            out.append(label_id(value, names, field))
    return out


def answers(row: Mapping[str, Any], field: str = "answers") -> dict[str, list[Any]]:
    """SQuAD-layout answers ``{"text": [...], "answer_start": [...]}``."""
    allowed = 'an object {"text": [str, ...], "answer_start": [int, ...]} with lists of equal length'
    value = _decode_json(row[field], field, dict, allowed)
    texts, starts = value.get("text"), value.get("answer_start")
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        raise RowError(field, value, allowed)
    if not all(isinstance(t, str) for t in texts):
        raise RowError(field, value, allowed)
    return {"text": list(texts), "answer_start": [as_int(s, field, allowed) for s in starts]}


# ------------------------------------------------------------------- adapters


@dataclass(frozen=True)
class PairClassification:
    """Sentence-pair classification (MNLI, ANLI, QQP, XNLI, PAWS-X)."""

    first: str
    second: str
    label_names: tuple[str, ...]
    label: str = "label"

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "text_a": text(row, self.first),
            "text_b": text(row, self.second),
            "label": label_id(row[self.label], self.label_names, self.label),
        }


@dataclass(frozen=True)
class SingleClassification:
    """Single-sentence classification (SST-2)."""

    sentence: str
    label_names: tuple[str, ...]
    label: str = "label"

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "text_a": text(row, self.sentence),
            "text_b": None,
            "label": label_id(row[self.label], self.label_names, self.label),
        }


@dataclass(frozen=True)
class HellaSwag:
    """``Rowan/hellaswag``: the context is ``ctx_a``; ``ctx_b`` (the start of
    the sentence to complete) is put in front of every ending, as jiant's
    ``hellaswag`` task does. ``label`` is a string ("0".."3") on the hub;
    the test split's is empty (unlabelled)."""

    num_choices: int = 4

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        prefix = text(row, "ctx_b")
        endings = string_list(row, "endings")
        if len(endings) != self.num_choices:
            raise RowError("endings", endings, f"a list of {self.num_choices} strings")
        return {
            "context": text(row, "ctx_a"),
            "question": "",
            "choices": [f"{prefix} {ending}".strip() for ending in endings],
            "label": choice_id(row["label"], self.num_choices),
        }


@dataclass(frozen=True)
class CommonsenseQA:
    """``tau/commonsense_qa``: ``choices`` is ``{"label": ["A", ...], "text": [...]}``
    and ``answerKey`` the letter of the right one (empty in the test split)."""

    num_choices: int = 5

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        allowed = f'an object {{"label": [letters], "text": [strings]}} with {self.num_choices} entries each'
        choices = _decode_json(row["choices"], "choices", dict, allowed)
        letters, texts = choices.get("label"), choices.get("text")
        if (
            not isinstance(letters, list)
            or not isinstance(texts, list)
            or len(letters) != self.num_choices
            or len(texts) != self.num_choices
            or not all(isinstance(t, str) for t in texts)
        ):
            raise RowError("choices", choices, allowed)
        key = row["answerKey"]
        if key not in letters:
            raise RowError("answerKey", key, one_of(letters))
        return {"context": "", "question": text(row, "question"), "choices": list(texts), "label": letters.index(key)}


@dataclass(frozen=True)
class CosmosQA:
    """``allenai/cosmos_qa``: four answers in ``answer0``..``answer3``, ``label`` an int."""

    num_choices: int = 4

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "context": text(row, "context"),
            "question": text(row, "question"),
            "choices": [text(row, f"answer{i}") for i in range(self.num_choices)],
            "label": choice_id(row["label"], self.num_choices),
        }


@dataclass(frozen=True)
class SpanQA:
    """SQuAD-layout extractive QA (SQuAD, SQuAD v2, XQuAD, MLQA, TyDiQA-GoldP).

    Unanswerable questions (SQuAD v2) keep empty ``answers`` lists."""

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        ident = row["id"]
        if not isinstance(ident, (str, int)) or isinstance(ident, bool):
            raise RowError("id", ident, "a string")
        return {
            "id": str(ident),
            "question": text(row, "question"),
            "context": text(row, "context"),
            "answers": answers(row),
        }


@dataclass(frozen=True)
class Tagging:
    """Token tagging (UD-POS ``tokens``/``pos_tags``, PAN-X ``tokens``/``ner_tags``,
    CCG ``tokens``/``tags``). Tags are ids (hub ClassLabel) or names."""

    tokens: str
    tags: str
    label_names: tuple[str, ...]
    fallback: str | None = None

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        tokens = string_list(row, self.tokens)
        tags = tag_ids(row[self.tags], self.label_names, self.tags, fallback=self.fallback)
        if len(tags) != len(tokens):
            raise RowError(self.tags, row[self.tags], f"one tag per token ({len(tokens)} tokens)")
        return {"tokens": tokens, "tags": tags}


@dataclass(frozen=True)
class Retrieval:
    """BUCC / Tatoeba (``google/xtreme``): ``source_sentence`` is the non-English
    side, ``target_sentence`` the English one. Sentences are stripped: the
    original ``xtreme`` loading script kept each Tatoeba file line's line
    break, and stripping makes rows with and without it equal."""

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {"source": text(row, "source_sentence").strip(), "target": text(row, "target_sentence").strip()}


__all__ = [
    "CommonsenseQA",
    "CosmosQA",
    "HellaSwag",
    "PairClassification",
    "Retrieval",
    "RowError",
    "SingleClassification",
    "SpanQA",
    "Tagging",
    "answers",
    "as_int",
    "choice_id",
    "label_id",
    "string_list",
    "tag_ids",
    "text",
]
