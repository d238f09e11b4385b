"""The model under attack, queried in batches, with a query counter.

:meth:`Victim.query` takes canonical rows and returns one output per row:
class (or choice) probabilities for classification and multiple choice, the
answer string for span QA, the tag ids for tagging. It reuses the format
modules' tokenisation, so an attacked row is encoded exactly like a clean
one. Every call is one batched pass over all its rows (adaptive attacks
never query one text at a time); ``queries`` counts rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from raygrid.formats import EvalSettings, get_format
from raygrid.formats._common import collate_features, predict_in_batches
from raygrid.tasks.types import FormatName, TaskSpec


class RowTable:
    """A list of canonical rows with the Dataset-like access the formats use
    (``rows["col"]``, ``rows[a:b]["col"]``, ``len``), without building a
    ``datasets.Dataset`` per query."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self._rows = list(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, key: str | slice) -> Any:
        if isinstance(key, str):
            return [row.get(key) for row in self._rows]
        part = self._rows[key]
        keys = list(self._rows[0]) if self._rows else []
        return {k: [row.get(k) for row in part] for k in keys}

    @property
    def column_names(self) -> list[str]:
        return list(self._rows[0]) if self._rows else []


class Victim:
    """A model, its tokenizer and task, queried on canonical rows."""

    def __init__(self, model: Any, tokenizer: Any, task: TaskSpec, settings: EvalSettings = EvalSettings()) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.task = task
        self.settings = settings
        self.format = FormatName(task.format)
        self.queries = 0

    @property
    def mask_text(self) -> str:
        return str(self.tokenizer.mask_token or self.tokenizer.unk_token or "_")

    def query(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        if not rows:
            return []
        self.queries += len(rows)
        if self.format is FormatName.CLASSIFICATION:
            return self._classification(rows)
        if self.format is FormatName.MULTIPLE_CHOICE:
            return self._multiple_choice(rows)
        fmt = get_format(self.format)
        return list(fmt.predict(self.model, RowTable(rows), self.tokenizer, self.task, self.settings))

    def _probabilities(self, features: list[dict[str, Any]], lengths: list[int]) -> list[list[float]]:
        def per_row(batch: dict[str, torch.Tensor], outputs: Any) -> list[list[float]]:
            return torch.softmax(outputs.logits.float(), dim=-1).tolist()

        return predict_in_batches(
            self.model,
            features,
            lambda fs: collate_features(fs, self.tokenizer.pad_token_id),
            per_row,
            lengths=lengths,
            batch_size=self.settings.batch_size,
            device=self.settings.device,
        )

    def _classification(self, rows: Sequence[Mapping[str, Any]]) -> list[list[float]]:
        from raygrid.formats.classification import _tokenize

        enc = _tokenize(
            [r["text_a"] for r in rows], [r.get("text_b") for r in rows], self.tokenizer, self.settings.encode.max_seq_length
        )
        features = [dict(zip(enc, values, strict=True)) for values in zip(*enc.values(), strict=True)]
        return self._probabilities(features, [len(f["input_ids"]) for f in features])

    def _multiple_choice(self, rows: Sequence[Mapping[str, Any]]) -> list[list[float]]:
        from raygrid.formats.multiple_choice import _tokenize

        batch = {k: [r.get(k) for r in rows] for k in ("context", "question", "choices")}
        enc = _tokenize(batch, list(range(len(rows))), self.tokenizer, self.task, self.settings.encode.max_seq_length)
        features = [dict(zip(enc, values, strict=True)) for values in zip(*enc.values(), strict=True)]
        return self._probabilities(features, [max(len(ids) for ids in f["input_ids"]) for f in features])


__all__ = ["RowTable", "Victim"]
