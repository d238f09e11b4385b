"""Word-level transformations: one random edit of one word, in its own script.

A transformation is the "transformation" of TextAttack's decomposition
(Morris et al. 2020): given a word it proposes an edited word. Fixed
perturbations apply one edit to each chosen word; adaptive attacks ask for
several candidate edits per word (:meth:`Transformation.candidates`) and let
the search pick. Every transformation:

* checks a language up front (:meth:`check_language`) and raises a one-line
  :class:`~raygrid.errors.ConfigError` for a language whose script it cannot
  perturb -- never a silent no-op;
* edits grapheme clusters, never code points inside one;
* declares the scripts its output may add (:meth:`extra_scripts`), so the
  contract tests can check that nothing else leaks in.

Families here: :class:`CharNoise`, :class:`Diacritics`, :class:`Homoglyph`,
:class:`Invisible`, :class:`CodeSwitch`. The model-based ones live in
:mod:`raygrid.attacks.mlm` and :mod:`raygrid.attacks.whitebox`.
"""

from __future__ import annotations

import functools
import os
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from raygrid.attacks import scripts as sc
from raygrid.attacks.segment import Piece, segment
from raygrid.attacks.tables import (
    ALTER_MARKS,
    HOMOGLYPH_SCRIPTS,
    HOMOGLYPHS,
    INVISIBLES,
    KEYBOARD_NEIGHBOURS,
    LANGUAGE_LAYOUTS,
)
from raygrid.errors import ConfigError, one_of


class Transformation(Protocol):
    """Proposes edits of single words (see the module docstring)."""

    name: str

    def check_language(self, language: str) -> None:
        """Raises ConfigError when the family cannot perturb ``language``."""
        ...

    def applies(self, word: str) -> bool:
        """Whether :meth:`edit` can change ``word``."""
        ...

    def edit(self, word: str, rng: random.Random) -> str | None:
        """One random edit of ``word`` (``None`` when there is none)."""
        ...

    def extra_scripts(self, word: str) -> frozenset[str]:
        """Scripts an edit of ``word`` may add beyond the word's own."""
        ...


def candidates(transformation: Transformation, word: str, rng: random.Random, n: int) -> list[str]:
    """Up to ``n`` distinct edits of ``word`` (tries ``3 * n`` draws)."""
    out: list[str] = []
    seen = {word}
    for _ in range(3 * n):
        new = transformation.edit(word, rng)
        if new is not None and new not in seen:
            seen.add(new)
            out.append(new)
            if len(out) == n:
                break
    return out


def edit_units(word: str) -> list[str]:
    """Grapheme clusters of ``word``, with a cluster that starts with a mark
    (Myanmar spacing vowel signs that ``\\X`` leaves apart) merged into the
    one before: the units character edits insert between, delete and swap."""
    units: list[str] = []
    for cl in sc.clusters(word):
        if units and unicodedata.category(cl[0])[0] == "M":
            units[-1] += cl
        else:
            units.append(cl)
    return units


def _has_marks(unit: str) -> bool:
    return any(unicodedata.category(c)[0] == "M" for c in unit[1:])


def _match_case(new: str, old: str) -> str:
    return new.upper() if old.isupper() and len(new.upper()) == 1 else new


# -- character noise ----------------------------------------------------------

_HANGUL_BASE, _HANGUL_LAST = 0xAC00, 0xD7A3
#: Scripts with an alphabet to draw from (Han and Hangul: the corpus' characters).
_EDITABLE_SCRIPTS: frozenset[str] = frozenset(s for s in sc.SCRIPTS if sc.alphabet(s).letters)
CHAR_OPS: tuple[str, ...] = ("insert", "delete", "swap", "substitute")


