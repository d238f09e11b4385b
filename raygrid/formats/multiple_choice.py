"""Multiple choice (HellaSwag, CommonsenseQA, Cosmos QA).

Canonical row: ``{"context": str, "question": str, "choices": list[str],
"label": int}``. As in the HF ``run_swag`` example, every choice becomes one
sequence pair ``(prompt, choice)`` with ``prompt = context + " " + question``
(either part may be empty), truncated to ``max_seq_length`` tokens per choice
with ``"longest_first"``. A feature holds ``num_choices`` token lists, so a
batch is ``(batch, num_choices, seq)``, padded to the longest choice in the
batch. The head scores each choice; a prediction is the best choice's index.

Where a task wants the SWAG layout (HellaSwag's ``ctx_b`` prefixed to every
ending, as jiant does), its adapter puts that prefix into ``choices``.

Every row must have exactly ``task.num_choices`` choices; the transformers
multiple-choice head needs a fixed count per batch, and a wrong count usually
means a broken adapter.

Metric: ``accuracy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from raygrid.errors import ConfigError, DataError
from raygrid.formats import metrics
from raygrid.formats._common import collate_features, predict_in_batches
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_TOKENIZE_CHUNK = 500  # rows per tokenizer call in predict


class MultipleChoiceFormat:
    """Multiple choice over a fixed number of answers; stateless, use :data:`FORMAT`."""

    name: FormatName = FormatName.MULTIPLE_CHOICE
    head: HeadKind = HeadKind.MULTIPLE_CHOICE

    def num_labels(self, task: TaskSpec) -> None:
        """``None``: the head scores each choice with one logit."""
        return None

    def encode(
        self,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EncodeSettings,
    ) -> Dataset:
        """Tokenises rows into per-choice ``input_ids``/``attention_mask`` and ``labels``.

        Raises:
            ConfigError: the task does not declare ``num_choices``.
            DataError: a row has another number of choices, or a label
                outside ``[0, num_choices)``.
        """
        n = _num_choices(task)

        def fn(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
            out = _tokenize(batch, indices, tokenizer, task, settings.max_seq_length)
            for label, i in zip(batch["label"], indices, strict=True):
                if label is None or not 0 <= int(label) < n:
                    raise DataError(f"task {task.name!r}: row {i} has label {label!r}; allowed: 0..{n - 1}")
            out["labels"] = [int(x) for x in batch["label"]]
            return out

        return rows.map(fn, batched=True, with_indices=True, remove_columns=rows.column_names)

    def collate(self, features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
        """Pads to ``(batch, num_choices, longest choice in the batch)``; ``labels`` -> 1-D."""
        return collate_features(features, pad_token_id)

    def predict(
        self,
        model: PreTrainedModel,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EvalSettings,
    ) -> list[int]:
        """The index of the highest-scoring choice of each row."""
        features: list[dict[str, Any]] = []
        for start in range(0, len(rows), _TOKENIZE_CHUNK):
            chunk = rows[start : start + _TOKENIZE_CHUNK]
            indices = list(range(start, start + len(chunk["choices"])))
            enc = _tokenize(chunk, indices, tokenizer, task, settings.encode.max_seq_length)
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
            lengths=[max(len(ids) for ids in f["input_ids"]) for f in features],
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
        """``{"accuracy": ...}`` as a fraction.

        Raises:
            DataError: prediction count differs from the row count, or a gold
                label is out of range (an unlabelled test split).
            ConfigError: ``task.metric`` is not ``"accuracy"``.
        """
        n = _num_choices(task)
        gold = [int(x) for x in rows["label"]]
        if len(predictions) != len(gold):
            raise DataError(f"task {task.name!r}: {len(predictions)} predictions for {len(gold)} rows")
        for i, label in enumerate(gold):
            if not 0 <= label < n:
                raise DataError(f"task {task.name!r}: row {i} has label {label!r}; allowed: 0..{n - 1}")
        if task.metric != "accuracy":
            raise ConfigError(
                f"task {task.name!r}: metric {task.metric!r}; the multiple-choice format computes 'accuracy'"
            )
        return {"accuracy": metrics.accuracy([int(p) for p in predictions], gold)}


def _num_choices(task: TaskSpec) -> int:
    if not task.num_choices or task.num_choices < 2:
        raise ConfigError(
            f"task {task.name!r}: a multiple-choice task needs num_choices >= 2, got {task.num_choices!r}"
        )
    return task.num_choices


def _prompt(context: str | None, question: str | None) -> str:
    return " ".join(p.strip() for p in (context, question) if p and p.strip())


def _tokenize(
    batch: dict[str, list[Any]],
    indices: Sequence[int],
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    max_seq_length: int,
) -> dict[str, list[Any]]:
    """Per-choice pairs ``(context + question, choice)``, regrouped per row."""
    n = _num_choices(task)
    questions = batch.get("question") or [None] * len(batch["context"])
    firsts: list[str] = []
    seconds: list[str] = []
    for context, question, choices, i in zip(batch["context"], questions, batch["choices"], indices, strict=True):
        if choices is None or len(choices) != n:
            got = "no" if choices is None else len(choices)
            raise DataError(f"task {task.name!r}: row {i} has {got} choices; the task has {n}")
        prompt = _prompt(context, question)
        firsts.extend([prompt] * n)
        seconds.extend(choices)
    if not firsts:
        return {"input_ids": [], "attention_mask": []}
    enc = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_seq_length)
    return {k: [list(v[j : j + n]) for j in range(0, len(v), n)] for k, v in enc.items()}


#: The registry's entry (see :mod:`raygrid.formats`).
FORMAT = MultipleChoiceFormat()

__all__ = ["FORMAT", "MultipleChoiceFormat"]
