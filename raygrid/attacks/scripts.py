"""Scripts, grapheme clusters and per-script alphabets.

Every character edit in :mod:`raygrid.attacks` works on *grapheme clusters*
(the ``regex`` module's ``\\X``: a Devanagari consonant with its vowel signs
and virama conjuncts, a Thai consonant with its tone mark, a base letter with
its combining accents) and draws replacement characters from the *script of
the cluster it edits*. That is the difference to nlpaug/TextAttack, whose
character augmenters cut code points and insert Latin letters everywhere.

* :func:`script_of` -- the script of one character, from a small range table
  covering the catalogue's scripts (Unicode ``Scripts.txt`` blocks; marks of
  the general combining blocks are ``Inherited``, punctuation, digits of
  ASCII and spaces ``Common``);
* :func:`clusters` -- grapheme clusters of a string;
* :func:`cluster_script` -- the script of a cluster (that of its base);
* :func:`alphabet` -- the letters used for substitution and insertion in one
  script: the letters of the script's blocks that occur in the bundled
  corpus (``raygrid/data/corpus``, 40 languages), plus the core letter
  ranges below, split into ``bases`` (may carry marks) and ``letters``.

Example:
    >>> script_of("ж"), script_of("ا"), script_of("中"), script_of("!")
    ('Cyrillic', 'Arabic', 'Han', 'Common')
    >>> clusters("नमस्ते")
    ['न', 'म', 'स्ते']
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from dataclasses import dataclass
from importlib import resources

import regex

COMMON = "Common"
INHERITED = "Inherited"
UNKNOWN = "Unknown"

# (first, last, script), sorted, non-overlapping. Blocks of Scripts.txt for the
# catalogue's scripts; a block's combining marks belong to its script (as in
# Scripts.txt), the general combining blocks are Inherited.
_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0030, 0x0039, COMMON),
    (0x0041, 0x005A, "Latin"),
    (0x0061, 0x007A, "Latin"),
    (0x00AA, 0x00AA, "Latin"),
    (0x00BA, 0x00BA, "Latin"),
    (0x00C0, 0x00D6, "Latin"),
    (0x00D8, 0x00F6, "Latin"),
    (0x00F8, 0x024F, "Latin"),
    (0x0250, 0x02AF, "Latin"),  # IPA extensions
    (0x0300, 0x036F, INHERITED),
    (0x0370, 0x0373, "Greek"),
    (0x0375, 0x03FF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"),
    (0x0530, 0x058F, "Armenian"),
    (0x0591, 0x05F4, "Hebrew"),
    (0x0600, 0x0604, "Arabic"),
    (0x0606, 0x060B, "Arabic"),
    (0x060D, 0x061A, "Arabic"),
    (0x061C, 0x061E, "Arabic"),
    (0x0620, 0x063F, "Arabic"),
    (0x0641, 0x064A, "Arabic"),
    (0x064B, 0x0655, INHERITED),  # harakat (Inherited in Scripts.txt)
    (0x0656, 0x066F, "Arabic"),
    (0x0670, 0x0670, INHERITED),
    (0x0671, 0x06DC, "Arabic"),
    (0x06DE, 0x06FF, "Arabic"),
    (0x0750, 0x077F, "Arabic"),
    (0x0900, 0x0950, "Devanagari"),
    (0x0951, 0x0954, INHERITED),
    (0x0955, 0x0963, "Devanagari"),
    (0x0966, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"),
    (0x0A00, 0x0A7F, "Gurmukhi"),
    (0x0A80, 0x0AFF, "Gujarati"),
    (0x0B80, 0x0BFF, "Tamil"),
    (0x0C00, 0x0C7F, "Telugu"),
    (0x0C80, 0x0CFF, "Kannada"),
    (0x0D00, 0x0D7F, "Malayalam"),
    (0x0E01, 0x0E3A, "Thai"),
    (0x0E40, 0x0E5B, "Thai"),
    (0x1000, 0x109F, "Myanmar"),
    (0x10A0, 0x10FF, "Georgian"),
    (0x1100, 0x11FF, "Hangul"),
    (0x1AB0, 0x1AFF, INHERITED),
    (0x1C90, 0x1CBF, "Georgian"),
    (0x1DC0, 0x1DFF, INHERITED),
    (0x1E00, 0x1EFF, "Latin"),
    (0x1F00, 0x1FFF, "Greek"),
    (0x200C, 0x200D, INHERITED),
    (0x20D0, 0x20FF, INHERITED),
    (0x2D00, 0x2D2F, "Georgian"),
    (0x2E80, 0x2FDF, "Han"),
    (0x3005, 0x3005, "Han"),
    (0x3007, 0x3007, "Han"),
    (0x3021, 0x3029, "Han"),
    (0x302A, 0x302D, INHERITED),
    (0x3038, 0x303B, "Han"),
    (0x3041, 0x3096, "Hiragana"),
    (0x3099, 0x309A, INHERITED),
    (0x309D, 0x309F, "Hiragana"),
    (0x30A1, 0x30FA, "Katakana"),
    (0x30FD, 0x30FF, "Katakana"),
    (0x3131, 0x318E, "Hangul"),
    (0x31F0, 0x31FF, "Katakana"),
    (0x3400, 0x4DBF, "Han"),
    (0x4E00, 0x9FFF, "Han"),
    (0xA960, 0xA97F, "Hangul"),
    (0xAC00, 0xD7A3, "Hangul"),
    (0xD7B0, 0xD7FF, "Hangul"),
    (0xF900, 0xFAFF, "Han"),
    (0xFB1D, 0xFB4F, "Hebrew"),
    (0xFB50, 0xFDFF, "Arabic"),
    (0xFE00, 0xFE0F, INHERITED),
    (0xFE20, 0xFE2F, INHERITED),
    (0xFE70, 0xFEFE, "Arabic"),
    (0xFF21, 0xFF3A, "Latin"),
    (0xFF41, 0xFF5A, "Latin"),
    (0xFF66, 0xFF9D, "Katakana"),
    (0x20000, 0x323AF, "Han"),
)
_STARTS = [r[0] for r in _RANGES]

#: The scripts :func:`script_of` knows (besides Common/Inherited/Unknown).
SCRIPTS: tuple[str, ...] = tuple(sorted({r[2] for r in _RANGES} - {COMMON, INHERITED}))

#: Language (ISO 639-1, the catalogue's 40 XTREME languages) -> its main
#: script. Japanese is written in Han + Hiragana + Katakana: "Japanese".
LANGUAGE_SCRIPTS: dict[str, str] = {
    **{
        code: "Latin"
        for code in (
            "af de en es et eu fi fr hu id it jv ms nl pt sw tl tr vi yo"
        ).split()
    },
    "ar": "Arabic", "fa": "Arabic", "ur": "Arabic",
    "bg": "Cyrillic", "kk": "Cyrillic", "ru": "Cyrillic",
    "bn": "Bengali", "el": "Greek", "he": "Hebrew", "hi": "Devanagari", "mr": "Devanagari",
    "ja": "Japanese", "ka": "Georgian", "ko": "Hangul", "ml": "Malayalam", "my": "Myanmar",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "zh": "Han",
}  # fmt: skip

#: The scripts a language's text is written in (Japanese: three).
LANGUAGE_SCRIPT_SETS: dict[str, frozenset[str]] = {
    lang: frozenset({"Han", "Hiragana", "Katakana"}) if script == "Japanese" else frozenset({script})
    for lang, script in LANGUAGE_SCRIPTS.items()
}

_CLUSTER = regex.compile(r"\X")


@functools.lru_cache(maxsize=65536)
def script_of(char: str) -> str:
    """The script of one character: a name of :data:`SCRIPTS`, ``"Common"``
    (spaces, punctuation, ASCII digits, symbols), ``"Inherited"`` (general
    combining marks, ZWJ/ZWNJ) or ``"Unknown"`` (outside the table).

    Example:
        >>> script_of("é"), script_of("\\u0301"), script_of("ก")
        ('Latin', 'Inherited', 'Thai')
    """
    cp = ord(char)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and _RANGES[i][0] <= cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    category = unicodedata.category(char)
    if category[0] in "LM":
        return UNKNOWN
    return COMMON


def clusters(text: str) -> list[str]:
    """Extended grapheme clusters (``regex`` ``\\X``) of ``text``."""
    return _CLUSTER.findall(text)


def cluster_script(cluster: str) -> str:
    """The script of a grapheme cluster: that of its first character that is
    neither Common nor Inherited (else Common/Inherited)."""
    first = None
    for char in cluster:
        script = script_of(char)
        if script not in (COMMON, INHERITED):
            return script
        first = first or script
    return first or COMMON


def word_script(word: str) -> str:
    """The script of most letters of ``word`` (ties: the first seen); Common
    for a word without letters of a known script."""
    counts: dict[str, int] = {}
    for char in word:
        script = script_of(char)
        if script not in (COMMON, INHERITED, UNKNOWN):
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return COMMON
    return max(counts, key=lambda s: counts[s])


def text_scripts(text: str) -> set[str]:
    """Scripts of the characters of ``text`` (Common/Inherited included)."""
    return {script_of(c) for c in text}


def language_script(language: str) -> str:
    """The main script of a catalogue language (``"Japanese"`` for ja).

    Raises:
        ConfigError: a language outside :data:`LANGUAGE_SCRIPTS`.
    """
    from raygrid.errors import ConfigError, unknown

    try:
        return LANGUAGE_SCRIPTS[language]
    except KeyError:
        raise ConfigError(unknown("language", language, LANGUAGE_SCRIPTS)) from None


# -- alphabets -----------------------------------------------------------------

# Core letter ranges per script, added to what the corpus shows, so that a
# script is never limited to the few letters of 17 corpus lines. Han and
# Hangul are deliberately *not* expanded: the corpus' characters are the
# common ones (20k rare Han characters would make every edit exotic); Hangul
# substitution edits jamo instead (see raygrid.attacks.transformations).
_CORE: dict[str, tuple[tuple[int, int], ...]] = {
    "Latin": ((0x61, 0x7A), (0x41, 0x5A)),
    "Greek": ((0x3B1, 0x3C9), (0x391, 0x3A9)),
    "Cyrillic": ((0x430, 0x44F), (0x410, 0x42F)),
    "Arabic": ((0x621, 0x63A), (0x641, 0x64A)),
    "Hebrew": ((0x5D0, 0x5EA),),
    "Devanagari": ((0x915, 0x939),),
    "Bengali": ((0x995, 0x9B9),),
    "Tamil": ((0xB95, 0xBB9),),
    "Telugu": ((0xC15, 0xC39),),
    "Malayalam": ((0xD15, 0xD39),),
    "Thai": ((0xE01, 0xE2E),),
    "Myanmar": ((0x1000, 0x1020),),
    "Georgian": ((0x10D0, 0x10F0),),
    "Hiragana": ((0x3042, 0x3093),),
    "Katakana": ((0x30A2, 0x30F3),),
}


#: Scripts whose combining marks are vowel signs (abugidas): a cluster's base
#: there must stay a consonant when the cluster has marks.
ABUGIDAS: frozenset[str] = frozenset(
    {"Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Tamil", "Telugu", "Kannada", "Malayalam", "Thai", "Myanmar"}
)


@dataclass(frozen=True)
class Alphabet:
    """Substitution material of one script.

    Attributes:
        script: the script name.
        letters: single-code-point letters (category L*) of the script, in
            code point order: what an inserted cluster or the base of a bare
            cluster is drawn from.
        bases: the letters seen carrying a combining mark in the corpus
            (consonants of abugidas; vowels of Latin); the base of a cluster
            *with* marks is only replaced by one of these, so a vowel sign
            is never stranded on an independent vowel. Falls back to
            ``letters`` where the corpus shows none.
    """

    script: str
    letters: tuple[str, ...]
    bases: tuple[str, ...]


def _corpus_lines(language: str | None) -> list[str]:
    root = resources.files("raygrid") / "data" / "corpus"
    out: list[str] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt") and (language is None or entry.name == f"{language}.txt"):
            out.extend(entry.read_text(encoding="utf-8").splitlines())
    return out


@functools.lru_cache(maxsize=64)
def _corpus_letters(language: str | None) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    letters: dict[str, set[str]] = {}
    bases: dict[str, set[str]] = {}
    for line in _corpus_lines(language):
        for cl in clusters(line):
            base = cl[0]
            if not unicodedata.category(base).startswith("L"):
                continue
            script = script_of(base)
            letters.setdefault(script, set()).add(base)
            if len(cl) > 1 and any(unicodedata.category(c).startswith("M") for c in cl[1:]):
                bases.setdefault(script, set()).add(base)
    return letters, bases


@functools.lru_cache(maxsize=None)
def alphabet(script: str, language: str | None = None) -> Alphabet:
    """The :class:`Alphabet` of ``script`` (cached).

    With ``language``, the letters are those of that language's corpus file
    in ``script`` plus the script's core letters (German typos draw from
    a-z, ä, ö, ü, ß; Arabic ones not from Urdu's extra letters); a language
    whose corpus has no letters of ``script`` (a Latin word in Russian text)
    gets the script's letters over all languages.

    Example:
        >>> "ж" in alphabet("Cyrillic").letters, "a" in alphabet("Cyrillic").letters
        (True, False)
        >>> "ñ" in alphabet("Latin", "de").letters, "ß" in alphabet("Latin", "de").letters
        (False, True)
    """
    corpus_letters, corpus_bases = _corpus_letters(language)
    if language is not None and not corpus_letters.get(script):
        return alphabet(script)
    letters = set(corpus_letters.get(script, ()))
    for lo, hi in _CORE.get(script, ()):
        letters.update(chr(c) for c in range(lo, hi + 1) if unicodedata.category(chr(c)).startswith("L"))
    letters = {c for c in letters if script_of(c) == script}
    ordered = tuple(sorted(letters))
    if script not in ABUGIDAS:
        return Alphabet(script=script, letters=ordered, bases=ordered)
    bases = {c for c in corpus_bases.get(script, ()) if c in letters}
    if not bases and language is not None:
        bases = {c for c in _corpus_letters(None)[1].get(script, ()) if c in letters}
    return Alphabet(script=script, letters=ordered, bases=tuple(sorted(bases)) or ordered)


__all__ = [
    "ABUGIDAS",
    "COMMON",
    "INHERITED",
    "LANGUAGE_SCRIPTS",
    "LANGUAGE_SCRIPT_SETS",
    "SCRIPTS",
    "UNKNOWN",
    "Alphabet",
    "alphabet",
    "cluster_script",
    "clusters",
    "language_script",
    "script_of",
    "text_scripts",
    "word_script",
]
