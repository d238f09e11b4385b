"""Sentence and sentence-pair classification (XNLI, PAWS-X, MNLI, ANLI, QQP, SST-2).

Canonical row: ``{"text_a": str, "text_b": str | None, "label": int}``. A row
with ``text_b = None`` is encoded as a single sentence, any other as the pair
``(text_a, text_b)`` (XLM-R: ``<s> A </s></s> B </s>``), truncated to
``max_seq_length`` tokens with ``"longest_first"`` (the longer side loses
tokens first, as in jiant and the HF GLUE example). The head is a sequence
classifier with ``len(task.label_names)`` outputs; a prediction is the argmax
of its logits.

Metrics: ``accuracy`` always; for two-class tasks also ``f1`` of class 1
(QQP's second metric in GLUE).

Example:
    >>> from raygrid.formats import get_format
    >>> fmt = get_format("classification")
    >>> fmt.head.value
    'sequence_classification'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from raygrid.errors import ConfigError, DataError, one_of
from raygrid.formats import metrics
from raygrid.formats._common import collate_features, predict_in_batches
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_TOKENIZE_CHUNK = 1000  # rows per tokenizer call in predict


class ClassificationFormat:
    """Sequence (pair) classification; stateless, use :data:`FORMAT`."""

    name: FormatName = FormatName.CLASSIFICATION
    head: HeadKind = HeadKind.SEQUENCE_CLASSIFICATION

    def num_labels(self, task: TaskSpec) -> int:
        """``len(task.label_names)``.

        Raises:
            ConfigError: the task has no label names.
        """
        if not task.label_names:
            raise ConfigError(f"task {task.name!r}: a classification task needs label_names")
        return len(task.label_names)

    def encode(
        self,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EncodeSettings,
    ) -> Dataset:
        """Tokenises rows into ``input_ids``, ``attention_mask`` (and
        ``token_type_ids`` where the tokenizer makes them) and ``labels``.

        Raises:
            DataError: a row's label is outside ``[0, num_labels)``.
        """
        n = self.num_labels(task)

        def fn(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
            for label, i in zip(batch["label"], indices, strict=True):
                _check_label(label, n, task, i)
            out = _tokenize(batch["text_a"], batch.get("text_b"), tokenizer, settings.max_seq_length)
            out["labels"] = [int(x) for x in batch["label"]]
            return out

        return rows.map(fn, batched=True, with_indices=True, remove_columns=rows.column_names)

    def collate(self, features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
        """Pads token lists to the batch's longest row; ``labels`` -> a 1-D tensor."""
        return collate_features(features, pad_token_id)

    def predict(
        self,
        model: PreTrainedModel,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EvalSettings,
    ) -> list[int]:
        """The argmax class id of each row (labels in ``rows`` are not read)."""
        features: list[dict[str, Any]] = []
        for start in range(0, len(rows), _TOKENIZE_CHUNK):
            chunk = rows[start : start + _TOKENIZE_CHUNK]
            enc = _tokenize(chunk["text_a"], chunk.get("text_b"), tokenizer, settings.encode.max_seq_length)
            features.extend(dict(zip(enc, values, strict=True)) for values in zip(*enc.values(), strict=True))
        if not features:
            return []

        def per_row(batch: dict[str, torch.Tensor], outputs: Any) -> list[int]:
            return [int(x) for x in outputs.logits.argmax(dim=-1).tolist()]

        return predict_in_batches(
            model,
            features,
            lambda fs: collate_features(fs, tokenizer.pad_token_id),
            per_row,
            lengths=[len(f["input_ids"]) for f in features],
            batch_size=settings.batch_size,
            device=settings.device,
        )

    def score(
        self,
        predictions: Sequence[Any],
        rows: Dataset,
        task: TaskSpec,
        *,
        calibration: Any = None,
        language: str = "en",
    ) -> dict[str, float]:
        """``accuracy`` (and ``f1`` of class 1 for two-class tasks) as fractions.

        Raises:
            DataError: prediction count differs from the row count, or a gold
                label is out of range (e.g. ``-1`` of an unlabelled test set).
            ConfigError: ``task.metric`` is not one this format computes.
        """
        gold = [int(x) for x in rows["label"]]
        if len(predictions) != len(gold):
            raise DataError(f"task {task.name!r}: {len(predictions)} predictions for {len(gold)} rows")
        n = self.num_labels(task)
        for i, label in enumerate(gold):
            _check_label(label, n, task, i)
        preds = [int(p) for p in predictions]
        result = {"accuracy": metrics.accuracy(preds, gold)}
        if n == 2:
            result["f1"] = metrics.binary_f1(preds, gold, positive=1)
        if task.metric not in result:
            raise ConfigError(
                f"task {task.name!r}: metric {task.metric!r} is not computed by the classification "
                f"format; allowed: {one_of(result)}"
            )
        return result


def _check_label(label: Any, num_labels: int, task: TaskSpec, index: int) -> None:
    if label is None or not 0 <= int(label) < num_labels:
        raise DataError(f"task {task.name!r}: row {index} has label {label!r}; allowed: 0..{num_labels - 1}")


def _tokenize(
    text_a: Sequence[str],
    text_b: Sequence[str | None] | None,
    tokenizer: PreTrainedTokenizerBase,
    max_seq_length: int,
) -> dict[str, list[Any]]:
    """Tokenises single sentences and pairs (rows with ``text_b=None`` are single)."""
    text_a = list(text_a)
    text_b = list(text_b) if text_b is not None else [None] * len(text_a)
    pair_idx = [i for i, b in enumerate(text_b) if b is not None]
    single_idx = [i for i, b in enumerate(text_b) if b is None]
    kwargs: dict[str, Any] = {"truncation": "longest_first", "max_length": max_seq_length}
    parts: list[tuple[list[int], Any]] = []
    if pair_idx:
        parts.append((pair_idx, tokenizer([text_a[i] for i in pair_idx], [text_b[i] for i in pair_idx], **kwargs)))
    if single_idx:
        parts.append((single_idx, tokenizer([text_a[i] for i in single_idx], **kwargs)))
    keys = sorted({k for _, enc in parts for k in enc}) if parts else ["attention_mask", "input_ids"]
    out: dict[str, list[Any]] = {k: [None] * len(text_a) for k in keys}
    for idx, enc in parts:
        for k in keys:
            # a single-sentence batch may lack token_type_ids a pair batch has: all zeros there
            values = enc[k] if k in enc else [[0] * len(ids) for ids in enc["input_ids"]]
            for i, v in zip(idx, values, strict=True):
                out[k][i] = v
    return out


#: The registry's entry (see :mod:`raygrid.formats`).
FORMAT = ClassificationFormat()

__all__ = ["FORMAT", "ClassificationFormat"]