@dataclass(frozen=True)
class CharNoise:
    """Insert, delete, swap or substitute one grapheme cluster of a word
    (Belinkov & Bisk 2018; Pruthi et al. 2019), in the word's script.

    * substitute replaces a cluster's *base* and keeps its marks; with marks
      (a consonant with vowel signs) the new base is drawn from the script's
      mark-carrying letters, so no vowel sign ends up on an independent
      vowel. Where the language's keyboard layout is known
      (:data:`~raygrid.attacks.tables.LANGUAGE_LAYOUTS`) and the letter is
      on it, the new letter is a neighbouring key of the same script (a
      typo); otherwise a random letter of the same script (documented
      fallback). Hangul syllables change one jamo (initial, vowel or final),
      which is how Korean typos look;
    * insert adds a letter of the script of the neighbouring cluster;
    * delete and swap act on whole clusters (words of two or more).

    Attributes:
        language: selects the keyboard layout.
        ops: which of ``insert delete swap substitute`` may be drawn.
    """

    language: str
    ops: tuple[str, ...] = CHAR_OPS
    name: str = "char_noise"

    def __post_init__(self) -> None:
        bad = [op for op in self.ops if op not in CHAR_OPS]
        if bad or not self.ops:
            raise ConfigError(f"char_noise: ops {list(self.ops)!r}; allowed: non-empty subset of {one_of(CHAR_OPS)}")

    def check_language(self, language: str) -> None:
        sc.language_script(language)

    @functools.cached_property
    def _neighbours(self) -> dict[str, str]:
        layout = LANGUAGE_LAYOUTS.get(self.language)
        return dict(KEYBOARD_NEIGHBOURS[layout]) if layout else {}

    def applies(self, word: str) -> bool:
        return any(sc.script_of(c) in _EDITABLE_SCRIPTS for c in word)

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset()

    def _substitute_unit(self, unit: str, rng: random.Random) -> str | None:
        base = unit[0]
        script = sc.script_of(base)
        cp = ord(base)
        if script == "Hangul" and _HANGUL_BASE <= cp <= _HANGUL_LAST and len(unit) == 1:
            index = cp - _HANGUL_BASE
            lead, vowel, tail = index // 588, (index % 588) // 28, index % 28
            part = rng.randrange(3)
            if part == 0:
                lead = (lead + rng.randrange(1, 19)) % 19
            elif part == 1:
                vowel = (vowel + rng.randrange(1, 21)) % 21
            else:
                tail = (tail + rng.randrange(1, 28)) % 28
            return chr(_HANGUL_BASE + lead * 588 + vowel * 28 + tail)
        alpha = sc.alphabet(script, self.language)
        pool: Sequence[str] = alpha.bases if _has_marks(unit) else alpha.letters
        near = self._neighbours.get(base.lower())
        if near:
            keys = [k for k in near if sc.script_of(k) == script and (k in pool or not _has_marks(unit))]
            keys = [k for k in keys if unicodedata.category(k)[0] == unicodedata.category(base)[0]]
            if keys:
                pool = keys
        choices = [c for c in pool if c != base and c.lower() != base.lower()]
        if not choices:
            return None
        return _match_case(rng.choice(choices), base) + unit[1:]

    def edit(self, word: str, rng: random.Random) -> str | None:
        units = edit_units(word)
        n = len(units)
        ops = [op for op in self.ops if n >= 2 or op in ("insert", "substitute")]
        if not ops:
            return None
        op = rng.choice(ops)
        if op == "delete":
            i = rng.randrange(n)
            return "".join(units[:i] + units[i + 1 :])
        if op == "swap":
            i = rng.randrange(n - 1)
            if units[i] == units[i + 1]:
                return None
            units[i], units[i + 1] = units[i + 1], units[i]
            return "".join(units)
        if op == "insert":
            i = rng.randrange(n + 1)
            neighbour = units[i - 1] if i > 0 else units[0]
            script = sc.cluster_script(neighbour)
            alpha = sc.alphabet(script, self.language)
            letters = alpha.bases if script in sc.ABUGIDAS else alpha.letters
            if not letters:
                return None
            new = rng.choice(letters)
            new = new.upper() if neighbour[:1].isupper() and len(units) == 1 else new.lower() if neighbour[:1].islower() else new
            if script == "Thai" and i < n and units[i][0] in "ะาำๅ":
                return None  # would split a Thai vowel from its consonant
            return "".join(units[:i] + [new] + units[i:])
        i = rng.randrange(n)
        new_unit = self._substitute_unit(units[i], rng)
        if new_unit is None:
            return None
        units[i] = new_unit
        return "".join(units)


