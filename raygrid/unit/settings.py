"""How a unit encodes and evaluates: one rule for every caller.

The span-QA window overlap (``doc_stride``) follows the sequence length the
same way in training and in evaluation, so QA windows at prediction time
are those the model was trained on.

Example:
    >>> doc_stride(384), doc_stride(64)
    (128, 32)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.formats import EncodeSettings, EvalSettings

#: The sequence length of an evaluation that names none (``raygrid attack``):
#: :class:`raygrid.formats.EncodeSettings`' default.
DEFAULT_MAX_SEQ_LENGTH = 256


def doc_stride(max_seq_length: int) -> int:
    """The overlap, in tokens, of a long context's windows: half the
    sequence length, at most 128 (XTREME's value at length 384)."""
    return min(128, max_seq_length // 2)


def encode_settings(max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> EncodeSettings:
    """Feature settings for sequences of ``max_seq_length`` tokens."""
    from raygrid.formats import EncodeSettings

    return EncodeSettings(max_seq_length=max_seq_length, doc_stride=doc_stride(max_seq_length))


def eval_settings(
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH, *, device: str, retrieval_layer: int | None = None
) -> EvalSettings:
    """Prediction settings of a zero-shot evaluation, clean or attacked:
    the training length (and its ``doc_stride``), the device, and for
    retrieval targets the hidden layer to pool (``None``: the format's)."""
    from raygrid.formats import EvalSettings

    return EvalSettings(encode=encode_settings(max_seq_length), device=device, retrieval_layer=retrieval_layer)


__all__ = ["DEFAULT_MAX_SEQ_LENGTH", "doc_stride", "encode_settings", "eval_settings"]
