"""The shared latent grammar: propositions, and how each language says them.

A :class:`Proposition` is language-free: an event (verb) with a subject and
an object noun phrase (a noun, optionally an adjective), optionally a place
and a negation. :func:`realise` writes it in one language with that
language's lexicon, word order (SVO, SOV, VSO), adjective placement, case
markers, article and spacing, and returns the character span of every noun
so that QA answers are exact spans.

Example:
    >>> from raygrid.world.lexicon import build_lexicon
    >>> p = Proposition(NounPhrase("dog", "big"), "sees", NounPhrase("cat"), place="park")
    >>> realise(p, build_lexicon("en", 0, 0.4)).text
    'the big dog sees the cat in the park.'
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from raygrid.world.lexicon import ADJECTIVES, FUNCTION, NOUNS, PLACES, PROFILES, VERBS, Lexicon


@dataclass(frozen=True)
class NounPhrase:
    noun: str
    adjective: str | None = None


@dataclass(frozen=True)
class Proposition:
    subject: NounPhrase
    verb: str  # English finite form: the concept
    object: NounPhrase
    negated: bool = False
    place: str | None = None


@dataclass(frozen=True)
class Style:
    """Meaning-preserving choices: synonyms per concept and a fronted place phrase."""

    synonyms: Mapping[str, int] = field(default_factory=dict)
    front_place: bool = False


@dataclass(frozen=True)
class Realisation:
    text: str
    spans: Mapping[str, tuple[int, int]]  # "subject" / "object" / "place" -> [start, end) of the noun


def random_proposition(rng: random.Random, *, adjective_rate: float = 0.5, place_rate: float = 0.5) -> Proposition:
    subject, obj = rng.sample(NOUNS, 2)
    return Proposition(
        subject=NounPhrase(subject, rng.choice(ADJECTIVES) if rng.random() < adjective_rate else None),
        verb=rng.choice(VERBS)[0],
        object=NounPhrase(obj, rng.choice(ADJECTIVES) if rng.random() < adjective_rate else None),
        negated=rng.random() < 0.3,
        place=rng.choice(PLACES) if rng.random() < place_rate else None,
    )


def random_style(rng: random.Random, p: Proposition, synonym_rate: float = 0.15) -> Style:
    concepts = [p.subject.noun, p.verb, p.object.noun, p.subject.adjective, p.object.adjective, p.place]
    return Style(
        synonyms={c: 1 for c in concepts if c is not None and rng.random() < synonym_rate},
        front_place=p.place is not None and rng.random() < 0.5,
    )


class _Builder:
    """Joins pieces with the language's separator and records noun spans."""

    def __init__(self, spaced: bool) -> None:
        self.sep = " " if spaced else ""
        self.text = ""
        self.spans: dict[str, tuple[int, int]] = {}

    def add(self, piece: str, role: str | None = None, head: str | None = None) -> None:
        if not piece:
            return
        if self.text:
            self.text += self.sep
        start = len(self.text)
        self.text += piece
        if role is not None and head is not None:
            offset = piece.index(head)
            self.spans[role] = (start + offset, start + offset + len(head))


def _word(lex: Lexicon, concept: str, style: Style) -> str:
    return lex.word(concept, style.synonyms.get(concept, 0))


def _noun_phrase(np: NounPhrase, lex: Lexicon, style: Style, marker: str) -> tuple[str, str]:
    """(the phrase, its head noun as written)."""
    code = lex.code
    profile = PROFILES[code]
    sep = " " if profile.spaced else ""
    article = lex.functions()["the"]
    noun = _word(lex, np.noun, style)
    adj = _word(lex, np.adjective, style) if np.adjective else None
    if code == "ar":  # the article is a prefix of the noun and of its adjective
        noun = article + noun
        adj = article + adj if adj else None
        article = ""
    parts = [adj, noun] if not profile.adjective_after else [noun, adj]
    phrase = sep.join(p for p in [article, *parts] if p)
    if marker:
        phrase += sep + marker if profile.spaced else marker
    return phrase, noun


