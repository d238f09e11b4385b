"""A newcomer's change, done for real: a new text attack family.

``word_reversal`` reverses the grapheme clusters of a word (a family that
edits text, in every script). Its transformation and recipe are below; in
the tree they go into ``raygrid/attacks/transformations.py`` and
``raygrid/attacks/recipes.py``, and one line registers the recipe in
``raygrid/attacks/registry.py`` (``_REGISTRY``; also ``FIXED_ATTACK_NAMES``
when it runs without a model). docs/extending.md walks through it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from raygrid.attacks import Edits, Mode, get_attack, registry
from raygrid.attacks import scripts as sc
from raygrid.attacks.attack import Attack
from raygrid.attacks.recipes import _attack, _mode, _split
from raygrid.errors import ConfigError


@dataclass(frozen=True)
class WordReversal:
    """Reverse a word's grapheme clusters (a word of one cluster has no edit)."""

    language: str
    name: str = "word_reversal"

    def check_language(self, language: str) -> None:
        sc.language_script(language)  # every language raygrid knows

    def applies(self, word: str) -> bool:
        return len(sc.clusters(word)) > 1

    def edit(self, word: str, rng: random.Random) -> str | None:
        reversed_word = "".join(reversed(sc.clusters(word)))
        return reversed_word if reversed_word != word else None

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset()  # the word's own clusters only


def word_reversal(
    *,
    mode: str = "fixed",
    rate: float | None = None,
    max_fraction: float | None = None,
    query_budget: int | None = None,
    candidates_per_word: int | None = None,
) -> Attack:
    """Reversed words, fixed or adaptive (the recipe: transformation + mode + budgets)."""
    m = _mode("word_reversal", mode, (Mode.FIXED, Mode.ADAPTIVE))
    search, _ = _split(locals())
    given = {"mode": None if mode == "fixed" else mode, **search}
    return _attack("word_reversal", m, lambda lang: WordReversal(lang), given, search)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The registry with the new family (the one line it takes in registry.py)."""
    monkeypatch.setitem(registry._REGISTRY, "word_reversal", f"{__name__}:word_reversal")
    yield "word_reversal"


def test_the_new_family_is_a_registered_text_attack(registered: str) -> None:
    attack = get_attack(registered, rate=1.0)
    assert attack.edits is Edits.TEXT and attack.mode is Mode.FIXED and attack.label == "word_reversal[rate=1.0]"
    out = attack.perturb_text("Das Wetter ist heute sonnig", "de", seed=3)
    assert out == "saD retteW tsi etueh ginnos"  # rate 1.0: every word
    assert attack.perturb_text("Das Wetter ist heute sonnig", "de", seed=3) == out  # fixed: seeded
    assert get_attack(registered, mode="adaptive").mode is Mode.ADAPTIVE
    with pytest.raises(ConfigError, match="unknown parameter 'colour'"):
        get_attack(registered, colour=1)


def test_it_keeps_the_script_and_the_protected_words(registered: str) -> None:
    attack = get_attack(registered, rate=1.0)
    hindi = attack.perturb_text("मौसम आज 2024 में अच्छा है", "hi", seed=0)
    assert "2024" in hindi  # numbers are protected by the document, for every family
    assert {sc.script_of(ch) for ch in hindi if ch.isalpha()} <= {"Devanagari"}
