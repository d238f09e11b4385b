"""Task rows of the world, in each hub dataset's own column schema.

Three relations of the latent grammar make the tasks:

NLI (``mnli`` English train/dev, ``xnli`` dev/test per language)
    entailment: the hypothesis says less (an adjective or the place dropped)
    or the same in other words; neutral: it says more (an adjective or a
    place added) or names another object; contradiction: the negation is
    flipped or an adjective becomes its antonym.
Paraphrase (``pawsx`` per language; ``qqp``: English pairs, QQP's columns)
    paraphrase: the same proposition in other words (synonyms, a fronted
    place); not a paraphrase: subject and object swapped or adjectives
    exchanged between them (PAWS-style: the same words, another meaning).
    QQP is built on exactly this relation, so it is the intermediate task
    that shares structure with PAWS-X, whose English training set is small.
Extractive QA (``squad`` English, ``xquad`` per language)
    a context of three sentences and a wh-question about one slot (who,
    whom, where) of one of them; the answer is the noun's span.

Example:
    >>> rows = nli_rows(random.Random(0), lexicons(0, 0.4)["de"], 2)
    >>> sorted(rows[0])
    ['hypothesis', 'label', 'premise']
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from raygrid.world.grammar import (
    NounPhrase,
    Proposition,
    Style,
    random_proposition,
    random_style,
    realise,
    swap_roles,
)
from raygrid.world.lexicon import ANTONYMS, LANGUAGES, NOUNS, PLACES, Lexicon, build_lexicon

Row = dict[str, Any]

ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2
NOT_PARAPHRASE, PARAPHRASE = 0, 1

_ANTONYM = {a: b for x, y in ANTONYMS for a, b in ((x, y), (y, x))}


def lexicons(seed: int, cognate_share: float) -> dict[str, Lexicon]:
    """Every language's lexicon for ``seed``."""
    return {code: build_lexicon(code, seed, cognate_share) for code in LANGUAGES}


# -- NLI -------------------------------------------------------------------------------


def _less(rng: random.Random, p: Proposition) -> Proposition | None:
    options: list[Proposition] = []
    if p.subject.adjective:
        options.append(replace(p, subject=NounPhrase(p.subject.noun)))
    if p.object.adjective:
        options.append(replace(p, object=NounPhrase(p.object.noun)))
    if p.place:
        options.append(replace(p, place=None))
    return rng.choice(options) if options else None


def _more(rng: random.Random, p: Proposition) -> Proposition:
    options: list[Proposition] = []
    adjectives = list(_ANTONYM)
    if not p.subject.adjective:
        options.append(replace(p, subject=NounPhrase(p.subject.noun, rng.choice(adjectives))))
    if not p.object.adjective:
        options.append(replace(p, object=NounPhrase(p.object.noun, rng.choice(adjectives))))
    if not p.place:
        options.append(replace(p, place=rng.choice(PLACES)))
    other = rng.choice([n for n in NOUNS if n not in (p.subject.noun, p.object.noun)])
    options.append(replace(p, object=NounPhrase(other, p.object.adjective)))
    return rng.choice(options)


def _contradict(rng: random.Random, p: Proposition) -> Proposition:
    options = [replace(p, negated=not p.negated)]
    if p.subject.adjective:
        options.append(replace(p, subject=NounPhrase(p.subject.noun, _ANTONYM[p.subject.adjective])))
    if p.object.adjective:
        options.append(replace(p, object=NounPhrase(p.object.noun, _ANTONYM[p.object.adjective])))
    return rng.choice(options)


def nli_pair(rng: random.Random) -> tuple[Proposition, Proposition, int]:
    """A premise, a hypothesis and their label (balanced over the three)."""
    premise = random_proposition(rng)
    label = rng.randrange(3)
    if label == ENTAILMENT:
        hypothesis = _less(rng, premise) or premise
    elif label == NEUTRAL:
        hypothesis = _more(rng, premise)
    else:
        hypothesis = _contradict(rng, premise)
    return premise, hypothesis, label