# -- diacritics -----------------------------------------------------------------

#: Scripts whose combining marks are accents (removable without changing the
#: letter): Latin (European, Vietnamese, Yoruba), Greek, Cyrillic (й, ё),
#: Arabic harakat, Hebrew niqqud, kana voicing marks.
DIACRITIC_SCRIPTS: frozenset[str] = frozenset({"Latin", "Greek", "Cyrillic", "Arabic", "Hebrew", "Hiragana", "Katakana"})

#: Languages of those scripts whose standard orthography *has* diacritics;
#: ``mode="strip"`` refuses the others (there is nothing to strip), and
#: ``mode="alter"`` (which adds marks too) accepts every language written in
#: a script of :data:`DIACRITIC_SCRIPTS`.
STRIP_LANGUAGES: frozenset[str] = frozenset(
    "af de es et eu fi fr hu it nl pt tr vi yo el ru bg kk ar fa ur he ja".split()
)


def _is_accent(mark: str) -> bool:
    cp = ord(mark)
    return (
        0x0300 <= cp <= 0x036F
        or 0x064B <= cp <= 0x0652
        or cp == 0x0670
        or 0x05B0 <= cp <= 0x05C7
        or cp in (0x3099, 0x309A)
    ) and unicodedata.category(mark) == "Mn"


@dataclass(frozen=True)
class Diacritics:
    """Strip (default) or alter combining accent marks.

    The rule: a mark is an *accent* when removing it leaves a valid letter of
    the same script -- Latin/Greek/Cyrillic combining diacriticals (NFD
    decomposes é, ệ, ά, й, ё), Arabic harakat, Hebrew niqqud, kana voicing
    marks (が -> か). In abugidas (Devanagari, Bengali, Thai, Myanmar, Tamil,
    ...) the marks are *vowel signs*: removing one changes the syllable, not
    its accent, so those languages are refused, as are scripts without
    combining marks (Han, Hangul, Georgian).

    ``strip`` removes every accent of the word (the way people type without
    accents); ``alter`` changes one accent into another of its script, or
    adds one to a bare letter (only accents that compose to a precomposed
    letter in Latin/Greek/Cyrillic/kana, so the output stays ordinary text).
    The word is edited in NFD and returned in NFC.
    """

    language: str
    mode: str = "strip"
    name: str = "diacritics"

    def __post_init__(self) -> None:
        if self.mode not in ("strip", "alter"):
            raise ConfigError(f"diacritics: mode {self.mode!r}; allowed: 'alter' or 'strip'")

    def check_language(self, language: str) -> None:
        script = sc.language_script(language)
        scripts = sc.LANGUAGE_SCRIPT_SETS[language]
        if not scripts & DIACRITIC_SCRIPTS:
            why = (
                "whose combining marks are vowel signs, not accents"
                if script in sc.ABUGIDAS
                else "which has no combining accents"
            )
            raise ConfigError(
                f"diacritics: language {language!r} is written in {script}, {why}; "
                f"supported scripts: {one_of(sorted(DIACRITIC_SCRIPTS))}"
            )
        if self.mode == "strip" and language not in STRIP_LANGUAGES:
            raise ConfigError(
                f"diacritics: language {language!r} is written without diacritics, nothing to strip; "
                "use mode='alter' to add them"
            )

    def applies(self, word: str) -> bool:
        if self.mode == "alter":
            return any(sc.script_of(c) in DIACRITIC_SCRIPTS for c in word)
        return any(_is_accent(c) for c in unicodedata.normalize("NFD", word))

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset({sc.INHERITED})

    def edit(self, word: str, rng: random.Random) -> str | None:
        nfd = unicodedata.normalize("NFD", word)
        if self.mode == "strip":
            out = "".join(c for c in nfd if not _is_accent(c))
            out = unicodedata.normalize("NFC", out)
            return out if out != word else None
        units = edit_units(nfd)
        positions = [i for i, u in enumerate(units) if sc.script_of(u[0]) in DIACRITIC_SCRIPTS]
        if not positions:
            return None
        i = rng.choice(positions)
        unit = units[i]
        script = sc.script_of(unit[0])
        marks = ALTER_MARKS.get(script, "")
        present = [j for j, c in enumerate(unit) if j > 0 and _is_accent(c)]
        composes = script not in ("Arabic", "Hebrew")
        if present:
            j = rng.choice(present)
            options = [m for m in marks if m != unit[j]]
            if composes:
                options = [m for m in options if _composes(unit[:j] + m)]
            if not options:
                return None
            new = unit[:j] + rng.choice(options) + unit[j + 1 :]
        else:
            options = [m for m in marks if not composes or _composes(unit[0] + m)]
            if composes:
                # prefer accented letters the language writes (é in French, not ĝ)
                known = sc.alphabet(script, self.language).letters
                preferred = [m for m in options if unicodedata.normalize("NFC", unit[0] + m) in known]
                options = preferred or options
            if not options:
                return None
            new = unit + rng.choice(options)
        units[i] = new
        out = unicodedata.normalize("NFC", "".join(units))
        return out if out != word else None


