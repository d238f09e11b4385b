"""Helpers shared by the format modules: padding, length batching, devices.

Every format pads each batch to its own longest row (dynamic padding) and
predicts in length-sorted batches, so these few functions are the common
ground. The API is small and kept stable on purpose:

* :func:`pad_sequences` -- a list of id lists -> one padded 2-D tensor;
* :func:`collate_features` -- a list of feature dicts -> a dict of tensors
  (2-D for token lists, 3-D for per-choice token lists, 1-D for scalars);
* :func:`length_sorted_batches` -- row indices grouped into batches of similar
  length (longest first);
* :func:`to_device` -- moves a dict of tensors to a device;
* :func:`predict_in_batches` -- runs a model over features in length-sorted
  batches under ``torch.inference_mode`` and returns per-row results in the
  input order.

Example:
    >>> pad_sequences([[5, 6, 7], [8]], pad_value=1).tolist()
    [[5, 6, 7], [8, 1, 1]]
    >>> length_sorted_batches([1, 3, 2], batch_size=2)
    [[1, 2], [0]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch

#: The label value that ``torch.nn.CrossEntropyLoss`` (and every transformers
#: head) ignores: padding positions and non-first sub-tokens carry it.
IGNORE_INDEX = -100

#: Token-level keys a model's forward accepts; everything else (labels,
#: bookkeeping columns) is dropped before a prediction forward pass.
MODEL_INPUT_KEYS: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")

T = TypeVar("T")
F = TypeVar("F", bound=Mapping[str, Any])  # one encoded row (a feature)


def pad_sequences(
    seqs: Sequence[Sequence[int]],
    pad_value: int,
    *,
    length: int | None = None,
    dtype: torch.dtype = torch.long,
) -> torch.Tensor:
    """Right-pads id lists into one ``(len(seqs), length)`` tensor.

    Args:
        seqs: the sequences (lists of ints).
        pad_value: the value written after each sequence.
        length: the padded length; default: the longest sequence.
        dtype: tensor dtype.

    Returns:
        A 2-D tensor; an empty ``seqs`` gives shape ``(0, length or 0)``.

    Raises:
        ValueError: a sequence is longer than ``length``.

    Example:
        >>> pad_sequences([[1], [2, 3]], pad_value=0).tolist()
        [[1, 0], [2, 3]]
    """
    width = max((len(s) for s in seqs), default=0) if length is None else length
    out = torch.full((len(seqs), width), pad_value, dtype=dtype)
    for i, seq in enumerate(seqs):
        if len(seq) > width:
            raise ValueError(f"sequence {i} has {len(seq)} items, more than the padded length {width}")
        if len(seq):
            out[i, : len(seq)] = torch.as_tensor(list(seq), dtype=dtype)
    return out


def _pad_value_for(key: str, pad_token_id: int, pad_values: Mapping[str, int] | None) -> int:
    if pad_values is not None and key in pad_values:
        return pad_values[key]
    if key == "input_ids":
        return pad_token_id
    if key == "labels":
        return IGNORE_INDEX
    return 0  # attention_mask, token_type_ids, special_tokens_mask, ...


def collate_features(
    features: Sequence[Mapping[str, Any]],
    pad_token_id: int,
    *,
    keys: Sequence[str] | None = None,
    pad_values: Mapping[str, int] | None = None,
) -> dict[str, torch.Tensor]:
    """Stacks feature dicts into tensors, padding to the batch's longest row.

    Per key, by the shape of its values:

    * int/float scalars (``labels`` of classification, ``start_positions``)
      -> a 1-D tensor;
    * lists of ints (``input_ids``, token-level ``labels``) -> ``(batch, seq)``;
    * lists of lists of ints (multiple choice: one list per choice)
      -> ``(batch, num_choices, seq)``; every row must have the same number
      of choices.

    Pad values: ``input_ids`` -> ``pad_token_id``, ``labels`` -> ``-100``,
    anything else -> 0, unless ``pad_values`` says otherwise.

    Args:
        features: the rows of one batch.
        pad_token_id: the tokenizer's pad id.
        keys: the keys to collate (default: all keys of the first feature);
            pass it to leave out bookkeeping columns such as offsets or ids.
        pad_values: per-key overrides of the pad value.

    Returns:
        key -> tensor (``torch.long`` for ints, ``torch.float`` for floats).

    Raises:
        ValueError: empty batch, ragged choice counts, or a value that is
            neither a number nor a (nested) list of numbers.

    Example:
        >>> b = collate_features([{"input_ids": [0, 5, 2], "labels": 1},
        ...                       {"input_ids": [0, 2], "labels": 0}], pad_token_id=1)
        >>> b["input_ids"].tolist(), b["labels"].tolist()
        ([[0, 5, 2], [0, 2, 1]], [1, 0])
    """
    if not features:
        raise ValueError("cannot collate an empty batch")
    out: dict[str, torch.Tensor] = {}
    for key in keys if keys is not None else list(features[0]):
        values = [f[key].tolist() if isinstance(f[key], torch.Tensor) else f[key] for f in features]
        pad = _pad_value_for(key, pad_token_id, pad_values)
        first = values[0]
        if isinstance(first, str) or (isinstance(first, Sequence) and first and isinstance(first[0], str)):
            raise ValueError(f"feature {key!r} holds strings; cannot collate it (leave it out with keys=...)")
        if isinstance(first, bool | int | float):
            dtype = torch.float if any(isinstance(v, float) for v in values) else torch.long
            out[key] = torch.tensor(values, dtype=dtype)
        elif isinstance(first, Sequence) and (len(first) == 0 or not isinstance(first[0], Sequence)):
            out[key] = pad_sequences(values, pad)
        elif isinstance(first, Sequence):
            counts = {len(v) for v in values}
            if len(counts) != 1:
                raise ValueError(f"feature {key!r}: rows have different numbers of sub-sequences {sorted(counts)}")
            width = max(len(s) for v in values for s in v)
            flat = [s for v in values for s in v]
            out[key] = pad_sequences(flat, pad, length=width).view(len(values), counts.pop(), width)
        else:
            raise ValueError(f"feature {key!r} has a value of type {type(first).__name__}; cannot collate it")
    return out


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Groups row indices into batches of similar length, longest first.

    Sorting by length keeps padding (wasted compute) small; the sort is stable,
    so equal lengths keep their input order. Callers restore the input order
    through the returned indices.

    Args:
        lengths: the length of each row (tokens, or tokens of the longest choice).
        batch_size: rows per batch (the last batch may be smaller).

    Returns:
        Batches of indices into ``lengths``; together they cover each index once.

    Raises:
        ValueError: ``batch_size`` < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def to_device(batch: Mapping[str, torch.Tensor], device: str | torch.device) -> dict[str, torch.Tensor]:
    """Moves every tensor of a batch to ``device`` (non-blocking where possible)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def predict_in_batches(
    model: torch.nn.Module,
    features: Sequence[F],
    collate: Callable[[Sequence[F]], dict[str, torch.Tensor]],
    per_row: Callable[[dict[str, torch.Tensor], Any], Sequence[T]],
    *,
    lengths: Sequence[int],
    batch_size: int,
    device: str | torch.device,
    model_keys: Sequence[str] = MODEL_INPUT_KEYS,
) -> list[T]:
    """Runs ``model`` over ``features`` and returns one result per feature, in input order.

    The model is moved to ``device`` and put in eval mode for the duration
    (its previous train/eval mode is restored afterwards, so evaluating in
    the middle of training is safe); batches are length-sorted and run under
    ``torch.inference_mode``.

    Args:
        model: a transformers model (any ``nn.Module`` taking keyword tensors).
        features: encoded rows.
        collate: features of one batch -> dict of tensors.
        per_row: ``(batch, outputs) -> one result per row of the batch``;
            ``batch`` is the collated batch on ``device``.
        lengths: a length per feature, for sorting.
        batch_size: features per forward pass.
        device: where to run.
        model_keys: the batch keys passed to the model (labels are left out,
            so no loss is computed).

    Returns:
        ``per_row``'s results, re-ordered to match ``features``.
    """
    results: list[Any] = [None] * len(features)
    was_training = model.training
    _on_device(model, device)
    model.eval()
    try:
        with torch.inference_mode():
            for idx in length_sorted_batches(lengths, batch_size):
                batch = to_device(collate([features[i] for i in idx]), device)
                outputs = model(**{k: v for k, v in batch.items() if k in model_keys})
                rows = per_row(batch, outputs)
                for i, r in zip(idx, rows, strict=True):
                    results[i] = r
    finally:
        if was_training:
            model.train(True)
    return results


def _on_device(model: torch.nn.Module, device: str | torch.device) -> None:
    """``model.to(device)`` unless its first parameter is there already: an
    attack's search calls :func:`predict_in_batches` once per candidate set
    (thousands of times per language), and ``to`` walks every parameter and
    buffer each time (about 6% of an adaptive attack's wall time on the
    demo's model). Models split over devices are not evaluated here."""
    first = next(model.parameters(), None)
    if first is None or first.device != torch.device(device):
        model.to(device)


__all__ = [
    "IGNORE_INDEX",
    "MODEL_INPUT_KEYS",
    "collate_features",
    "length_sorted_batches",
    "pad_sequences",
    "predict_in_batches",
    "to_device",
]
