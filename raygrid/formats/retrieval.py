"""Sentence retrieval without training: BUCC 2018 and Tatoeba.

Canonical row (:mod:`raygrid.tasks.types`)::

    {"source": str, "target": str}

A row with both sides is a gold translation pair; an empty ``target`` marks
a source sentence with no translation, an empty ``source`` a target-side
distractor. Neither task has training data: they use the encoder as it comes
out of phase 2 (Phang et al. 2020, section 3), so :meth:`encode` refuses.

Prediction follows XTREME's ``third_party/evaluate_retrieval.py``
(google-research/xtreme): each sentence is embedded as the attention-mask
weighted mean of one hidden layer's states (special tokens included, its
default ``pool_skip_special_token=False``), L2-normalised; each source's
nearest target by cosine is its prediction. The candidates are the
*distinct* non-empty targets of the rows, in row order.

Departures from XTREME, on purpose:

* XTREME's Tatoeba searches, for each English sentence, its nearest
  non-English one; here each row's ``source`` searches the targets, so the
  direction is whatever the task adapter puts in ``source``.
* XTREME's BUCC mines with LASER's ratio margin (k=4, both directions,
  ``retrieval="max"``) and CLS pooling of layer 7; here BUCC uses the same
  plain cosine nearest neighbour and mean pooling as Tatoeba, so both tasks
  read one representation of the encoder.

Layer (``EvalSettings.retrieval_layer``; index into ``hidden_states``,
0 = embeddings): by default layer 14 of 24 as XTREME's ``run_tatoeba.sh``
uses for XLM-R Large (``--specific_layer 13`` into ``hidden_states[-24:]``,
i.e. ``hidden_states[14]``), scaled for other depths:
``round(14 / 24 * num_layers)`` (12 layers -> 7; 2 layers -> 1).

Metrics, as fractions in [0, 1] like :mod:`raygrid.formats.metrics`:
Tatoeba ``accuracy``; BUCC ``precision``, ``recall``, ``f1`` at a similarity
``threshold`` tuned to maximise F1 on the dev set (XTREME's
``bucc_optimize``) and applied unchanged to the test set.

Example:
    >>> bucc_f1({(0, 0), (1, 2)}, {(0, 0), (1, 1)})
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
    >>> default_retrieval_layer(24), default_retrieval_layer(12)
    (14, 7)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from raygrid.errors import ConfigError, DataError, one_of
from raygrid.formats import metrics
from raygrid.formats._common import MODEL_INPUT_KEYS, collate_features, predict_in_batches
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: One prediction: (index into the distinct targets, cosine similarity), or
#: ``None`` for a row without a source (a distractor target).
Prediction = tuple[int, float] | None

# XTREME's run_tatoeba.sh: layer 14 of XLM-R Large's 24 (see module docstring).
_XTREME_LAYER, _XTREME_DEPTH = 14, 24
# Similarity scores held at once: 32M float32 = 128 MB per chunk of sources
# (10k x 10k sentences: 3,355 sources per chunk, 3 chunks).
_SIMILARITY_CHUNK_FLOATS = 32 * 1024 * 1024

_NO_TRAINING = (
    "task {task!r} (retrieval) has no training data: BUCC and Tatoeba evaluate the "
    "phase-2 encoder directly; train a target task with a training set instead"
)


def default_retrieval_layer(num_layers: int) -> int:
    """``round(14 / 24 * num_layers)`` (half up): XTREME's layer for XLM-R
    Large, scaled to other depths.

    Example:
        >>> default_retrieval_layer(2)
        1
    """
    return int(math.floor(_XTREME_LAYER * num_layers / _XTREME_DEPTH + 0.5))


def _column(rows: Dataset | Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    if isinstance(rows, Sequence):
        return [row[name] for row in rows]
    return list(rows[name])


def distinct_targets(rows: Dataset | Sequence[Mapping[str, Any]]) -> list[str]:
    """The non-empty targets of the rows, first occurrence first: the index
    space of predictions."""
    return list(dict.fromkeys(t for t in _column(rows, "target") if t))


def _gold_pairs(rows: Dataset | Sequence[Mapping[str, Any]]) -> set[tuple[int, int]]:
    """``(row index, target index)`` of every row with a source and a target."""
    index = {text: i for i, text in enumerate(distinct_targets(rows))}
    return {
        (row, index[target])
        for row, (source, target) in enumerate(zip(_column(rows, "source"), _column(rows, "target")))
        if source and target
    }


def bucc_f1(predicted_pairs: Collection[Hashable], gold_pairs: Collection[Hashable]) -> dict[str, float]:
    """Precision, recall and F1 of extracted pairs against the gold pairs.

    As XTREME's ``bucc_eval``: precision = correct / extracted, recall =
    correct / gold, each 0.0 when its denominator is; F1 = 0.0 when nothing
    is correct.

    Args:
        predicted_pairs: the pairs extracted (any hashable items).
        gold_pairs: the gold pairs.

    Returns:
        ``{"precision", "recall", "f1"}`` as fractions.

    Example:
        >>> bucc_f1([("s1", "t1")], [("s1", "t1"), ("s2", "t2")])
        {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666}
    """
    predicted, gold = set(predicted_pairs), set(gold_pairs)
    correct = len(predicted & gold)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _candidates(predictions: Sequence[Prediction], rows: Dataset | Sequence[Mapping[str, Any]]) -> list[tuple[tuple[int, int], float]]:
    sources = _column(rows, "source")
    if len(predictions) != len(sources):
        raise DataError(f"got {len(predictions)} retrieval predictions for {len(sources)} rows")
    out = []
    for row, (source, prediction) in enumerate(zip(sources, predictions)):
        if source and prediction is not None:
            target, cosine = prediction
            out.append(((row, int(target)), float(cosine)))
    return out


def tune_threshold(predictions: Sequence[Prediction], rows: Dataset | Sequence[Mapping[str, Any]]) -> float:
    """The similarity threshold that maximises BUCC F1 on these predictions.

    XTREME's ``bucc_optimize``: walk the candidate pairs from the most to the
    least similar, and cut where F1 is highest; the threshold is the midpoint
    between the last kept and the first dropped score (the last kept score
    when nothing is dropped). Pairs of equal score are kept or dropped
    together (XTREME may cut between them, which no threshold realises).
    When no candidate is correct the threshold lies just above the best
    score, so nothing is extracted; with no candidates at all it is 0.0.

    Args:
        predictions: :meth:`RetrievalFormat.predict`'s output for ``rows``.
        rows: canonical retrieval rows (the dev set).

    Returns:
        The threshold; a pair counts as extracted when its cosine >= it.

    Example:
        >>> rows = [{"source": "a", "target": "x"}, {"source": "b", "target": ""}]
        >>> tune_threshold([(0, 0.9), (0, 0.5)], rows)  # keep 0.9, drop 0.5
        0.7
    """
    candidates = _candidates(predictions, rows)
    if not candidates:
        return 0.0
    gold = _gold_pairs(rows)
    scores = np.array([score for _, score in candidates], dtype=np.float64)
    correct = np.array([pair in gold for pair, _ in candidates], dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    scores, correct = scores[order], correct[order]
    extracted = np.arange(1, len(scores) + 1)
    hits = np.cumsum(correct)
    # A cut is only possible after the last of a run of equal scores.
    cuttable = np.append(scores[1:] < scores[:-1], True)
    f1 = np.where(hits > 0, 2 * hits / (extracted + len(gold)), 0.0)  # 2PR/(P+R) = 2c/(e+g)
    f1 = np.where(cuttable, f1, -1.0)
    best = int(np.argmax(f1))
    if f1[best] <= 0.0:
        return float(np.nextafter(scores[0], np.inf))
    if best == len(scores) - 1:
        return float(scores[best])
    return float((scores[best] + scores[best + 1]) / 2)


class _PooledEncoder(torch.nn.Module):
    """Wraps a transformers model: mean-pooled, L2-normalised states of one layer."""

    def __init__(self, model: PreTrainedModel, layer: int) -> None:
        super().__init__()
        self.model = model
        self.layer = layer
        self.train(model.training)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        output = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **kwargs)
        states = output.hidden_states[self.layer]
        # evaluate_retrieval.py, mean_pool_embedding: masked sum / token count.
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)


def _nearest(sources: torch.Tensor, targets: torch.Tensor, device: str) -> tuple[np.ndarray, np.ndarray]:
    """Index and cosine of each (unit) source's nearest (unit) target,
    computed in chunks of sources to bound memory."""
    targets_t = targets.to(device).T.contiguous()
    chunk = max(1, _SIMILARITY_CHUNK_FLOATS // max(1, targets.shape[0]))
    best_index, best_score = [], []
    for lo in range(0, sources.shape[0], chunk):
        similarity = sources[lo : lo + chunk].to(device) @ targets_t
        score, index = similarity.max(dim=1)
        best_index.append(index.cpu().numpy())
        best_score.append(score.float().cpu().numpy())
    return np.concatenate(best_index), np.concatenate(best_score)


@dataclass(frozen=True)
class RetrievalFormat:
    """The retrieval format: no head, no training; nearest neighbours of
    pooled hidden states.

    Example:
        >>> FORMAT.head.value
        'encoder'
    """

    name: FormatName = FormatName.RETRIEVAL
    head: HeadKind = HeadKind.ENCODER

    def num_labels(self, task: TaskSpec) -> int | None:
        """``None``: the encoder has no head."""
        return None

    def encode(
        self,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EncodeSettings,
    ) -> Dataset:
        """Always raises: retrieval tasks have no training data.

        Raises:
            DataError: always.
        """
        raise DataError(_NO_TRAINING.format(task=task.name))

    def collate(self, features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
        """Pads tokenised sentences (``input_ids``, ``attention_mask``) to the
        longest in the batch."""
        keys = [key for key in MODEL_INPUT_KEYS if key in features[0]]
        return collate_features(features, pad_token_id, keys=keys)

    def embed(
        self,
        model: PreTrainedModel,
        texts: Sequence[str],
        tokenizer: PreTrainedTokenizerBase,
        settings: EvalSettings,
    ) -> torch.Tensor:
        """Unit-length sentence embeddings, ``(len(texts), hidden)`` on CPU.

        Args:
            model: any transformers model that returns ``hidden_states``.
            texts: the sentences (truncated to ``settings.encode.max_seq_length``).
            tokenizer: the model's tokenizer.
            settings: batch size, device, ``retrieval_layer``.

        Raises:
            ConfigError: ``retrieval_layer`` is outside ``0..num_layers``.
        """
        num_layers = int(model.config.num_hidden_layers)
        layer = settings.retrieval_layer
        if layer is None:
            layer = default_retrieval_layer(num_layers)
        if not 0 <= layer <= num_layers:
            raise ConfigError(
                f"retrieval_layer {layer} is out of range for a model with {num_layers} layers; "
                f"allowed: 0 (embeddings) to {num_layers}"
            )
        if not texts:
            return torch.empty(0, int(model.config.hidden_size))
        encoded = tokenizer(list(texts), truncation=True, max_length=settings.encode.max_seq_length, padding=False)
        keys = [key for key in MODEL_INPUT_KEYS if key in encoded]
        features = [{key: encoded[key][i] for key in keys} for i in range(len(texts))]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        vectors = predict_in_batches(
            _PooledEncoder(model, layer),
            features,
            lambda batch: self.collate(batch, pad_id),
            lambda batch, output: list(output.cpu()),
            lengths=[len(f["input_ids"]) for f in features],
            batch_size=settings.batch_size,
            device=settings.device,
        )
        return torch.stack(vectors)

    def predict(
        self,
        model: PreTrainedModel,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EvalSettings,
    ) -> list[Prediction]:
        """Each row's nearest distinct target and its cosine similarity.

        Every distinct sentence (source or target) is embedded once.

        Args:
            model: the phase-2 encoder (any head; only hidden states are read).
            rows: canonical retrieval rows.
            tokenizer: the model's tokenizer.
            task: the task (unused).
            settings: see :meth:`embed`.

        Returns:
            Per row ``(target_index, cosine)`` with ``target_index`` into
            :func:`distinct_targets`, or ``None`` where the source is empty.

        Raises:
            DataError: the rows have no target sentences.
        """
        sources = _column(rows, "source")
        targets = distinct_targets(rows)
        if not targets:
            raise DataError(f"task {task.name!r}: retrieval rows have no target sentences to search")
        texts = list(dict.fromkeys([*targets, *(s for s in sources if s)]))
        position = {text: i for i, text in enumerate(texts)}
        vectors = self.embed(model, texts, tokenizer, settings)
        queried = [s for s in sources if s]
        index, cosine = _nearest(vectors[[position[s] for s in queried]], vectors[: len(targets)], settings.device)
        found = iter(zip(index.tolist(), cosine.tolist()))
        return [next(found) if source else None for source in sources]

    def calibrate(self, predictions: Sequence[Prediction], rows: Dataset, task: TaskSpec) -> float | None:
        """The dev-set calibration :meth:`score` takes for the test set:
        BUCC's F1-maximising threshold (XTREME tunes it on BUCC's dev data);
        ``None`` for Tatoeba, which has no threshold."""
        return tune_threshold(predictions, rows) if task.metric == "f1" else None

    def score(
        self,
        predictions: Sequence[Prediction],
        rows: Dataset,
        task: TaskSpec,
        *,
        calibration: Any = None,
        language: str = "en",
    ) -> dict[str, float]:
        """Tatoeba accuracy or BUCC precision/recall/F1, chosen by ``task.metric``.

        Args:
            predictions: :meth:`predict`'s output for ``rows``.
            rows: canonical retrieval rows.
            task: ``metric="accuracy"`` (Tatoeba) or ``"f1"`` (BUCC).
            calibration: BUCC only: the threshold tuned on the dev set (a
                float, or the ``score`` result holding ``"threshold"``);
                ``None`` tunes it on these predictions (:func:`tune_threshold`).

        Returns:
            Tatoeba: ``{"accuracy"}`` = share of gold pairs whose source's
            nearest target is its translation. BUCC: ``{"precision",
            "recall", "f1", "threshold"}``, a pair being extracted when its
            cosine >= ``threshold``; the pair of a source without a gold
            translation is a false positive whenever it is extracted.

        Raises:
            ConfigError: ``task.metric`` is neither.
            DataError: prediction count differs from the row count.
        """
        candidates = _candidates(predictions, rows)
        gold = _gold_pairs(rows)
        if task.metric == "accuracy":
            predicted = dict(pair for pair, _ in candidates)
            gold_rows = sorted(gold)
            if not gold_rows:
                raise DataError(f"task {task.name!r}: no rows with both a source and a target to score")
            return {
                "accuracy": metrics.accuracy([predicted.get(row, -1) for row, _ in gold_rows], [t for _, t in gold_rows])
            }
        if task.metric == "f1":
            if calibration is None:
                threshold = tune_threshold(predictions, rows)
            elif isinstance(calibration, Mapping):
                threshold = float(calibration["threshold"])
            else:
                threshold = float(calibration)
            extracted = [pair for pair, cosine in candidates if cosine >= threshold]
            return {**bucc_f1(extracted, gold), "threshold": threshold}
        raise ConfigError(
            f"task {task.name!r}: metric {task.metric!r} is not computed by the retrieval format; "
            f"allowed: {one_of(['accuracy', 'f1'])}"
        )


FORMAT = RetrievalFormat()

__all__ = [
    "FORMAT",
    "Prediction",
    "RetrievalFormat",
    "bucc_f1",
    "default_retrieval_layer",
    "distinct_targets",
    "tune_threshold",
]
