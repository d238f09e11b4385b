"""Sentence (pair) classification format on the tiny model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset

from raygrid.errors import ConfigError, DataError
from raygrid.formats import EncodeSettings, EvalSettings, HeadKind, get_format
from raygrid.formats.classification import FORMAT
from raygrid.tasks.types import FormatName, Role, TaskSpec


def _task(labels: tuple[str, ...] = ("entailment", "neutral", "contradiction"), metric: str = "accuracy") -> TaskSpec:
    return TaskSpec(
        name="toy_nli",
        role=Role.TARGET,
        format=FormatName.CLASSIFICATION,
        metric=metric,
        languages=("en",),
        hub=None,
        columns=("text_a", "text_b", "label"),
        adapter=dict,
        label_names=labels,
    )


ROWS = [
    {"text_a": "A man plays a guitar on stage.", "text_b": "A person makes music.", "label": 0},
    {"text_a": "Kinder spielen im Park.", "text_b": "Niemand ist draußen.", "label": 2},
    {"text_a": "Кошка спит.", "text_b": "Животное отдыхает весь день.", "label": 1},
    {"text_a": "短い文。", "text_b": "別の文。", "label": 0},
    {"text_a": "x", "text_b": "y", "label": 2},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer: Any) -> Any:
    return tiny_tokenizer


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> Any:
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3)


def test_registry_and_head() -> None:
    assert get_format("classification") is FORMAT
    assert FORMAT.head is HeadKind.SEQUENCE_CLASSIFICATION
    assert FORMAT.num_labels(_task()) == 3
    with pytest.raises(ConfigError, match="label_names"):
        FORMAT.num_labels(_task(labels=()))


def test_encode_pairs_and_singles(tokenizer: Any) -> None:
    rows = Dataset.from_list(
        [
            {"text_a": "Hello world", "text_b": "Bonjour", "label": 1},
            {"text_a": "Hello world", "text_b": None, "label": 0},
        ]
    )
    feats = FORMAT.encode(rows, tokenizer, _task(), EncodeSettings(max_seq_length=64))
    assert set(feats.column_names) == {"input_ids", "attention_mask", "labels"}
    pair, single = feats[0], feats[1]
    assert pair["labels"] == 1 and single["labels"] == 0
    assert pair["input_ids"] == tokenizer("Hello world", "Bonjour")["input_ids"]
    assert single["input_ids"] == tokenizer("Hello world")["input_ids"]
    # XLM-R pair layout: <s> A </s></s> B </s>
    sep = tokenizer.sep_token_id
    assert pair["input_ids"].count(sep) == 3 and single["input_ids"].count(sep) == 1
    assert len(pair["attention_mask"]) == len(pair["input_ids"])  # no padding in features


def test_encode_truncates_longest_first(tokenizer: Any) -> None:
    rows = Dataset.from_list([{"text_a": "word " * 200, "text_b": "short", "label": 0}])
    (feat,) = FORMAT.encode(rows, tokenizer, _task(), EncodeSettings(max_seq_length=16))
    assert len(feat["input_ids"]) == 16
    # the long side was cut, the short hypothesis survives whole before the final </s>
    short = tokenizer("short", add_special_tokens=False)["input_ids"]
    assert feat["input_ids"][-1 - len(short) : -1] == short


def test_encode_rejects_bad_label(tokenizer: Any) -> None:
    rows = Dataset.from_list([{"text_a": "a", "text_b": "b", "label": 0}, {"text_a": "a", "text_b": "b", "label": -1}])
    with pytest.raises(DataError, match="row 1 has label -1"):
        FORMAT.encode(rows, tokenizer, _task(), EncodeSettings())


def test_collate_pads_to_batch_max(tokenizer: Any) -> None:
    feats = FORMAT.encode(Dataset.from_list(ROWS), tokenizer, _task(), EncodeSettings(max_seq_length=128))
    lengths = [len(f["input_ids"]) for f in feats]
    batch = FORMAT.collate(list(feats), tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (len(ROWS), max(lengths))
    assert batch["labels"].tolist() == [r["label"] for r in ROWS]
    short = lengths.index(min(lengths))
    assert batch["input_ids"][short, min(lengths) :].eq(tokenizer.pad_token_id).all()
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths


def test_predict_matches_single_row_forward(model: Any, tokenizer: Any) -> None:
    rows = Dataset.from_list(ROWS)
    model.train()
    preds = FORMAT.predict(model, rows, tokenizer, _task(), EvalSettings(batch_size=2))
    assert model.training  # mode restored
    assert len(preds) == len(ROWS) and all(isinstance(p, int) and 0 <= p < 3 for p in preds)
    model.eval()
    with torch.inference_mode():
        for row, pred in zip(ROWS, preds, strict=True):
            enc = tokenizer(row["text_a"], row["text_b"], return_tensors="pt")
            assert int(model(**enc).logits.argmax(-1)) == pred
    assert FORMAT.predict(model, rows.select([]), tokenizer, _task(), EvalSettings()) == []


def test_score_hand_computed() -> None:
    rows = Dataset.from_list(ROWS)  # gold 0 2 1 0 2
    assert FORMAT.score([0, 2, 0, 0, 1], rows, _task()) == {"accuracy": 0.6}  # 3 of 5
    with pytest.raises(DataError, match="4 predictions for 5 rows"):
        FORMAT.score([0, 2, 0, 0], rows, _task())
    with pytest.raises(ConfigError, match="metric 'f1'"):
        FORMAT.score([0] * 5, rows, _task(metric="f1"))


def test_score_binary_adds_f1() -> None:
    rows = Dataset.from_list([{"text_a": "a", "text_b": "b", "label": y} for y in (1, 0, 1, 1)])
    # preds 1 1 0 1: acc 2/4; class 1: tp 2 fp 1 fn 1 -> p = r = 2/3 -> f1 2/3
    out = FORMAT.score([1, 1, 0, 1], rows, _task(labels=("no", "yes"), metric="f1"))
    assert out["accuracy"] == 0.5 and out["f1"] == pytest.approx(2 / 3)


def test_two_training_steps_give_finite_loss(tiny_model_dir: Path, tokenizer: Any) -> None:
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3)
    feats = list(FORMAT.encode(Dataset.from_list(ROWS), tokenizer, _task(), EncodeSettings(max_seq_length=32)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(2):
        batch = FORMAT.collate(feats[step * 2 : step * 2 + 3], tokenizer.pad_token_id)
        loss = model(**batch).loss
        assert math.isfinite(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad()