@functools.lru_cache(maxsize=8192)
def _composes(seq: str) -> bool:
    return len(unicodedata.normalize("NFC", seq)) == 1


# -- visual ---------------------------------------------------------------------


@dataclass(frozen=True)
class Homoglyph:
    """Replace one character by a look-alike (VIPER, Eger et al. 2019; Bad
    Characters, Boucher et al. 2022), from the confusables table
    (:data:`~raygrid.attacks.tables.HOMOGLYPHS`). Latin, Cyrillic and Greek
    swap with each other; Arabic uses in-script letter variants; Han and
    kana use Han/Katakana look-alikes. Other scripts are refused."""

    language: str
    name: str = "homoglyph"

    def check_language(self, language: str) -> None:
        scripts = sc.LANGUAGE_SCRIPT_SETS.get(language) or {sc.language_script(language)}
        if not scripts & HOMOGLYPH_SCRIPTS:
            raise ConfigError(
                f"homoglyph: no confusables table for the {sc.language_script(language)} script of language "
                f"{language!r}; supported scripts: {one_of(sorted(HOMOGLYPH_SCRIPTS))}"
            )

    def applies(self, word: str) -> bool:
        return any(c in HOMOGLYPHS for c in word)

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset(sc.script_of(t) for c in word for t in HOMOGLYPHS.get(c, ""))

    def edit(self, word: str, rng: random.Random) -> str | None:
        positions = [i for i, c in enumerate(word) if c in HOMOGLYPHS]
        if not positions:
            return None
        i = rng.choice(positions)
        return word[:i] + rng.choice(HOMOGLYPHS[word[i]]) + word[i + 1 :]


@dataclass(frozen=True)
class Invisible:
    """Insert one invisible character (ZWSP, ZWNJ, ZWJ, WJ, soft hyphen) between
    two grapheme clusters of a word (after a one-cluster word), never inside
    a cluster (Boucher et al. 2022). Works in every script.

    Attributes:
        chars: the invisible characters drawn from.
    """

    language: str
    chars: str = "".join(INVISIBLES)
    name: str = "invisible"

    def __post_init__(self) -> None:
        if not self.chars or any(c not in INVISIBLES for c in self.chars):
            raise ConfigError(f"invisible: chars {self.chars!r}; allowed: a subset of {one_of(INVISIBLES)}")

    def check_language(self, language: str) -> None:
        sc.language_script(language)

    def applies(self, word: str) -> bool:
        return bool(word)

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset(sc.script_of(c) for c in self.chars)

    def edit(self, word: str, rng: random.Random) -> str | None:
        cls = sc.clusters(word)
        i = rng.randrange(1, len(cls)) if len(cls) > 1 else 1
        return "".join(cls[:i]) + rng.choice(self.chars) + "".join(cls[i:])


# -- code-switching -------------------------------------------------------------

#: The tiny dictionaries shipped for tests (MUSE format, ``<src>-<tgt>.txt``).
BUNDLED_DICTIONARIES = Path(__file__).resolve().parent.parent / "data" / "dictionaries"


