"""Token tagging (UD-POS, PAN-X, CCG).

Canonical row: ``{"tokens": list[str], "tags": list[int]}`` (one tag id per
word, ``task.label_names[id]`` its name).

Encoding: words go to the tokenizer with ``is_split_into_words=True``,
truncated to ``max_seq_length`` tokens. Only the *first* sub-token of each
word carries the word's tag; later sub-tokens and special tokens carry -100,
so the loss ignores them (the HF token-classification example, XTREME,
jiant). A word the tokenizer turns into no token at all (an empty or
invisible-only string) is not trained on.

Prediction: one tag id per input word, read at the word's first sub-token.
Words with no token in the encoded input (truncated away, or tokenised to
nothing) get the fallback tag: ``"O"`` where the tag set has one, else tag 0.

Scoring convention (a deliberate departure from XTREME): *every* word of a
row is scored, including those lost to truncation (they carry the fallback
tag, so they count as errors unless their gold tag is the fallback).
XTREME's ``run_tag.py`` scores only the words that survive truncation. We
keep the denominator fixed because attacks that lengthen the tokenisation
(character noise, byte-fallback scripts) would otherwise push gold words out
of the scored set and look like robustness. At ``max_seq_length=256`` clean
UD-POS and PAN-X sentences are almost never truncated, so clean scores match.

Metrics:

* tag sets with ``B-``/``I-`` tags (PAN-X): entity-level ``precision``,
  ``recall`` and ``f1`` (conlleval semantics, see
  :func:`raygrid.formats.metrics.bio_entities`) plus token ``accuracy``;
* other tag sets (UD-POS, CCG): token ``accuracy``.

``task.metric`` must be among the keys (``"f1"`` or ``"accuracy"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from raygrid.errors import ConfigError, DataError, one_of
from raygrid.formats import metrics
from raygrid.formats._common import IGNORE_INDEX, MODEL_INPUT_KEYS, collate_features, predict_in_batches
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

_TOKENIZE_CHUNK = 1000  # rows per tokenizer call in predict


class TaggingFormat:
    """Token classification with first-sub-token labelling; stateless, use :data:`FORMAT`."""

    name: FormatName = FormatName.TAGGING
    head: HeadKind = HeadKind.TOKEN_CLASSIFICATION

    def num_labels(self, task: TaskSpec) -> int:
        """``len(task.label_names)``.

        Raises:
            ConfigError: the task has no label names.
        """
        return len(_label_names(task))

    def encode(
        self,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EncodeSettings,
    ) -> Dataset:
        """Tokenises rows into ``input_ids``, ``attention_mask`` and token-level
        ``labels`` (the word's tag on its first sub-token, -100 elsewhere).

        Raises:
            DataError: a row whose tag count differs from its word count, or
                a tag id outside ``[0, num_labels)``.
        """
        n = self.num_labels(task)

        def fn(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
            for tokens, tags, i in zip(batch["tokens"], batch["tags"], indices, strict=True):
                _check_row(tokens, tags, n, task, i)
            enc, firsts = _tokenize(batch["tokens"], tokenizer, settings.max_seq_length)
            out: dict[str, list[Any]] = {k: list(v) for k, v in enc.items()}
            labels: list[list[int]] = []
            for b, (tags, starts) in enumerate(zip(batch["tags"], firsts, strict=True)):
                row = [IGNORE_INDEX] * len(enc["input_ids"][b])
                for tag, pos in zip(tags, starts, strict=True):
                    if pos >= 0:
                        row[pos] = int(tag)
                labels.append(row)
            out["labels"] = labels
            return out

        return rows.map(fn, batched=True, with_indices=True, remove_columns=rows.column_names)

    def collate(self, features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
        """Pads ``input_ids`` with ``pad_token_id``, ``labels`` with -100, masks with 0."""
        return collate_features(features, pad_token_id)

    def predict(
        self,
        model: PreTrainedModel,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EvalSettings,
    ) -> list[list[int]]:
        """One tag id per input word of each row (see the module docstring for
        words without a token)."""
        fallback = fallback_tag_id(task)
        features: list[dict[str, Any]] = []
        word_starts: list[list[int]] = []
        for start in range(0, len(rows), _TOKENIZE_CHUNK):
            tokens = rows[start : start + _TOKENIZE_CHUNK]["tokens"]
            enc, firsts = _tokenize(tokens, tokenizer, settings.encode.max_seq_length)
            keys = [k for k in enc if k in MODEL_INPUT_KEYS]
            features.extend({k: enc[k][b] for k in keys} for b in range(len(tokens)))
            word_starts.extend(firsts)
        if not features:
            return []

        def per_row(batch: dict[str, torch.Tensor], outputs: Any) -> list[list[int]]:
            return outputs.logits.argmax(dim=-1).tolist()

        token_preds: list[list[int]] = predict_in_batches(
            model,
            features,
            lambda fs: collate_features(fs, tokenizer.pad_token_id),
            per_row,
            lengths=[len(f["input_ids"]) for f in features],
            batch_size=settings.batch_size,
            device=settings.device,
        )
        return [
            [int(preds[p]) if p >= 0 else fallback for p in starts]
            for preds, starts in zip(token_preds, word_starts, strict=True)
        ]

    def score(
        self,
        predictions: Sequence[Any],
        rows: Dataset,
        task: TaskSpec,
        *,
        calibration: Any = None,
        language: str = "en",
    ) -> dict[str, float]:
        """Entity ``precision``/``recall``/``f1`` (BIO tag sets) and token
        ``accuracy``, as fractions, over every word of every row.

        Raises:
            DataError: prediction count or a row's prediction length differs
                from the gold, or an id is outside the tag set.
            ConfigError: ``task.metric`` is not one this tag set allows.
        """
        names = _label_names(task)
        gold_ids = [list(t) for t in rows["tags"]]
        if len(predictions) != len(gold_ids):
            raise DataError(f"task {task.name!r}: {len(predictions)} predictions for {len(gold_ids)} rows")
        gold = [_names(g, names, task, i, "gold") for i, g in enumerate(gold_ids)]
        pred = [_names(list(p), names, task, i, "predicted") for i, p in enumerate(predictions)]
        for i, (p, g) in enumerate(zip(pred, gold, strict=True)):
            if len(p) != len(g):
                raise DataError(f"task {task.name!r}: row {i} has {len(g)} words but {len(p)} predicted tags")
        if not any(gold):
            raise DataError(f"task {task.name!r}: no words to score in {len(gold)} rows")
        result: dict[str, float] = {}
        if metrics.is_bio_tagset(names):
            result.update(metrics.entity_f1(pred, gold))
        result["accuracy"] = metrics.token_accuracy(pred, gold)
        if task.metric not in result:
            allowed = ["f1", "accuracy"] if metrics.is_bio_tagset(names) else ["accuracy"]
            raise ConfigError(
                f"task {task.name!r}: metric {task.metric!r} is not computed for its tag set; "
                f"allowed: {one_of(allowed)}"
            )
        return result


def fallback_tag_id(task: TaskSpec) -> int:
    """The tag predicted for words without a token: ``"O"`` if the tag set has it, else 0."""
    names = _label_names(task)
    return names.index(metrics.OUTSIDE) if metrics.OUTSIDE in names else 0


def first_subtoken_positions(word_ids: Sequence[int | None], num_words: int) -> list[int]:
    """For each word, the position of its first sub-token in the encoding, -1 if none.

    Args:
        word_ids: the tokenizer's ``word_ids()`` of one encoding (``None``
            for special tokens).
        num_words: words in the input row.

    Example:
        >>> first_subtoken_positions([None, 0, 0, 2, None], 4)
        [1, -1, 3, -1]
    """
    starts = [-1] * num_words
    for pos, w in enumerate(word_ids):
        if w is not None and starts[w] < 0:
            starts[w] = pos
    return starts


def _label_names(task: TaskSpec) -> tuple[str, ...]:
    if not task.label_names:
        raise ConfigError(f"task {task.name!r}: a tagging task needs label_names")
    return task.label_names


def _check_row(tokens: Sequence[str] | None, tags: Sequence[int] | None, n: int, task: TaskSpec, i: int) -> None:
    if tokens is None or tags is None or len(tokens) != len(tags):
        n_tok = "no" if tokens is None else len(tokens)
        n_tag = "no" if tags is None else len(tags)
        raise DataError(f"task {task.name!r}: row {i} has {n_tok} tokens but {n_tag} tags")
    for t in tags:
        if t is None or not 0 <= int(t) < n:
            raise DataError(f"task {task.name!r}: row {i} has tag id {t!r}; allowed: 0..{n - 1}")


def _names(ids: Sequence[Any], names: Sequence[str], task: TaskSpec, i: int, what: str) -> list[str]:
    out = []
    for t in ids:
        if t is None or not 0 <= int(t) < len(names):
            raise DataError(f"task {task.name!r}: row {i} has {what} tag id {t!r}; allowed: 0..{len(names) - 1}")
        out.append(names[int(t)])
    return out


def _tokenize(
    tokens: Sequence[Sequence[str]], tokenizer: PreTrainedTokenizerBase, max_seq_length: int
) -> tuple[Any, list[list[int]]]:
    """Encodes pre-split words; returns the encoding and each row's first-sub-token positions."""
    words = [list(t) for t in tokens]
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_seq_length)
    firsts = [first_subtoken_positions(enc.word_ids(b), len(w)) for b, w in enumerate(words)]
    return enc, firsts


#: The registry's entry (see :mod:`raygrid.formats`).
FORMAT = TaggingFormat()

__all__ = ["FORMAT", "TaggingFormat", "fallback_tag_id", "first_subtoken_positions"]