def nli_rows(rng: random.Random, lex: Lexicon, n: int) -> list[Row]:
    """XNLI's schema: ``premise``, ``hypothesis``, ``label``."""
    rows = []
    for _ in range(n):
        p, h, label = nli_pair(rng)
        rows.append(
            {
                "premise": realise(p, lex, random_style(rng, p)).text,
                "hypothesis": realise(h, lex, random_style(rng, h)).text,
                "label": label,
            }
        )
    return rows


# -- paraphrase ------------------------------------------------------------------------


def paraphrase_pair(rng: random.Random) -> tuple[Proposition, Proposition, int]:
    """Two propositions over the same words and whether they mean the same."""
    p = random_proposition(rng)
    label = rng.randrange(2)
    if label == PARAPHRASE:
        return p, p, label
    if p.subject.adjective and p.object.adjective and p.subject.adjective != p.object.adjective and rng.random() < 0.3:
        q = replace(
            p,
            subject=NounPhrase(p.subject.noun, p.object.adjective),
            object=NounPhrase(p.object.noun, p.subject.adjective),
        )
        return p, q, label
    return p, swap_roles(p), label


def _styles(rng: random.Random, p: Proposition, q: Proposition) -> tuple[Style, Style]:
    return random_style(rng, p), random_style(rng, q)


def pawsx_rows(rng: random.Random, lex: Lexicon, n: int, start_id: int = 1) -> list[Row]:
    """PAWS-X's schema: ``id``, ``sentence1``, ``sentence2``, ``label``."""
    rows = []
    for i in range(n):
        p, q, label = paraphrase_pair(rng)
        sp, sq = _styles(rng, p, q)
        rows.append(
            {"id": start_id + i, "sentence1": realise(p, lex, sp).text, "sentence2": realise(q, lex, sq).text, "label": label}
        )
    return rows


def qqp_rows(rng: random.Random, lex: Lexicon, n: int) -> list[Row]:
    """GLUE QQP's schema: ``question1``, ``question2``, ``label``, ``idx`` (English).

    The pairs are statements, as PAWS-X's are: the world's QQP shares the
    target's surface form as well as its relation. (With yes/no questions,
    or half of each, the paraphrase relation learnt on QQP did not carry
    over to PAWS-X statements: docs/world.md.)
    """
    rows = []
    for i in range(n):
        p, q, label = paraphrase_pair(rng)
        sp, sq = _styles(rng, p, q)
        rows.append({"question1": realise(p, lex, sp).text, "question2": realise(q, lex, sq).text, "label": label, "idx": i})
    return rows


def mnli_rows(rng: random.Random, lex: Lexicon, n: int) -> list[Row]:
    """GLUE MNLI's schema: ``premise``, ``hypothesis``, ``label``, ``idx`` (English)."""
    return [{**row, "idx": i} for i, row in enumerate(nli_rows(rng, lex, n))]


def anli_rows(rng: random.Random, lex: Lexicon, n: int) -> list[Row]:
    """ANLI's schema: ``uid``, ``premise``, ``hypothesis``, ``label``, ``reason`` (English).

    The world's second English NLI dataset: the relation XNLI tests (and
    MNLI teaches), from its own sentences. It is the intermediate task that
    shares a target's structure where transfer from English works in this
    world (docs/world.md): ``anli -> xnli`` with little target data.
    """
    return [
        {"uid": f"world-anli-{i}", **row, "reason": ""} for i, row in enumerate(nli_rows(rng, lex, n))
    ]


# -- extractive QA ---------------------------------------------------------------------


