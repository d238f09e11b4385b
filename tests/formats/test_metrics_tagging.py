"""Metric functions against hand-computed values (raygrid.formats.metrics)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raygrid.formats.metrics import (
    accuracy,
    binary_f1,
    bio_entities,
    entity_f1,
    is_bio_tagset,
    token_accuracy,
)


def test_accuracy_hand_computed() -> None:
    # equal at positions 0 and 2 of 4 -> 2/4
    assert accuracy([1, 0, 2, 2], [1, 1, 2, 0]) == 0.5
    assert accuracy(["a"], ["a"]) == 1.0
    assert accuracy([0, 0, 0], [1, 1, 1]) == 0.0


def test_accuracy_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="zero items"):
        accuracy([], [])


def test_binary_f1_hand_computed() -> None:
    # preds 1 1 1 0 0 / gold 1 0 1 1 0: tp=2 fp=1 fn=1 -> p=2/3 r=2/3 f1=2/3
    assert binary_f1([1, 1, 1, 0, 0], [1, 0, 1, 1, 0]) == pytest.approx(2 / 3)
    # positive class never predicted nor gold -> 0.0 by convention
    assert binary_f1([0, 0], [0, 0]) == 0.0


def test_token_accuracy_counts_every_token() -> None:
    # 3 of 4 tokens right (sentence lengths 3 and 1): not the mean of per-sentence accuracies (5/6)
    assert token_accuracy([["A", "B", "C"], ["D"]], [["A", "B", "X"], ["D"]]) == 0.75
    with pytest.raises(ValueError, match="sequence 0"):
        token_accuracy([["A"]], [["A", "B"]])


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # well-formed
        (["B-PER", "I-PER", "O", "B-LOC"], {("PER", 0, 2), ("LOC", 3, 4)}),
        # I-PER after O starts a PER entity (conlleval repair)
        (["O", "I-PER", "I-PER", "O"], {("PER", 1, 3)}),
        # I-PER at the very start
        (["I-PER", "O"], {("PER", 0, 1)}),
        # I-ORG after B-PER: the PER entity ends, a new ORG entity starts
        (["B-PER", "I-ORG", "I-ORG"], {("PER", 0, 1), ("ORG", 1, 3)}),
        # adjacent B- tags of the same type are two entities
        (["B-PER", "B-PER", "I-PER"], {("PER", 0, 1), ("PER", 1, 3)}),
        # an entity that runs to the end of the sentence
        (["O", "O", "B-LOC", "I-LOC"], {("LOC", 2, 4)}),
        # a one-token entity at the end
        (["O", "B-MISC"], {("MISC", 1, 2)}),
        # nothing
        (["O", "O"], set()),
        ([], set()),
    ],
)
def test_bio_entities_with_repair(tags: list[str], expected: set[tuple[str, int, int]]) -> None:
    assert bio_entities(tags) == expected


def test_bio_entities_rejects_unknown_tags() -> None:
    with pytest.raises(ValueError, match="'PER' at position 1"):
        bio_entities(["O", "PER"])
    with pytest.raises(ValueError, match="'B-'"):
        bio_entities(["B-"])


def test_entity_f1_hand_computed_corpus() -> None:
    gold = [
        ["B-PER", "I-PER", "O", "B-LOC"],  # PER(0,2) LOC(3,4)
        ["B-ORG", "I-ORG", "I-ORG"],  # ORG(0,3)
        ["O", "B-PER"],  # PER(1,2)
    ]
    pred = [
        ["B-PER", "I-PER", "O", "O"],  # PER(0,2) correct; LOC missed
        ["B-ORG", "I-ORG", "B-ORG"],  # ORG(0,2) wrong boundary, ORG(2,3) spurious
        ["O", "I-PER"],  # repaired to PER(1,2): correct
    ]
    # gold entities 4, predicted 4, correct 2 (PER(0,2) in s0, PER(1,2) in s2)
    # precision = 2/4 = 0.5, recall = 2/4 = 0.5, f1 = 0.5
    assert entity_f1(pred, gold) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_entity_f1_repair_cases() -> None:
    # gold: PER(0,1) ORG(1,3); pred "B-PER B-ORG I-ORG" has the same entities
    assert entity_f1([["B-PER", "B-ORG", "I-ORG"]], [["B-PER", "I-ORG", "I-ORG"]])["f1"] == 1.0
    # gold: PER(0,1) PER(1,2) (adjacent B-); pred B-PER I-PER = PER(0,2)
    # tp 0, 1 predicted, 2 gold -> p 0, r 0, f1 0
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "B-PER"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # gold PER(0,1) LOC(2,4 = end); pred PER(0,1) LOC(2,3) LOC(3,4)
    # tp 1, predicted 3, gold 2 -> p 1/3, r 1/2, f1 = 2*(1/3)(1/2)/(5/6) = 0.4
    r = entity_f1([["B-PER", "O", "B-LOC", "B-LOC"]], [["B-PER", "O", "B-LOC", "I-LOC"]])
    assert r["precision"] == pytest.approx(1 / 3)
    assert r["recall"] == pytest.approx(0.5)
    assert r["f1"] == pytest.approx(0.4)


def test_entity_f1_edge_cases() -> None:
    # nothing predicted, one gold: p 0 (no predictions), r 0, f1 0
    assert entity_f1([["O"]], [["B-PER"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # no entities anywhere: all 0
    assert entity_f1([["O"]], [["O"]])["f1"] == 0.0
    with pytest.raises(ValueError, match="1 predicted sequences but 2 gold sequences"):
        entity_f1([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sequence 0"):
        entity_f1([["O"]], [["O", "O"]])


def test_is_bio_tagset() -> None:
    assert is_bio_tagset(["O", "B-PER", "I-PER"])
    assert not is_bio_tagset(["NOUN", "VERB", "O"])


_TAGS = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_TAGS, max_size=12))
def test_bio_entities_partition_non_outside_tokens(tags: list[str]) -> None:
    entities = bio_entities(tags)
    covered = [i for _, s, e in entities for i in range(s, e)]
    # spans are disjoint and cover exactly the non-O tokens, each with its own type
    assert sorted(covered) == [i for i, t in enumerate(tags) if t != "O"]
    for kind, s, e in entities:
        assert all(tags[i][2:] == kind for i in range(s, e))
        assert all(tags[i].startswith("I-") for i in range(s + 1, e))
    # perfect prediction scores 1 whenever there is an entity
    if entities:
        assert math.isclose(entity_f1([tags], [tags])["f1"], 1.0)
