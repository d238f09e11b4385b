"""A canonical row seen as a list of words an attack may edit.

:func:`build_document` cuts the text fields of a row into words
(:mod:`raygrid.attacks.segment`) and marks the words no attack may touch
(the *constraints* of TextAttack's decomposition that are known before any
edit):

* numbers: a word containing a digit of any script (Unicode category N*:
  ``7``, ``٣``, ``३``, ``๓``; Han numerals such as 三 are letters and are
  not protected);
* entity spans: tagging tokens whose gold tag is an entity tag (``B-``/
  ``I-`` tag sets, PAN-X), and any ``protected_spans`` a row carries
  (``{"field": [[start, end], ...]}``, character offsets);
* span QA answers: the words overlapping any gold answer span of the
  context are left alone; the question and the rest of the context may be
  edited, and :meth:`Document.render` recomputes ``answer_start`` so that
  ``context[answer_start:].startswith(text)`` still holds;
* tagging: edits stay inside one token (a token's words are edited in
  place), so the token count and the word-label alignment never change.

Which fields are attacked, per format: classification ``text_a`` and
``text_b``; multiple choice ``context`` and ``question`` (the choices are
the labels' surface and stay as they are); span QA ``question`` and
``context``; tagging every token; retrieval ``source``.
"""

from __future__ import annotations

import regex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raygrid.attacks.segment import Piece, segment
from raygrid.errors import ConfigError, one_of
from raygrid.tasks.types import FormatName

Segmenter = Callable[[str, str], list[Piece]]

#: Text fields attacked per format (see the module docstring).
FORMAT_FIELDS: dict[FormatName, tuple[str, ...]] = {
    FormatName.CLASSIFICATION: ("text_a", "text_b"),
    FormatName.MULTIPLE_CHOICE: ("context", "question"),
    FormatName.SPAN_QA: ("question", "context"),
    FormatName.TAGGING: ("tokens",),
    FormatName.RETRIEVAL: ("source",),
}


@dataclass
class Slot:
    """One text of a row: ``field`` (and ``index`` inside a list field)."""

    field: str
    index: int | None
    text: str
    pieces: list[Piece]


@dataclass
class Document:
    """The words of one row; :meth:`render` applies edits to a copy of the row.

    Attributes:
        row: the canonical row (not modified).
        format: its format.
        slots: its attacked texts.
        words: ``(slot, piece)`` of every word, in reading order.
        protected: per word, whether constraints forbid editing it.
    """

    row: Mapping[str, Any]
    format: FormatName
    slots: list[Slot]
    words: list[tuple[int, int]]
    protected: list[bool]

    @property
    def n_words(self) -> int:
        return len(self.words)

    def word(self, i: int) -> str:
        slot, piece = self.words[i]
        return self.slots[slot].pieces[piece].text

    def editable(self) -> list[int]:
        return [i for i, p in enumerate(self.protected) if not p]

    def render(self, edits: Mapping[int, str]) -> dict[str, Any]:
        """A copy of the row with word ``i`` replaced by ``edits[i]``."""
        row = dict(self.row)
        by_slot: dict[int, dict[int, str]] = {}
        for i, new in edits.items():
            if self.protected[i]:
                raise ValueError(f"word {i} ({self.word(i)!r}) is protected")
            slot_index, piece = self.words[i]
            by_slot.setdefault(slot_index, {})[piece] = new
        for s, changes in by_slot.items():
            slot = self.slots[s]
            text = "".join(changes.get(j, p.text) for j, p in enumerate(slot.pieces))
            if slot.index is None:
                row[slot.field] = text
            else:
                values = list(row[slot.field])
                values[slot.index] = text
                row[slot.field] = values
            if self.format is FormatName.SPAN_QA and slot.field == "context":
                row["answers"] = _shift_answers(row["answers"], slot.pieces, changes)
        return row


def _shift_answers(answers: Mapping[str, Any], pieces: Sequence[Piece], changes: Mapping[int, str]) -> dict[str, Any]:
    starts = []
    for start in answers["answer_start"]:
        shift = sum(len(new) - len(pieces[j].text) for j, new in changes.items() if pieces[j].start < int(start))
        starts.append(int(start) + shift)
    return {"text": list(answers["text"]), "answer_start": starts}


_NUMBER = regex.compile(r"\p{N}")


def _has_number(word: str) -> bool:
    return _NUMBER.search(word) is not None


def _overlaps(piece: Piece, spans: Sequence[tuple[int, int]]) -> bool:
    return any(piece.start < end and start < piece.end for start, end in spans)


def build_document(
    row: Mapping[str, Any],
    format: FormatName | str,
    language: str,
    *,
    segmenter: Segmenter | None = None,
    label_names: Sequence[str] | None = None,
    protect_entities: bool = True,
    fields: Sequence[str] | None = None,
) -> Document:
    """The :class:`Document` of a canonical row.

    Args:
        row: a canonical row of ``format``.
        format: the row's format.
        language: its language (selects the word segmentation).
        segmenter: ``(text, language) -> pieces``; default
            :func:`raygrid.attacks.segment.segment`.
        label_names: tagging: the tag names (entity tokens are protected
            when the tag set is BIO and ``protect_entities``).
        protect_entities: leave entity tokens / spans alone.
        fields: the fields to attack (default :data:`FORMAT_FIELDS`).

    Raises:
        ConfigError: a field that is not attackable in the format.
    """
    fmt = FormatName(format)
    allowed = FORMAT_FIELDS[fmt]
    chosen = tuple(fields) if fields else allowed
    bad = [f for f in chosen if f not in allowed]
    if bad:
        raise ConfigError(f"attack fields {bad!r} for format {fmt.value!r}; allowed: {one_of(allowed)}")
    cut = segmenter or segment
    extra: Mapping[str, Sequence[Sequence[int]]] = row.get("protected_spans") or {}
    slots: list[Slot] = []
    words: list[tuple[int, int]] = []
    protected: list[bool] = []

    def add(field: str, index: int | None, text: str, spans: Sequence[tuple[int, int]], locked: bool) -> None:
        pieces = cut(text, language)
        slots.append(Slot(field, index, text, pieces))
        s = len(slots) - 1
        for j, piece in enumerate(pieces):
            if piece.is_word:
                words.append((s, j))
                protected.append(locked or _NUMBER.search(piece.text) is not None or (bool(spans) and _overlaps(piece, spans)))

    for field in chosen:
        value = row.get(field)
        spans = [(int(a), int(b)) for a, b in extra.get(field, ())] if protect_entities else []
        if fmt is FormatName.TAGGING:
            tags = row.get("tags") or []
            bio = bool(label_names) and any(str(n).startswith(("B-", "I-")) for n in label_names or ())
            for i, token in enumerate(value or []):
                entity = protect_entities and bio and label_names is not None and label_names[int(tags[i])] != "O"
                add(field, i, token, [], entity)
            continue
        if not isinstance(value, str) or not value:
            continue
        if fmt is FormatName.SPAN_QA and field == "context":
            answers = row.get("answers") or {"text": [], "answer_start": []}
            spans = spans + [
                (int(s), int(s) + len(t)) for t, s in zip(answers["text"], answers["answer_start"], strict=False)
            ]
        add(field, None, value, spans, False)
    return Document(row=row, format=fmt, slots=slots, words=words, protected=protected)


__all__ = ["FORMAT_FIELDS", "Document", "Slot", "build_document"]