def qa_rows(rng: random.Random, lex: Lexicon, n: int, *, with_title: bool) -> list[Row]:
    """SQuAD's schema (``id``, [``title``,] ``context``, ``question``, ``answers``)."""
    from raygrid.world.lexicon import PROFILES

    sep = " " if PROFILES[lex.code].spaced else ""
    rows = []
    for i in range(n):
        nouns = rng.sample(NOUNS, 6)
        places = rng.sample(PLACES, 3)
        props = []
        for k in range(3):
            p = random_proposition(rng)
            props.append(
                replace(
                    p,
                    subject=NounPhrase(nouns[2 * k], p.subject.adjective),
                    object=NounPhrase(nouns[2 * k + 1], p.object.adjective),
                    place=places[k] if p.place else None,
                )
            )
        style = Style()  # the usual words: questions repeat the context's wording
        context, offsets = "", []
        for p in props:
            if context:
                context += sep
            offsets.append(len(context))
            context += realise(p, lex, style).text
        k = rng.randrange(3)
        slots = ["subject", "object"] + (["place"] if props[k].place else [])
        ask = rng.choice(slots)
        sentence = realise(props[k], lex, style)
        start, end = sentence.spans[ask]
        answer_start = offsets[k] + start
        answer = context[answer_start : offsets[k] + end]
        question = realise(props[k], lex, style, ask=ask).text
        row: Row = {"id": hashlib.sha1(f"{lex.code}:{i}:{context}".encode()).hexdigest()[:24]}
        if with_title:
            row["title"] = f"World_{lex.code}_{i // 20}"
        row.update({"context": context, "question": question, "answers": {"text": [answer], "answer_start": [answer_start]}})
        rows.append(row)
    return rows


# -- the files -------------------------------------------------------------------------

#: (task, split, languages, row maker, size key) of every file the world writes.
Maker = Callable[[random.Random, Lexicon, int], list[Row]]

TARGET_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "xnli": ("en", "ar", "de", "hi", "ru", "sw", "zh"),
    "pawsx": ("en", "de", "ja", "zh"),
    "xquad": ("en", "ar", "de", "hi", "ru", "zh"),
}


def file_plan(sizes: Mapping[str, int]) -> list[tuple[str, str, str, Maker, int]]:
    """Every (task, split, language, maker, rows) the world writes."""
    plan: list[tuple[str, str, str, Maker, int]] = [
        ("mnli", "train", "en", mnli_rows, sizes["intermediate_train"]),
        ("mnli", "dev", "en", mnli_rows, sizes["dev"]),
        ("anli", "train", "en", anli_rows, sizes["intermediate_train"]),
        ("anli", "dev", "en", anli_rows, sizes["dev"]),
        ("qqp", "train", "en", qqp_rows, sizes["intermediate_train"]),
        ("qqp", "dev", "en", qqp_rows, sizes["dev"]),
        ("squad", "train", "en", lambda r, lx, n: qa_rows(r, lx, n, with_title=True), sizes["qa_train"]),
        ("squad", "dev", "en", lambda r, lx, n: qa_rows(r, lx, n, with_title=True), sizes["dev"]),
        ("pawsx", "train", "en", pawsx_rows, sizes["pawsx_train"]),
    ]
    for lang in TARGET_LANGUAGES["xnli"]:
        plan += [("xnli", split, lang, nli_rows, sizes[split]) for split in ("dev", "test")]
    for lang in TARGET_LANGUAGES["pawsx"]:
        plan += [("pawsx", split, lang, pawsx_rows, sizes[split]) for split in ("dev", "test")]
    for lang in TARGET_LANGUAGES["xquad"]:
        plan.append(("xquad", "test", lang, lambda r, lx, n: qa_rows(r, lx, n, with_title=False), sizes["test"]))
    return plan


__all__ = [
    "CONTRADICTION",
    "ENTAILMENT",
    "NEUTRAL",
    "NOT_PARAPHRASE",
    "PARAPHRASE",
    "TARGET_LANGUAGES",
    "anli_rows",
    "file_plan",
    "lexicons",
    "mnli_rows",
    "nli_pair",
    "nli_rows",
    "paraphrase_pair",
    "pawsx_rows",
    "qa_rows",
    "qqp_rows",
]
