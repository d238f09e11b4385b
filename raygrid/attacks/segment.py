"""Word segmentation per language: the units attacks count and edit.

A text becomes a list of *pieces* that concatenate back to it exactly; each
piece is a word (an editable unit) or a separator (spaces, punctuation).
How words are cut depends on the writing system, never on a dictionary we do
not have:

* spaced scripts (Latin, Cyrillic, Greek, Arabic, Devanagari, Hangul, ...):
  a word is a maximal run of letters, marks and digits (``[\\p{L}\\p{M}\\p{N}]+``,
  plus joiners inside a word); punctuation and spaces separate;
* ``zh``: every Han character is one unit (Chinese words are 1-4 characters;
  without a dictionary a character is the honest unit); Latin or digit runs
  inside Chinese text are ordinary words;
* ``ja``: runs of one script: a kanji run, a hiragana run, a katakana run
  (with the prolonged sound mark ``ー``), a Latin run. Kanji+okurigana are
  two units;
* ``th``: Thai character clusters, a dictionary-free approximation of TCC
  (Theeramunkong et al. 2000): a leading vowel (เ แ โ ใ ไ) joins the
  following grapheme cluster, and the trailing vowels ะ า ำ ๅ join the
  preceding one. These are sub-syllable units, so "fraction of words
  perturbed" in Thai is a fraction of such clusters;
* ``my``: Burmese syllables by a heuristic: a grapheme cluster that ends in
  asat (``်``, a killed final consonant) or starts with a stacked consonant
  joins the preceding cluster.

Example:
    >>> [p.text for p in segment("Hallo, Welt!", "de") if p.is_word]
    ['Hallo', 'Welt']
    >>> [p.text for p in segment("我爱北京", "zh") if p.is_word]
    ['我', '爱', '北', '京']
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

from raygrid.attacks.scripts import clusters, script_of

#: Languages whose words are not separated by spaces (see the module docstring).
UNSPACED: frozenset[str] = frozenset({"zh", "ja", "th", "my"})

# A word: letters, marks, digits, with joiners (ZWJ/ZWNJ) and apostrophes
# inside it; everything else is a separator.
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}\u200c\u200d]|['’](?=\p{L}))*")
_JA_RUN = regex.compile(
    r"\p{Han}+|[\p{Hiragana}\u3099\u309a]+|[\p{Katakana}\u30fc\u3099\u309a]+|[\p{L}\p{M}\p{N}--\p{Han}\p{Hiragana}\p{Katakana}]+",
    flags=regex.V1,
)
_THAI_LEADING = frozenset("เแโใไ")
_THAI_TRAILING = frozenset("ะาำๅ")
_MY_ASAT = "\u103a"
_MY_VIRAMA = "\u1039"


@dataclass(frozen=True)
class Piece:
    """A slice of a text: ``text`` starts at character ``start``."""

    text: str
    start: int
    is_word: bool

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _split_runs(text: str, words: list[tuple[int, int]]) -> list[Piece]:
    pieces: list[Piece] = []
    pos = 0
    for start, end in words:
        if start > pos:
            pieces.append(Piece(text[pos:start], pos, False))
        pieces.append(Piece(text[start:end], start, True))
        pos = end
    if pos < len(text):
        pieces.append(Piece(text[pos:], pos, False))
    return pieces


def _spans(pattern: regex.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def _han_units(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    run = -1
    for i in range(start, end):
        if script_of(text[i]) == "Han":
            if run >= 0:
                out.append((run, i))
                run = -1
            out.append((i, i + 1))
        elif run < 0:
            run = i
    if run >= 0:
        out.append((run, end))
    return out


def _cluster_units(text: str, start: int, end: int, merge: object) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    pos = start
    for cl in clusters(text[start:end]):
        span = [pos, pos + len(cl)]
        pos += len(cl)
        # A cluster that starts with a mark (Myanmar spacing vowel signs
        # that \X leaves apart) never stands alone.
        if out and (unicodedata.category(cl[0])[0] == "M" or merge(text[out[-1][0] : out[-1][1]], cl)):  # type: ignore[operator]
            out[-1][1] = span[1]
        else:
            out.append(span)
    return [(a, b) for a, b in out]


def _thai_merge(previous: str, cl: str) -> bool:
    if script_of(cl[0]) != "Thai" or script_of(previous[-1]) != "Thai":
        return False
    return previous[-1] in _THAI_LEADING or cl[0] in _THAI_TRAILING


def _myanmar_merge(previous: str, cl: str) -> bool:
    if script_of(cl[0]) != "Myanmar" or script_of(previous[-1]) != "Myanmar":
        return False
    return cl.endswith(_MY_ASAT) or previous.endswith(_MY_VIRAMA) or cl[0] in "\u103a\u1039"


def word_spans(text: str, language: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each word of ``text`` in ``language``."""
    runs = _spans(_WORD, text)
    if language == "zh":
        return [u for a, b in runs for u in _han_units(text, a, b)]
    if language == "ja":
        return [(a + x, a + y) for a, b in runs for x, y in _spans(_JA_RUN, text[a:b])]
    if language == "th":
        return [u for a, b in runs for u in _cluster_units(text, a, b, _thai_merge)]
    if language == "my":
        return [u for a, b in runs for u in _cluster_units(text, a, b, _myanmar_merge)]
    return runs


def segment(text: str, language: str) -> list[Piece]:
    """``text`` as word and separator pieces (see the module docstring);
    ``"".join(p.text for p in pieces) == text`` always holds."""
    return _split_runs(text, word_spans(text, language))


def words(text: str, language: str) -> list[str]:
    """The words of ``text`` (see :func:`segment`)."""
    return [text[a:b] for a, b in word_spans(text, language)]


__all__ = ["UNSPACED", "Piece", "segment", "word_spans", "words"]
