"""The world's multilingual pretraining corpus (phase 1's data).

Per language: statements and wh-questions of random propositions in random
styles (monolingual text), plus two kinds of mixed lines that real
multilingual web text also has and that let a tiny masked LM align its
languages in minutes:

* code-switched lines: a sentence of language L in which some content words
  are English (or vice versa);
* parallel lines: the same proposition in English and in L on one line
  (bilingual pages, subtitles).

Example:
    >>> from raygrid.world.tasks import lexicons
    >>> lines = corpus_lines(lexicons(0, 0.4), 0, CorpusConfig(lines_per_language=10))
    >>> len(lines["de"]) == len(lines["en"]) == 10
    True
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from raygrid.world.grammar import Proposition, random_proposition, random_style, realise
from raygrid.world.lexicon import LANGUAGES, Lexicon


@dataclass(frozen=True)
class CorpusConfig:
    """Corpus size and mixture (shares of each language's lines)."""

    lines_per_language: int = 4000
    question_share: float = 0.15
    code_switch_share: float = 0.2
    parallel_share: float = 0.3
    switch_rate: float = 0.4  # share of content and function words switched in a code-switched line


def _concepts(p: Proposition) -> list[str]:
    return [c for c in (p.subject.noun, p.subject.adjective, p.verb, p.object.noun, p.object.adjective, p.place) if c]


def _switched(lex: Lexicon, other: Lexicon, concepts: list[str], functions: list[str]) -> Lexicon:
    words = dict(lex.words)
    for c in concepts:
        words[c] = other.words[c]
    function = {f: other.functions()[f] for f in functions if other.functions()[f]}
    return Lexicon(lex.code, words, {**lex.base, **other.base}, lex.cognates, function)


def corpus_lines(lexicons: Mapping[str, Lexicon], seed: int, config: CorpusConfig) -> dict[str, list[str]]:
    """``language -> lines`` (deterministic for the lexicons, seed and config)."""
    out: dict[str, list[str]] = {}
    english = lexicons["en"]
    for code in LANGUAGES:
        rng = random.Random(f"corpus:{code}:{seed}")
        lex = lexicons[code]
        lines: list[str] = []
        for _ in range(config.lines_per_language):
            p = random_proposition(rng)
            style = random_style(rng, p)
            u = rng.random()
            if code != "en" and u < config.parallel_share:
                lines.append(realise(p, english, style).text + " " + realise(p, lex, style).text)
            elif code != "en" and u < config.parallel_share + config.code_switch_share:
                chosen = [c for c in _concepts(p) if rng.random() < config.switch_rate]
                functions = [f for f in ("not", "in") if rng.random() < config.switch_rate]
                if rng.random() < 0.5:
                    lines.append(realise(p, _switched(lex, english, chosen, functions), style).text)
                else:
                    lines.append(realise(p, _switched(english, lex, chosen, functions), style).text)
            elif u > 1.0 - config.question_share:
                slots = ["subject", "object"] + (["place"] if p.place else [])
                lines.append(realise(p, lex, style, ask=rng.choice(slots)).text)
            else:
                lines.append(realise(p, lex, style).text)
        out[code] = lines
    return out


__all__ = ["CorpusConfig", "corpus_lines"]