@functools.lru_cache(maxsize=32)
def load_muse(path: str) -> dict[str, tuple[str, ...]]:
    """A MUSE dictionary file: ``source target`` per line -> source ->
    translations (in file order, duplicates dropped). Keys are lower-cased.

    Raises:
        ConfigError: the file is missing or has no pair.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"code_switch: dictionary {str(p)!r} does not exist")
    table: dict[str, list[str]] = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            src, tgt = parts[0].lower(), parts[1]
            if tgt not in table.setdefault(src, []):
                table[src].append(tgt)
    if not table:
        raise ConfigError(f"code_switch: dictionary {str(p)!r} has no 'source target' lines")
    return {k: tuple(v) for k, v in table.items()}


@dataclass(frozen=True)
class CodeSwitch:
    """Replace words by dictionary translations (PolyGloss, Tan & Joty 2021).

    Departure: PolyGloss draws the target language per word from a set of
    languages and keeps the sentence's grammar; here one direction
    (``language -> target_language``) is a parameter, and phrase-level
    switching (Bumblebee) is not implemented.

    For Chinese, Japanese and Thai the sentence is segmented by forward
    maximum matching against the dictionary's own entries (the dictionary
    *is* the word list), so two-character words such as 医院 switch whole.

    Attributes:
        language: the source language (the text's).
        target_language: the translations' language (default ``"en"``).
        dictionary: a MUSE file, or a directory with ``<src>-<tgt>.txt``
            files (default: the tiny bundled dictionaries).
    """

    language: str
    target_language: str = "en"
    dictionary: str | None = None
    name: str = "code_switch"

    @property
    def path(self) -> Path:
        base = Path(os.path.expanduser(self.dictionary)) if self.dictionary else BUNDLED_DICTIONARIES
        return base / f"{self.language}-{self.target_language}.txt" if base.is_dir() else base

    def check_language(self, language: str) -> None:
        if language == self.target_language:
            raise ConfigError(f"code_switch: source and target language are both {language!r}")
        path = self.path
        if not path.is_file():
            folder = path.parent
            have = sorted(p.stem for p in folder.glob("*-*.txt")) if folder.is_dir() else []
            raise ConfigError(
                f"code_switch: no dictionary {path.name!r} in {str(folder)!r}; available: {one_of(have)}"
            )
        load_muse(str(path))

    @property
    def table(self) -> dict[str, tuple[str, ...]]:
        return load_muse(str(self.path))

    def applies(self, word: str) -> bool:
        return word.lower() in self.table

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset(sc.script_of(c) for t in self.table.get(word.lower(), ()) for c in t)

    def edit(self, word: str, rng: random.Random) -> str | None:
        options = self.table.get(word.lower())
        if not options:
            return None
        new = rng.choice(options)
        return new[:1].upper() + new[1:] if word[:1].isupper() and new[:1].islower() else new

    def segment(self, text: str, language: str) -> list[Piece]:
        """Words for lookup: maximum matching for unspaced languages."""
        pieces = segment(text, language)
        if language not in ("zh", "ja", "th"):
            return pieces
        table = self.table
        longest = max(len(k) for k in table)
        out: list[Piece] = []
        i = 0
        while i < len(pieces):
            p = pieces[i]
            if not p.is_word:
                out.append(p)
                i += 1
                continue
            j = i
            while j + 1 < len(pieces) and pieces[j + 1].is_word and pieces[j + 1].start == pieces[j].end:
                j += 1
            run = text[p.start : pieces[j].end]
            pos = 0
            while pos < len(run):
                for size in range(min(longest, len(run) - pos), 0, -1):
                    if run[pos : pos + size].lower() in table or size == 1:
                        break
                # a one-character miss stays one unit of the plain segmentation
                if run[pos : pos + size].lower() not in table:
                    unit = next(q for q in pieces[i : j + 1] if q.start == p.start + pos)
                    size = len(unit.text)
                out.append(Piece(run[pos : pos + size], p.start + pos, True))
                pos += size
            i = j + 1
        return out


__all__ = [
    "BUNDLED_DICTIONARIES",
    "CHAR_OPS",
    "DIACRITIC_SCRIPTS",
    "STRIP_LANGUAGES",
    "CharNoise",
    "CodeSwitch",
    "Diacritics",
    "Homoglyph",
    "Invisible",
    "Transformation",
    "candidates",
    "edit_units",
    "load_muse",
]
