"""Tagging format on the tiny model."""

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
from raygrid.formats._common import IGNORE_INDEX
from raygrid.formats.tagging import FORMAT, fallback_tag_id, first_subtoken_positions
from raygrid.tasks.types import FormatName, Role, TaskSpec

NER = TaskSpec(
    name="toy_ner",
    role=Role.TARGET,
    format=FormatName.TAGGING,
    metric="f1",
    languages=("en",),
    hub=None,
    columns=("tokens", "tags"),
    adapter=dict,
    label_names=("O", "B-PER", "I-PER", "B-LOC", "I-LOC"),
)
POS = dataclasses.replace(NER, name="toy_pos", metric="accuracy", label_names=("NOUN", "VERB", "DET", "PUNCT"))

NER_ROWS = [
    {"tokens": ["Angela", "Merkel", "besuchte", "Paris", "."], "tags": [1, 2, 0, 3, 0]},
    {"tokens": ["Москва"], "tags": [3]},
    {"tokens": ["Hi", "Jo"], "tags": [0, 1]},
]


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> Any:
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(0)
    return AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=5)


def test_registry_and_head() -> None:
    assert get_format("tagging") is FORMAT
    assert FORMAT.head is HeadKind.TOKEN_CLASSIFICATION
    assert FORMAT.num_labels(NER) == 5
    assert fallback_tag_id(NER) == 0
    assert fallback_tag_id(dataclasses.replace(NER, label_names=("B-X", "I-X", "O"))) == 2
    assert fallback_tag_id(POS) == 0


def test_first_subtoken_positions() -> None:
    # word 1 has no token (truncated or empty); word 3 is beyond the encoding
    assert first_subtoken_positions([None, 0, 0, 2, 2, None], 4) == [1, -1, 3, -1]


def test_encode_labels_first_subtoken_only(tiny_tokenizer: Any) -> None:
    feats = FORMAT.encode(Dataset.from_list(NER_ROWS), tiny_tokenizer, NER, EncodeSettings(max_seq_length=64))
    assert set(feats.column_names) == {"input_ids", "attention_mask", "labels"}
    first = feats[0]
    enc = tiny_tokenizer(NER_ROWS[0]["tokens"], is_split_into_words=True)
    assert first["input_ids"] == enc["input_ids"]
    word_ids = enc.word_ids()
    assert len(word_ids) > len(NER_ROWS[0]["tokens"]) + 2  # the words really split into sub-tokens
    expected = [
        IGNORE_INDEX if w is None or (pos > 0 and word_ids[pos - 1] == w) else NER_ROWS[0]["tags"][w]
        for pos, w in enumerate(word_ids)
    ]
    assert first["labels"] == expected
    # one label per word, in word order; specials and continuation pieces are -100
    assert [x for x in first["labels"] if x != IGNORE_INDEX] == NER_ROWS[0]["tags"]
    assert first["labels"][0] == IGNORE_INDEX and first["labels"][-1] == IGNORE_INDEX


def test_encode_truncation_drops_late_words(tiny_tokenizer: Any) -> None:
    (feat,) = FORMAT.encode(Dataset.from_list(NER_ROWS[:1]), tiny_tokenizer, NER, EncodeSettings(max_seq_length=8))
    assert len(feat["input_ids"]) == len(feat["labels"]) == 8
    kept = [x for x in feat["labels"] if x != IGNORE_INDEX]
    assert 0 < len(kept) < 5 and kept == NER_ROWS[0]["tags"][: len(kept)]


def test_encode_rejects_malformed_rows(tiny_tokenizer: Any) -> None:
    with pytest.raises(DataError, match="row 1 has 2 tokens but 1 tags"):
        FORMAT.encode(
            Dataset.from_list([NER_ROWS[0], {"tokens": ["a", "b"], "tags": [0]}]), tiny_tokenizer, NER, EncodeSettings()
        )
    with pytest.raises(DataError, match="row 0 has tag id 7"):
        FORMAT.encode(Dataset.from_list([{"tokens": ["a"], "tags": [7]}]), tiny_tokenizer, NER, EncodeSettings())


