"""Multiple-choice format on the tiny model."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset

from raygrid.errors import ConfigError, DataError
from raygrid.formats import EncodeSettings, EvalSettings, HeadKind, get_format
from raygrid.formats.multiple_choice import FORMAT
from raygrid.tasks.types import FormatName, Role, TaskSpec

TASK = TaskSpec(
    name="toy_mc",
    role=Role.INTERMEDIATE,
    format=FormatName.MULTIPLE_CHOICE,
    metric="accuracy",
    languages=("en",),
    hub=None,
    columns=("context", "question", "choices", "label"),
    adapter=dict,
    num_choices=3,
)

ROWS = [
    {
        "context": "She opened the fridge.",
        "question": "What next?",
        "choices": ["She took milk.", "It flew.", "Rain"],
        "label": 0,
    },
    {"context": "", "question": "Where do fish live?", "choices": ["water", "sky", "in a very tall tree"], "label": 0},
    {"context": "A long story " * 5, "question": "", "choices": ["a", "b", "c"], "label": 2},
    {"context": "Er läuft.", "question": "Warum?", "choices": ["Eile", "Spaß", "Sport"], "label": 1},
]


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> Any:
    from transformers import AutoModelForMultipleChoice

    torch.manual_seed(0)
    return AutoModelForMultipleChoice.from_pretrained(tiny_model_dir)


def test_registry_and_head() -> None:
    assert get_format("multiple_choice") is FORMAT
    assert FORMAT.head is HeadKind.MULTIPLE_CHOICE
    assert FORMAT.num_labels(TASK) is None


def test_encode_one_pair_per_choice(tiny_tokenizer: Any) -> None:
    feats = FORMAT.encode(Dataset.from_list(ROWS), tiny_tokenizer, TASK, EncodeSettings(max_seq_length=64))
    assert set(feats.column_names) == {"input_ids", "attention_mask", "labels"}
    assert feats["labels"] == [0, 0, 2, 1]
    first = feats[0]
    assert len(first["input_ids"]) == 3
    for choice, ids in zip(ROWS[0]["choices"], first["input_ids"], strict=True):
        assert ids == tiny_tokenizer("She opened the fridge. What next?", choice)["input_ids"]
    # empty context: the prompt is the question alone
    assert feats[1]["input_ids"][0] == tiny_tokenizer("Where do fish live?", "water")["input_ids"]


def test_encode_truncates_each_choice(tiny_tokenizer: Any) -> None:
    feats = FORMAT.encode(Dataset.from_list(ROWS), tiny_tokenizer, TASK, EncodeSettings(max_seq_length=12))
    lengths = [len(ids) for f in feats for ids in f["input_ids"]]
    assert max(lengths) == 12
    # the short choice "c" survives truncation of the long context (longest_first)
    c = tiny_tokenizer("c", add_special_tokens=False)["input_ids"]
    assert feats[2]["input_ids"][2][-1 - len(c) : -1] == c


def test_wrong_number_of_choices_names_the_row(tiny_tokenizer: Any) -> None:
    bad = [*ROWS[:2], {**ROWS[2], "choices": ["a", "b"]}]
    with pytest.raises(DataError, match="row 2 has 2 choices; the task has 3"):
        FORMAT.encode(Dataset.from_list(bad), tiny_tokenizer, TASK, EncodeSettings())
    with pytest.raises(DataError, match="row 0 has label 3"):
        FORMAT.encode(Dataset.from_list([{**ROWS[0], "label": 3}]), tiny_tokenizer, TASK, EncodeSettings())
    with pytest.raises(ConfigError, match="num_choices"):
        no_count = dataclasses.replace(TASK, num_choices=None)
        FORMAT.encode(Dataset.from_list(ROWS), tiny_tokenizer, no_count, EncodeSettings())


def test_collate_is_three_dimensional(tiny_tokenizer: Any) -> None:
    feats = list(FORMAT.encode(Dataset.from_list(ROWS), tiny_tokenizer, TASK, EncodeSettings(max_seq_length=64)))
    batch = FORMAT.collate(feats[:2], tiny_tokenizer.pad_token_id)
    longest = max(len(ids) for f in feats[:2] for ids in f["input_ids"])
    assert batch["input_ids"].shape == (2, 3, longest)
    assert batch["attention_mask"].shape == (2, 3, longest)
    assert batch["labels"].tolist() == [0, 0]
    n = len(feats[1]["input_ids"][1])  # row 1, choice "sky"
    assert batch["input_ids"][1, 1, n:].eq(tiny_tokenizer.pad_token_id).all()
    assert batch["attention_mask"][1, 1].sum().item() == n


def test_predict_and_score(model: Any, tiny_tokenizer: Any) -> None:
    rows = Dataset.from_list(ROWS)
    preds = FORMAT.predict(model, rows, tiny_tokenizer, TASK, EvalSettings(batch_size=3))
    assert len(preds) == 4 and all(0 <= p < 3 for p in preds)
    # same answers one row at a time (length sorting + padding do not change them)
    one = EvalSettings(batch_size=1)
    single = [FORMAT.predict(model, rows.select([i]), tiny_tokenizer, TASK, one)[0] for i in range(4)]
    assert preds == single
    # gold 0 0 2 1 vs 0 1 2 2 -> 2 of 4
    assert FORMAT.score([0, 1, 2, 2], rows, TASK) == {"accuracy": 0.5}
    with pytest.raises(DataError, match="3 predictions for 4 rows"):
        FORMAT.score([0, 1, 2], rows, TASK)
    with pytest.raises(DataError, match="row 0 has label -1"):
        FORMAT.score([0], Dataset.from_list([{**ROWS[0], "label": -1}]), TASK)


def test_two_training_steps_give_finite_loss(tiny_model_dir: Path, tiny_tokenizer: Any) -> None:
    from transformers import AutoModelForMultipleChoice

    torch.manual_seed(0)
    model = AutoModelForMultipleChoice.from_pretrained(tiny_model_dir)
    feats = list(FORMAT.encode(Dataset.from_list(ROWS), tiny_tokenizer, TASK, EncodeSettings(max_seq_length=32)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(2):
        batch = FORMAT.collate(feats[step * 2 : step * 2 + 2], tiny_tokenizer.pad_token_id)
        loss = model(**batch).loss
        assert math.isfinite(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad()
