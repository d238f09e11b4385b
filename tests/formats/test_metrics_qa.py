"""QA metrics against hand-computed values (SQuAD v1.1 / v2 and MLQA scripts)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raygrid.formats import qa_metrics, span_qa
from raygrid.formats.qa_metrics import gold_answers, normalize_answer, qa_exact_match, qa_f1, squad_scores


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Quick, Brown Fox!", "quick brown fox"),  # lower, punctuation, article
        ("  an   apple a day ", "apple day"),  # articles and extra whitespace
        ("theatre", "theatre"),  # \b: "the" inside a word stays
        ("«Paris»", "paris"),  # MLQA strips Unicode punctuation (SQuAD's ASCII set would not)
        ("$5", "5"),  # string.punctuation holds ASCII symbols too
        ("", ""),
    ],
)
def test_normalize_answer_english_is_squad_normalisation(text: str, expected: str) -> None:
    assert normalize_answer(text, "en") == expected


def test_normalize_answer_german_articles() -> None:
    assert normalize_answer("Die Hauptstadt der Bundesrepublik", "de") == "hauptstadt bundesrepublik"
    # English rules leave German articles alone.
    assert normalize_answer("Die Hauptstadt der Bundesrepublik", "en") == "die hauptstadt der bundesrepublik"


def test_normalize_answer_spanish_articles_and_hindi_has_none() -> None:
    assert normalize_answer("El gato y la casa", "es") == "gato y casa"
    assert normalize_answer("भारत की राजधानी", "hi") == "भारत की राजधानी"


def test_normalize_answer_chinese_is_segmented_by_character() -> None:
    # "，" and "。" are Unicode punctuation (category Po) -> removed; each Han
    # character becomes its own token.
    assert normalize_answer("北京，中国。", "zh") == "北 京 中 国"
    # Latin runs inside Chinese text stay whole words.
    assert normalize_answer("iPhone 手机", "zh") == "iphone 手 机"


def test_normalize_answer_arabic_follows_the_official_script_verbatim() -> None:
    # mlqa_evaluation_v1.py replaces every "ال" by a space, even inside a word:
    # "القاهرة" -> " قاهرة"; "الجمال" (ا ل ج م ا ل) -> " جم " -> "جم".
    assert normalize_answer("القاهرة", "ar") == "قاهرة"
    assert normalize_answer("الجمال", "ar") == "جم"
    assert normalize_answer("مصر؟", "ar") == "مصر"  # "؟" (Arabic question mark) is punctuation


def test_normalize_answer_outside_mlqa_languages_removes_no_articles() -> None:
    assert normalize_answer("The cat, the hat", "ru") == "the cat the hat"


def test_exact_match_ignores_case_articles_punctuation() -> None:
    assert qa_exact_match("the Eiffel Tower", "Eiffel Tower.") == 1.0
    assert qa_exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_f1_partial_overlap() -> None:
    # pred "the cat sat on a mat" -> [cat, sat, on, mat] (4 tokens)
    # gold "a cat on the mat"     -> [cat, on, mat]      (3 tokens)
    # common 3: P = 3/4, R = 3/3, F1 = 2 * 0.75 * 1 / 1.75 = 6/7
    assert qa_f1("the cat sat on a mat", "a cat on the mat") == pytest.approx(6 / 7)
    assert qa_f1("dog", "cat") == 0.0


def test_f1_chinese_is_character_level() -> None:
    # [北 京 大 学] vs [北 京]: common 2, P = 2/4, R = 2/2, F1 = 2 * 0.5 / 1.5 = 2/3
    assert qa_f1("北京大学", "北京", "zh") == pytest.approx(2 / 3)
    # Without segmentation the two are single different tokens.
    assert qa_f1("北京大学", "北京", "en") == 0.0


def test_repeated_tokens_count_with_multiplicity() -> None:
    # "new new york" -> [new, new, york] vs [new, york]: common min-counts
    # new:1 + york:1 = 2; P = 2/3, R = 2/2, F1 = 2 * (2/3) / (5/3) = 0.8
    assert qa_f1("new new york", "new york") == pytest.approx(0.8)


def test_scores_take_the_max_over_gold_answers_and_average_in_percent() -> None:
    # row 1: "Denver Broncos" equals the second gold -> EM 1, F1 1.
    # row 2: "the Denver Broncos team" -> [denver, broncos, team]; vs "Broncos":
    #        common 1, P = 1/3, R = 1, F1 = (2/3) / (4/3) = 0.5; vs "Denver" also 0.5.
    # EM = (1 + 0) / 2 = 50 %, F1 = (1 + 0.5) / 2 = 75 %.
    scores = squad_scores(
        ["Denver Broncos", "the Denver Broncos team"],
        [["Broncos", "Denver Broncos"], ["Broncos", "Denver"]],
    )
    assert scores == {"exact_match": pytest.approx(0.5), "f1": pytest.approx(0.75)}


def test_unanswerable_gold_is_the_empty_string() -> None:
    gold = gold_answers({"text": [], "answer_start": []})
    assert gold == [""]
    assert squad_scores(["", "Paris"], [gold, gold]) == {"exact_match": 0.5, "f1": 0.5}
    # An empty prediction for an answerable question scores 0.
    assert squad_scores([""], [["Paris"]]) == {"exact_match": 0.0, "f1": 0.0}


def test_scores_reject_mismatched_lengths() -> None:
    from raygrid.errors import DataError

    with pytest.raises(DataError):
        squad_scores(["a"], [["a"], ["b"]])


def test_metrics_are_torch_free_and_re_exported_by_span_qa() -> None:
    for name in qa_metrics.__all__:
        assert getattr(span_qa, name) is getattr(qa_metrics, name), name
    code = (
        "import sys\n"
        "from raygrid.attacks.goals import goal_for\n"
        "goal = goal_for('span_qa', language='de')\n"
        "assert goal.score('Berlin', {'answers': {'text': ['Berlin'], 'answer_start': [0]}}, None) == 0.0\n"
        "heavy = [m for m in ('torch', 'numpy', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