def test_collate_pads_labels_with_ignore_index(tiny_tokenizer: Any) -> None:
    feats = list(FORMAT.encode(Dataset.from_list(NER_ROWS), tiny_tokenizer, NER, EncodeSettings()))
    batch = FORMAT.collate(feats, tiny_tokenizer.pad_token_id)
    longest = max(len(f["input_ids"]) for f in feats)
    assert batch["input_ids"].shape == batch["labels"].shape == (3, longest)
    n = len(feats[1]["input_ids"])
    assert batch["labels"][1, n:].eq(IGNORE_INDEX).all()
    assert batch["input_ids"][1, n:].eq(tiny_tokenizer.pad_token_id).all()
    assert batch["attention_mask"][1].sum().item() == n


def test_predict_one_tag_per_word(model: Any, tiny_tokenizer: Any) -> None:
    rows = Dataset.from_list([*NER_ROWS, {"tokens": [], "tags": []}, {"tokens": ["", "x"], "tags": [0, 0]}])
    preds = FORMAT.predict(model, rows, tiny_tokenizer, NER, EvalSettings(batch_size=2))
    assert [len(p) for p in preds] == [5, 1, 2, 0, 2]
    assert all(0 <= t < 5 for p in preds for t in p)
    assert preds[4][0] == fallback_tag_id(NER)  # "" has no token
    # the tags sit at the first sub-token: same as one forward pass by hand
    enc = tiny_tokenizer(NER_ROWS[0]["tokens"], is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        token_tags = model.eval()(**enc).logits.argmax(-1)[0].tolist()
    starts = first_subtoken_positions(enc.word_ids(), 5)
    assert preds[0] == [token_tags[p] for p in starts]


def test_predict_truncated_words_get_fallback(model: Any, tiny_tokenizer: Any) -> None:
    rows = Dataset.from_list(NER_ROWS[:1])
    settings = EvalSettings(encode=EncodeSettings(max_seq_length=6), batch_size=4)
    (pred,) = FORMAT.predict(model, rows, tiny_tokenizer, POS, settings)
    enc = tiny_tokenizer(NER_ROWS[0]["tokens"], is_split_into_words=True, truncation=True, max_length=6)
    lost = [w for w, p in enumerate(first_subtoken_positions(enc.word_ids(), 5)) if p < 0]
    assert lost and all(pred[w] == fallback_tag_id(POS) for w in lost)


def test_score_ner_hand_computed() -> None:
    rows = Dataset.from_list(NER_ROWS)
    # gold entities: PER(0,2) LOC(3,4) | LOC(0,1) | PER(1,2)  -> 4
    preds = [
        [1, 2, 0, 3, 0],  # PER(0,2) LOC(3,4): both right
        [0],  # LOC missed
        [2, 2],  # I-PER I-PER -> PER(0,2): wrong span
    ]
    # tp 2, predicted 3, gold 4 -> p 2/3, r 1/2, f1 = 2*(2/3)(1/2)/(7/6) = 4/7
    # token accuracy: row 0 5/5, row 1 0/1 (O vs B-LOC), row 2 0/2 (I-PER I-PER vs O B-PER) -> 5/8
    out = FORMAT.score(preds, rows, NER)
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(0.5)
    assert out["f1"] == pytest.approx(4 / 7)
    assert out["accuracy"] == pytest.approx(5 / 8)


def test_score_pos_accuracy_and_errors() -> None:
    rows = Dataset.from_list([{"tokens": ["a", "b", "c"], "tags": [0, 1, 3]}, {"tokens": ["d"], "tags": [2]}])
    assert FORMAT.score([[0, 1, 0], [2]], rows, POS) == {"accuracy": 0.75}  # 3 of 4 words
    with pytest.raises(ConfigError, match="metric 'f1'"):
        FORMAT.score([[0, 1, 0], [2]], rows, dataclasses.replace(POS, metric="f1"))
    with pytest.raises(DataError, match="row 1 has 1 words but 2 predicted tags"):
        FORMAT.score([[0, 1, 0], [2, 2]], rows, POS)
    with pytest.raises(DataError, match="predicted tag id 9"):
        FORMAT.score([[0, 1, 9], [2]], rows, POS)


def test_two_training_steps_give_finite_loss(tiny_model_dir: Path, tiny_tokenizer: Any) -> None:
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=5)
    feats = list(FORMAT.encode(Dataset.from_list(NER_ROWS), tiny_tokenizer, NER, EncodeSettings(max_seq_length=32)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(2):
        batch = FORMAT.collate(feats[step : step + 2], tiny_tokenizer.pad_token_id)
        loss = model(**batch).loss
        assert math.isfinite(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad()
