"""SQuAD v1.1 / MLQA answer metrics, in pure Python (no torch, no numpy).

:func:`normalize_answer` follows MLQA's ``mlqa_evaluation_v1.py``
(facebookresearch/MLQA), which generalises SQuAD v1.1's ``evaluate-v1.1.py``;
exact match and F1 are maxima over a row's gold answers, averaged over rows,
as fractions in [0, 1] (the official scripts print percent). The span-QA
format (:mod:`raygrid.formats.span_qa`) scores with them and re-exports them;
the attack goals (:mod:`raygrid.attacks.goals`) use them without torch.

Example:
    >>> normalize_answer("The  Eiffel Tower!", "en")
    'eiffel tower'
    >>> round(qa_f1("the tower", "Eiffel Tower", "en"), 3)
    0.667
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from raygrid.errors import DataError

# ---------------------------------------------------------------------------
# Metric: SQuAD v1.1 / MLQA official evaluation
# ---------------------------------------------------------------------------

#: Languages for which MLQA's script defines article removal and tokenisation.
MLQA_LANGUAGES: frozenset[str] = frozenset({"en", "es", "hi", "vi", "de", "ar", "zh"})

# mlqa_evaluation_v1.py: articles removed per language (hi and zh have none).
_ARTICLES: dict[str, re.Pattern[str]] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    # Verbatim from the official script: the alternation makes it remove every
    # "ال" (the Arabic definite article), even inside a word.
    "ar": re.compile(r"\sال^|ال"),
}
# mlqa_evaluation_v1.py: mixed_segmentation splits out each CJK ideograph.
_CJK = re.compile(r"[\u4e00-\u9fa5]")
_MIXED_SEGMENTATION_LANGUAGES = frozenset({"zh"})


def _is_punctuation(char: str) -> bool:
    # MLQA's PUNCT: every code point whose Unicode category starts with "P",
    # plus string.punctuation (which adds ASCII symbols such as $ + < = > ^ ` | ~).
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
    # mlqa_evaluation_v1.py, mixed_segmentation: each CJK character (or
    # punctuation mark, already removed by then) is its own token; runs of
    # other characters are split on whitespace.
    tokens: list[str] = []
    pending = ""
    for char in text:
        if _CJK.search(char) or _is_punctuation(char):
            tokens.extend(pending.split())
            pending = ""
            tokens.append(char)
        else:
            pending += char
    tokens.extend(pending.split())
    return tokens


def normalize_answer(text: str, language: str = "en") -> str:
    """Normalises an answer as MLQA's official evaluation script does.

    Steps (``mlqa_evaluation_v1.py``, ``normalize_answer``): lower-case; drop
    punctuation (Unicode categories P* plus ASCII ``string.punctuation``);
    replace the language's articles by a space; re-join the tokens with single
    spaces, where tokens are whitespace-separated except in Chinese, whose
    ideographs are one token each. For English this is SQuAD v1.1's
    normalisation, except that non-ASCII punctuation (curly quotes, dashes)
    is removed too.

    MLQA's script raises for languages outside :data:`MLQA_LANGUAGES`; here
    those (XQuAD's el ro ru th tr, TyDiQA's bn fi id ko ru sw te) get no
    article removal and whitespace tokenisation. Departure from XTREME, which
    scores XQuAD and TyDiQA with SQuAD's script and so strips the English
    articles a/an/the in every language.

    Args:
        text: an answer string.
        language: ISO 639-1 code of the answer's language.

    Returns:
        The normalised answer.

    Example:
        >>> normalize_answer("北京，中国", "zh")
        '北 京 中 国'
    """
    text = text.lower()
    text = "".join(char for char in text if not _is_punctuation(char))
    articles = _ARTICLES.get(language)
    if articles is not None:
        text = articles.sub(" ", text)
    if language in _MIXED_SEGMENTATION_LANGUAGES:
        tokens = _mixed_segmentation(text)
    else:
        tokens = text.split()
    return " ".join(token for token in tokens if token.strip())


def qa_exact_match(prediction: str, gold: str, language: str = "en") -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction, language) == normalize_answer(gold, language))


def qa_f1(prediction: str, gold: str, language: str = "en") -> float:
    """Token-overlap F1 of two answers, in [0, 1].

    SQuAD v1.1's ``f1_score``, with SQuAD v2's rule for empty answers: when
    either side normalises to no tokens, F1 is 1.0 if both do, else 0.0
    (v1.1 returns 0.0 for two empty answers; that case never arises there).

    Example:
        >>> qa_f1("", "", "en")
        1.0
    """
    prediction_tokens = normalize_answer(prediction, language).split()
    gold_tokens = normalize_answer(gold, language).split()
    if not prediction_tokens or not gold_tokens:
        return float(prediction_tokens == gold_tokens)
    num_same = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_answers(answers: Mapping[str, Sequence[Any]]) -> list[str]:
    """The gold texts of a canonical ``answers`` field; ``[""]`` when the
    question is unanswerable (SQuAD v2's ``evaluate-v2.0.py`` does the same,
    after dropping gold answers that normalise to nothing)."""
    texts = [str(text) for text in answers["text"] if str(text).strip()]
    return texts or [""]


def squad_scores(
    predictions: Sequence[str], golds: Sequence[Sequence[str]], language: str = "en"
) -> dict[str, float]:
    """Exact match and F1 as fractions in [0, 1], each the max over a row's gold answers.

    Args:
        predictions: one answer string per row.
        golds: the gold answers of each row (``[""]`` when unanswerable).
        language: the answers' language (see :func:`normalize_answer`).

    Returns:
        ``{"exact_match": float, "f1": float}`` as fractions in [0, 1] (the
        official script prints percent; raygrid keeps every metric in [0, 1]).

    Example:
        >>> squad_scores(["Paris"], [["Paris", "in Paris"]])
        {'exact_match': 1.0, 'f1': 1.0}
    """
    if len(predictions) != len(golds):
        raise DataError(f"got {len(predictions)} QA predictions for {len(golds)} rows")
    if not golds:
        raise DataError("cannot score QA predictions on zero rows")
    exact = f1 = 0.0
    for prediction, answers in zip(predictions, golds):
        exact += max(qa_exact_match(prediction, gold, language) for gold in answers)
        f1 += max(qa_f1(prediction, gold, language) for gold in answers)
    return {"exact_match": exact / len(golds), "f1": f1 / len(golds)}


__all__ = ["MLQA_LANGUAGES", "gold_answers", "normalize_answer", "qa_exact_match", "qa_f1", "squad_scores"]
