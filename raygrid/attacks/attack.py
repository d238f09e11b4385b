"""An attack: a transformation, constraints and a mode, composed by a recipe.

Following TextAttack (Morris et al. 2020), an attack is *goal function +
constraints + transformation + search method*. Here:

* the transformation proposes word edits
  (:mod:`raygrid.attacks.transformations`, :mod:`raygrid.attacks.mlm`);
* constraints: the protected words of :mod:`raygrid.attacks.document`
  (numbers, entities, QA answers) plus :attr:`Attack.max_fraction`, the
  largest fraction of a row's words an attack may change;
* the mode decides the search: ``fixed`` draws the words and edits at
  random from a seed (every model sees the same texts), ``adaptive`` runs
  the greedy word-importance search of :mod:`raygrid.attacks.search`
  against the model under test, ``white_box`` uses its gradients
  (:mod:`raygrid.attacks.whitebox`);
* the goal function comes from the task's format
  (:mod:`raygrid.attacks.goals`).

Fixed perturbations are seeded from ``(seed, attack label, language,
example key)`` through SHA-256, never Python's salted ``hash()``, so the
same seed gives the same text on any machine, in any process.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from raygrid.attacks.document import Document, build_document
from raygrid.attacks.transformations import Transformation
from raygrid.errors import ConfigError
from raygrid.tasks.types import FormatName


class Mode(str, Enum):
    """How an attack searches (see the module docstring)."""

    FIXED = "fixed"
    ADAPTIVE = "adaptive"
    WHITE_BOX = "white_box"


class Edits(str, Enum):
    """What an attack family changes: the text the model reads, or (white
    box only) the input embeddings, leaving no text to show or count."""

    TEXT = "text"
    EMBEDDINGS = "embeddings"


def example_seed(seed: int, attack: str, language: str, key: object) -> int:
    """A 64-bit seed from ``(seed, attack, language, key)`` (SHA-256).

    Example:
        >>> example_seed(0, "char_noise", "de", 3) == example_seed(0, "char_noise", "de", 3)
        True
    """
    text = f"{seed}\x1f{attack}\x1f{language}\x1f{key}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little")


def example_rng(seed: int, attack: str, language: str, key: object) -> random.Random:
    """A ``random.Random`` seeded with :func:`example_seed` (Mersenne Twister
    seeded from an int is the same on every platform and CPython version)."""
    return random.Random(example_seed(seed, attack, language, key))


@dataclass(frozen=True)
class Perturbed:
    """A perturbed row and what was changed."""

    row: dict[str, Any]
    edits: dict[int, str]
    n_words: int

    @property
    def fraction_changed(self) -> float:
        return len(self.edits) / self.n_words if self.n_words else 0.0


@dataclass(frozen=True)
class Attack:
    """A configured attack; build one with :func:`raygrid.attacks.get_attack`.

    Attributes:
        name: the registry name (``char_noise``, ...).
        mode: fixed, adaptive or white box.
        params: the parameters it was built with (for :attr:`label`).
        build: language -> transformation; ``None`` for a family that
            edits embeddings.
        rate: fixed mode: fraction of a row's words edited (at least one).
        max_fraction: constraint of the adaptive and white-box modes: at
            most this fraction of a row's words changed (at least one).
        query_budget: adaptive: model queries per example, at most.
        candidates_per_word: adaptive: edits tried per word.
        extra: family-specific settings (thresholds, epsilons, MLM path).
        edits: what the family changes: text (every family with a
            transformation) or embeddings.
    """

    name: str
    mode: Mode
    params: Mapping[str, Any]
    build: Callable[[str], Transformation] | None
    rate: float = 0.2
    max_fraction: float = 0.2
    query_budget: int = 200
    candidates_per_word: int = 8
    extra: Mapping[str, Any] = field(default_factory=dict)
    edits: Edits = Edits.TEXT
    _cache: dict[str, Transformation] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, value in (("rate", self.rate), ("max_fraction", self.max_fraction)):
            if not 0 < value <= 1:
                raise ConfigError(f"attack {self.name!r}: {name} {value!r}; allowed: 0 < {name} <= 1")
        if (self.build is None) != (self.edits is Edits.EMBEDDINGS):
            raise ConfigError(f"attack {self.name!r}: a family that edits {self.edits.value} needs "
                              f"{'no' if self.edits is Edits.EMBEDDINGS else 'a'} transformation")  # fmt: skip
        if self.query_budget < 1 or self.candidates_per_word < 1:
            raise ConfigError(f"attack {self.name!r}: query_budget and candidates_per_word must be >= 1")

    @property
    def label(self) -> str:
        """The name in result rows: the registry name, plus the non-default
        parameters sorted by key, e.g. ``char_noise[mode=adaptive]``."""
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={self.params[k]}" for k in sorted(self.params))
        return f"{self.name}[{inner}]"

    def transformation(self, language: str) -> Transformation:
        """The transformation for ``language`` (checked: a language the family
        cannot perturb raises a one-line ConfigError)."""
        cached = self._cache.get(language)
        if cached is None:
            if self.build is None:  # Edits.EMBEDDINGS (checked in __post_init__)
                raise ConfigError(f"attack {self.name!r} perturbs embeddings, not text")
            cached = self.build(language)
            cached.check_language(language)
            self._cache[language] = cached
        return cached

    def check_language(self, language: str) -> None:
        if self.edits is Edits.TEXT:
            self.transformation(language)
        else:
            from raygrid.attacks.scripts import language_script

            language_script(language)

    def document(
        self, row: Mapping[str, Any], format: FormatName | str, language: str, *, label_names: Sequence[str] | None = None
    ) -> Document:
        t = self.transformation(language) if self.edits is Edits.TEXT else None
        segmenter = getattr(t, "segment", None)
        return build_document(
            row, format, language, segmenter=segmenter, label_names=label_names, fields=self.extra.get("fields")
        )

    def word_budget(self, n_words: int, *, fixed: bool) -> int:
        wanted = (self.rate if fixed else self.max_fraction) * n_words
        return max(1, int(wanted + 0.5)) if n_words else 0

    def perturb_row(
        self,
        row: Mapping[str, Any],
        format: FormatName | str,
        language: str,
        *,
        seed: int,
        key: object,
        label_names: Sequence[str] | None = None,
    ) -> Perturbed:
        """The fixed perturbation of one row (any mode's transformation, drawn
        at random from the example's seed)."""
        if self.edits is Edits.EMBEDDINGS:
            raise ConfigError(f"attack {self.name!r} perturbs embeddings, not text")
        doc = self.document(row, format, language, label_names=label_names)
        rng = example_rng(seed, self.label, language, key)
        edits = perturb_words(doc, self.transformation(language), rng, self.word_budget(doc.n_words, fixed=True))
        return Perturbed(row=doc.render(edits), edits=edits, n_words=doc.n_words)

    def perturb_text(self, text: str, language: str, *, seed: int = 0, key: object = 0) -> str:
        """The fixed perturbation of a plain text (``raygrid perturb``).

        Example:
            >>> from raygrid.attacks import get_attack
            >>> a = get_attack("homoglyph", rate=1.0)
            >>> out = a.perturb_text("сестра", "ru")
            >>> out != "сестра" and len(out) == 6
            True
        """
        row = {"source": text, "target": ""}
        return self.perturb_row(row, FormatName.RETRIEVAL, language, seed=seed, key=key).row["source"]


def perturb_words(doc: Document, transformation: Transformation, rng: random.Random, budget: int) -> dict[int, str]:
    """Edits ``budget`` random eligible words of ``doc`` once each."""
    if budget < 1:
        return {}
    # Draw words in a random order and test eligibility lazily: the same
    # distribution as sampling from the eligible words, without testing all.
    editable = doc.editable()
    chosen: list[int] = []
    for i in rng.sample(editable, len(editable)):
        if transformation.applies(doc.word(i)):
            chosen.append(i)
            if len(chosen) == budget:
                break
    chosen.sort()
    edits: dict[int, str] = {}
    for i in chosen:
        for _ in range(4):  # an edit may draw a no-op (swapping equal clusters): draw again
            new = transformation.edit(doc.word(i), rng)
            if new is not None and new != doc.word(i):
                edits[i] = new
                break
    return edits


__all__ = ["Attack", "Edits", "Mode", "Perturbed", "example_rng", "example_seed", "perturb_words"]
