"""Shared format helpers (raygrid.formats._common)."""

from __future__ import annotations

import pytest
import torch

from raygrid.formats._common import (
    IGNORE_INDEX,
    collate_features,
    length_sorted_batches,
    pad_sequences,
    predict_in_batches,
    to_device,
)


def test_pad_sequences() -> None:
    assert pad_sequences([[5, 6, 7], [8], []], pad_value=1).tolist() == [[5, 6, 7], [8, 1, 1], [1, 1, 1]]
    assert pad_sequences([[5]], pad_value=0, length=3).tolist() == [[5, 0, 0]]
    assert pad_sequences([], pad_value=0).shape == (0, 0)
    with pytest.raises(ValueError, match="more than the padded length 1"):
        pad_sequences([[1, 2]], pad_value=0, length=1)


def test_collate_features_2d_3d_and_scalars() -> None:
    feats = [
        {"input_ids": [[0, 9, 2], [0, 2]], "attention_mask": [[1, 1, 1], [1, 1]], "labels": 1, "w": 0.5},
        {"input_ids": [[0, 2], [0, 9, 9, 2]], "attention_mask": [[1, 1], [1, 1, 1, 1]], "labels": 0, "w": 1.0},
    ]
    b = collate_features(feats, pad_token_id=7)
    assert b["input_ids"].shape == (2, 2, 4)
    assert b["input_ids"][0, 0].tolist() == [0, 9, 2, 7]
    assert b["attention_mask"][1, 0].tolist() == [1, 1, 0, 0]
    assert b["labels"].dtype == torch.long and b["labels"].tolist() == [1, 0]
    assert b["w"].dtype == torch.float

    tok = collate_features([{"input_ids": [0, 2], "labels": [IGNORE_INDEX, 3]}, {"input_ids": [0], "labels": [4]}], 1)
    assert tok["labels"].tolist() == [[IGNORE_INDEX, 3], [4, IGNORE_INDEX]]
    assert collate_features([{"input_ids": [5], "x": [2, 2]}], 1, keys=["input_ids"]).keys() == {"input_ids"}


def test_collate_features_errors() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        collate_features([], 1)
    with pytest.raises(ValueError, match="different numbers of sub-sequences"):
        collate_features([{"input_ids": [[1]]}, {"input_ids": [[1], [2]]}], 1)
    with pytest.raises(ValueError, match="'id' holds strings"):
        collate_features([{"id": "q1"}], 1)


def test_length_sorted_batches_cover_each_index_once() -> None:
    assert length_sorted_batches([1, 3, 2, 3], batch_size=2) == [[1, 3], [2, 0]]
    assert length_sorted_batches([], batch_size=4) == []
    with pytest.raises(ValueError):
        length_sorted_batches([1], batch_size=0)


class _Echo(torch.nn.Module):
    """A 'model' whose output is the row's first token id, so order is checkable."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        assert not torch.is_grad_enabled()
        return input_ids[:, 0] * 10 + attention_mask.sum(dim=1)


def test_predict_in_batches_restores_order_and_mode() -> None:
    sizes = [1, 4, 2, 0, 3]
    feats = [{"input_ids": [i] + [9] * n, "attention_mask": [1] * (n + 1), "labels": 0} for i, n in enumerate(sizes)]
    model = _Echo().train()
    out = predict_in_batches(
        model,
        feats,
        lambda fs: collate_features(fs, 0),
        lambda batch, outputs: outputs.tolist(),
        lengths=[len(f["input_ids"]) for f in feats],
        batch_size=2,
        device="cpu",
    )
    assert out == [2, 15, 23, 31, 44]  # id * 10 + length
    assert model.training


def test_to_device() -> None:
    b = to_device({"x": torch.zeros(2)}, "cpu")
    assert b["x"].device.type == "cpu"
