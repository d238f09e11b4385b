"""Greedy search by word importance (TextFooler's "greedy-WIR", Jin et al.
2020; TextAttack's ``GreedyWordSwapWIR``).

1. Importance: each editable word is deleted (mask-one with the tokenizer's
   mask token for tagging, where deleting would empty a token) and the goal
   score of the result measured -- one batched query for all words.
2. Words are visited from most to least important; for each, the
   transformation proposes ``candidates_per_word`` edits, all queried in one
   batch; the best is kept if it raises the goal score; the search stops at
   the first success, when ``max_fraction`` of the words are changed, or
   when the query budget is spent.

Departure from TextFooler: no sentence-encoder similarity constraint (no
such encoder is shared across 40 languages); the word budget and the
protected words are the constraints.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raygrid.attacks.document import Document
from raygrid.attacks.goals import Goal
from raygrid.attacks.transformations import Transformation, candidates
from raygrid.tasks.types import FormatName

QueryFn = Callable[[Sequence[Mapping[str, Any]]], list[Any]]


@dataclass(frozen=True)
class SearchResult:
    edits: dict[int, str]
    row: dict[str, Any]
    output: Any
    succeeded: bool
    queries: int


def greedy_search(
    doc: Document,
    transformation: Transformation,
    goal: Goal,
    query: QueryFn,
    clean: Any,
    *,
    rng: random.Random,
    max_words: int,
    query_budget: int,
    candidates_per_word: int,
    mask_text: str = "<unk>",
) -> SearchResult:
    """Attacks one row (see the module docstring); ``clean`` is the model's
    output on the unperturbed row (its query is not counted here)."""
    row = doc.row
    eligible = [i for i in doc.editable() if transformation.applies(doc.word(i))]
    queries = 0
    if not eligible or max_words < 1:
        return SearchResult({}, dict(row), clean, False, 0)
    if len(eligible) > query_budget // 2:
        eligible = sorted(rng.sample(eligible, max(1, query_budget // 2)))
    blank = mask_text if doc.format is FormatName.TAGGING else ""
    probes = [doc.render({i: blank}) for i in eligible]
    outs = query(probes)
    queries += len(probes)
    importance = [goal.score(o, row, clean) for o in outs]
    order = sorted(range(len(eligible)), key=lambda k: (-importance[k], k))
    current: dict[int, str] = {}
    current_out = clean
    current_score = goal.score(clean, row, clean)
    contextual = getattr(transformation, "contextual_candidates", None)
    for k in order:
        if len(current) >= max_words or queries >= query_budget:
            break
        i = eligible[k]
        n = min(candidates_per_word, query_budget - queries)
        if contextual is not None:
            cands = contextual(doc, current, i, n)
        else:
            cands = candidates(transformation, doc.word(i), rng, n)
        if not cands:
            continue
        rows = [doc.render({**current, i: c}) for c in cands]
        outs = query(rows)
        queries += len(rows)
        scores = [goal.score(o, row, clean) for o in outs]
        wins = [j for j, o in enumerate(outs) if goal.succeeded(o, row, clean)]
        if wins:
            j = max(wins, key=lambda j: (scores[j], -j))
            current[i] = cands[j]
            return SearchResult(dict(current), rows[j], outs[j], True, queries)
        j = max(range(len(cands)), key=lambda j: (scores[j], -j))
        if scores[j] > current_score:
            current[i] = cands[j]
            current_score, current_out = scores[j], outs[j]
    return SearchResult(dict(current), doc.render(current), current_out, False, queries)


__all__ = ["QueryFn", "SearchResult", "greedy_search"]