def _place_phrase(place: str, lex: Lexicon, style: Style, *, question: bool = False) -> tuple[str, str]:
    code = lex.code
    profile = PROFILES[code]
    f = lex.functions()
    sep = " " if profile.spaced else ""
    if question:
        return f["where"], ""
    noun, _ = _noun_phrase(NounPhrase(place), lex, style, "")
    head = _word(lex, place, style) if code != "ar" else FUNCTION["ar"]["the"] + _word(lex, place, style)
    if code in ("hi", "ja"):  # postpositions
        return noun + (sep if profile.spaced else "") + f["in"], head
    return f["in"] + sep + noun, head


def realise(p: Proposition, lex: Lexicon, style: Style = Style(), *, ask: str | None = None) -> Realisation:
    """``p`` written in ``lex``'s language; ``ask`` ("subject", "object",
    "place") makes it a wh-question about that slot (wh in situ, except
    English, which fronts it)."""
    code = lex.code
    profile = PROFILES[code]
    f = lex.functions()
    b = _Builder(profile.spaced)

    subj, subj_head = _noun_phrase(p.subject, lex, style, f["subj"])
    obj, obj_head = _noun_phrase(p.object, lex, style, f["obj"])
    if ask == "subject":
        subj, subj_head = f["who"] + (" " + f["subj"] if f["subj"] and profile.spaced else f["subj"]), ""
    if ask == "object":
        obj, obj_head = f["whom"] + (" " + f["obj"] if f["obj"] and profile.spaced else f["obj"]), ""
    place, place_head = ("", "")
    if p.place is not None:
        place, place_head = _place_phrase(p.place, lex, style, question=ask == "place")

    verb = _word(lex, p.verb, style)
    if code == "en":
        english_question = ask in ("object", "place")
        if p.negated or english_question:
            verb = ("does not " if p.negated else "does ") + lex.base.get(verb, verb)
            if english_question:  # "whom does the dog see", "where does the dog not see the cat"
                aux, rest = verb.split(" ", 1)
                return _english_question(p, lex, style, ask, subj, subj_head, obj, obj_head, place, aux, rest)
    elif p.negated:
        verb = (verb + f["not"]) if code == "ja" else f["not"] + (" " if profile.spaced else "") + verb

    front = style.front_place and place and ask != "place"
    if front:
        b.add(place + ("," if profile.spaced else "、"), "place", place_head or None)
    if profile.order == "VSO":
        b.add(verb)
        b.add(subj, "subject", subj_head or None)
        b.add(obj, "object", obj_head or None)
    elif profile.order == "SOV":
        b.add(subj, "subject", subj_head or None)
        if place and not front:
            b.add(place, "place", place_head or None)
        b.add(obj, "object", obj_head or None)
        b.add(verb)
    else:
        b.add(subj, "subject", subj_head or None)
        b.add(verb)
        b.add(obj, "object", obj_head or None)
    if place and not front and profile.order != "SOV":
        b.add(place, "place", place_head or None)
    b.text += profile.question if ask else profile.period
    return Realisation(b.text, dict(b.spans))


def _english_question(
    p: Proposition, lex: Lexicon, style: Style, ask: str | None,
    subj: str, subj_head: str, obj: str, obj_head: str, place: str, aux: str, rest: str,
) -> Realisation:  # fmt: skip
    b = _Builder(True)
    b.add("whom" if ask == "object" else "where")
    b.add(aux if not p.negated else "does")
    b.add(subj, "subject", subj_head)
    b.add(rest if not p.negated else rest)
    if ask == "place":
        b.add(obj, "object", obj_head)
    elif place:
        b.add(place, "place", None)
    b.text += "?"
    return Realisation(b.text, dict(b.spans))


def swap_roles(p: Proposition) -> Proposition:
    """Subject and object exchanged (PAWS-style: same words, other meaning)."""
    return replace(p, subject=p.object, object=p.subject)


__all__ = [
    "NounPhrase",
    "Proposition",
    "Realisation",
    "Style",
    "random_proposition",
    "random_style",
    "realise",
    "swap_roles",
]
