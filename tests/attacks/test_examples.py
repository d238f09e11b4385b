"""Per-example outcomes of the attack evaluation (raygrid.outcomes) on the tiny
model: one clean row and one row per attack for every example, on the same
examples, with the goal's per-example scores."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from raygrid.attacks import get_attack
from raygrid.attacks.evaluate import EXAMPLE_FIELDS, attack_rows, evaluate_with_examples, example_frame, example_keys
from raygrid.attacks.goals import QAF1Below, TaggingWordError, UntargetedClassification
from raygrid.formats.base import HeadKind
from raygrid.outcomes import EXAMPLE_COLUMNS
from raygrid.tasks import DataSources, get_task, load_rows
from raygrid.tasks.types import Split

SOURCES = DataSources(bundled=True)


@pytest.fixture(scope="module")
def classifier(tiny_model_dir: Path) -> tuple[Any, Any]:
    from raygrid.models import build_model, load_tokenizer

    model = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=3, seed=0)
    return model.eval(), load_tokenizer(tiny_model_dir)


def test_per_example_scores_of_each_goal() -> None:
    cls = UntargetedClassification()
    assert cls.example_score([0.1, 0.7, 0.2], {"label": 1}) == 1.0
    assert cls.example_score([0.1, 0.7, 0.2], {"label": 2}) == 0.0
    qa = QAF1Below(language="en")
    row = {"answers": {"text": ["the red house", "big red house"], "answer_start": [0, 0]}}
    assert qa.example_score("red house", row) == pytest.approx(1.0)  # articles dropped; the best gold counts
    assert qa.example_score("house", row) == pytest.approx(2 / 3)  # max(2/3, 1/2)
    assert qa.example_score("nothing", row) == 0.0
    tags = TaggingWordError()
    assert tags.example_score([1, 2, 0, 0], {"tags": [1, 2, 3, 0]}) == 0.75
    assert tags.example_score([], {"tags": []}) == 0.0


def test_example_keys_are_ids_or_indices_and_unique() -> None:
    assert example_keys([{"id": "a"}, {"id": ""}, {}, {"id": "a"}, {"id": "a"}]) == ["a", "1", "2", "a#1", "a#2"]


def test_clean_and_attacked_rows_share_their_examples(classifier: tuple[Any, Any]) -> None:
    model, tokenizer = classifier
    task = get_task("xnli")
    rows = [dict(r) for r in load_rows(task, Split.TEST, "de", SOURCES, max_examples=6, seed=3)]
    attacks = [get_attack("char_noise", rate=0.5), get_attack("invisible")]
    evaluation = evaluate_with_examples(model, tokenizer, task, "de", rows, attacks, seed=3)
    records = evaluation.examples
    assert all(set(record) == {*EXAMPLE_FIELDS, "task", "language"} for record in records)
    by_attack: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_attack.setdefault(record["attack"], []).append(record)
    assert list(by_attack) == ["none", *(a.label for a in attacks)]
    keys = [r["example_key"] for r in by_attack["none"]]
    assert len(keys) == 6 and len(set(keys)) == 6
    for attack, result in zip(attacks, evaluation.results, strict=True):
        attacked = by_attack[attack.label]
        assert [r["example_key"] for r in attacked] == keys  # the same examples, in the same order
        for clean, row in zip(by_attack["none"], attacked, strict=True):
            assert row["gold"] == clean["gold"] and row["clean_prediction"] == clean["clean_prediction"]
            assert row["clean_correct"] is clean["clean_correct"] == (row["status"] != "skipped")
            assert row["survived"] is (row["clean_correct"] and row["status"] != "successful")
            if row["status"] == "skipped":
                assert row["attacked_score"] == row["clean_score"] and row["queries"] == 1
            else:
                assert row["queries"] == 2 and 0.0 <= row["perturbation_rate"] <= 1.0
            assert row["attacked_score"] == float(json.loads(row["attacked_prediction"]) == json.loads(row["gold"]))
        # the aggregate rows are the per-example ones summed up
        assert result.n_skipped == sum(r["status"] == "skipped" for r in attacked)
        assert result.n_successful == sum(r["status"] == "successful" for r in attacked)
        correct = [r for r in attacked if r["clean_correct"]]
        if correct:
            assert result.attack_success_rate == pytest.approx(1 - sum(r["survived"] for r in correct) / len(correct))
    clean_rows = by_attack["none"]
    assert all(r["status"] == "clean" and r["attacked_prediction"] is None and r["survived"] is None for r in clean_rows)
    assert all(math.isnan(r["attacked_score"]) and math.isnan(r["perturbation_rate"]) and r["queries"] == 1 for r in clean_rows)
    assert evaluation.results[0].clean_accuracy == pytest.approx(sum(r["clean_score"] for r in clean_rows) / 6)
    # rerun with the same seed: the same perturbed texts, hence the same outcomes (paired runs)
    again = evaluate_with_examples(model, tokenizer, task, "de", rows, attacks, seed=3).examples
    assert [(r["attack"], r["attacked_prediction"], r["status"]) for r in again] == [
        (r["attack"], r["attacked_prediction"], r["status"]) for r in records
    ]


def test_attack_rows_give_clean_rows_to_a_language_no_attack_can_perturb(classifier: tuple[Any, Any]) -> None:
    model, tokenizer = classifier
    out = attack_rows(
        model=model, tokenizer=tokenizer, task="xnli", languages=["de", "hi"], splits=[Split.TEST, Split.TEST],
        attacks=[("diacritics", {})], sources=SOURCES, max_examples=4, seed=1, run_key="u1",
        fields={"stage": "confirm", "intermediate": "mnli", "seed": 7, "cell_key": "cell9", "model": "tiny"},
        intermediate_checkpoint="inter-abc",
    )  # fmt: skip
    assert {(r.language, r.attack) for r in out.rows} == {("de", "diacritics")}  # diacritics refuses Hindi
    df = out.examples
    assert list(df.columns) == [*EXAMPLE_COLUMNS, "task", "language"]
    assert sorted({(lang, a) for lang, a in zip(df["language"], df["attack"], strict=True)}) == [
        ("de", "diacritics"), ("de", "none"), ("hi", "none"),
    ]  # fmt: skip
    assert (df["run_key"] == "u1").all() and (df["stage"] == "confirm").all() and (df["seed"] == 7).all()
    assert (df["intermediate"] == "mnli").all() and (df["cell_key"] == "cell9").all() and (df["split"] == "test").all()
    assert (df["intermediate_checkpoint"] == "inter-abc").all() and (df["task"] == "xnli").all()
    de = df[df["language"] == "de"]
    assert list(de[de["attack"] == "none"]["example_key"]) == list(de[de["attack"] == "diacritics"]["example_key"])
    # the subsample is the seeded one: the same keys as the data loader's rows
    rows = load_rows(get_task("xnli"), Split.TEST, "hi", SOURCES, max_examples=4, seed=1)
    assert list(df[df["language"] == "hi"]["example_key"]) == example_keys([dict(r) for r in rows])


def test_example_frame_of_no_records_has_the_columns() -> None:
    frame = example_frame([], run_key="r", split="test")
    assert frame.empty and list(frame.columns) == [*EXAMPLE_COLUMNS, "task", "language"]
