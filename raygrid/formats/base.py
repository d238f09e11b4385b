"""The contract every task format implements.

A *format* (classification, multiple choice, span QA, tagging, retrieval)
knows how to turn canonical rows (see :mod:`raygrid.tasks.types`) into model
features, how to batch them with dynamic padding, which model head it needs,
how to predict, and how to score predictions with its metric. Training
(:mod:`raygrid.train`) and evaluation (:mod:`raygrid.evaluate`) only talk to
this protocol, so adding a format means adding one module and one registry
line in :mod:`raygrid.formats`.

The module imports neither torch nor transformers; implementations do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class HeadKind(str, Enum):
    """The transformers head a format trains; :mod:`raygrid.models` maps each
    to its ``AutoModelFor...`` class."""

    SEQUENCE_CLASSIFICATION = "sequence_classification"
    MULTIPLE_CHOICE = "multiple_choice"
    QUESTION_ANSWERING = "question_answering"
    TOKEN_CLASSIFICATION = "token_classification"
    ENCODER = "encoder"  # no head: retrieval uses the encoder's hidden states


@dataclass(frozen=True)
class EncodeSettings:
    """How rows become features.

    Attributes:
        max_seq_length: tokens per sequence (per choice, for multiple choice).
        doc_stride: span QA: overlap, in tokens, between the windows a long
            context is split into.
    """

    max_seq_length: int = 256
    doc_stride: int = 128


@dataclass(frozen=True)
class EvalSettings:
    """How a model is run for prediction.

    Attributes:
        encode: feature settings (must match training for QA windows).
        batch_size: examples (features) per forward pass.
        device: torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        max_answer_length: span QA: longest answer, in tokens.
        n_best: span QA: start/end candidates considered per window.
        retrieval_layer: retrieval: which hidden layer to mean-pool
            (0 = embeddings; ``None`` = the format's default).
    """

    encode: EncodeSettings = EncodeSettings()
    batch_size: int = 64
    device: str = "cpu"
    max_answer_length: int = 30
    n_best: int = 20
    retrieval_layer: int | None = None


class Format(Protocol):
    """One task format. Implementations are stateless module-level objects."""

    name: FormatName
    head: HeadKind

    def num_labels(self, task: TaskSpec) -> int | None:
        """Labels of the head (classes, tags); ``None`` where the head has none."""
        ...

    def encode(
        self,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EncodeSettings,
    ) -> Dataset:
        """Tokenises canonical rows into *training* features: ``input_ids``,
        ``attention_mask`` and the label columns the head's loss needs
        (``labels``; span QA: ``start_positions``/``end_positions``). No
        padding here: :meth:`collate` pads each batch to its longest row."""
        ...

    def collate(self, features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
        """Pads a list of features to the longest in the batch (dynamic padding)."""
        ...

    def predict(
        self,
        model: PreTrainedModel,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EvalSettings,
    ) -> list[Any]:
        """One prediction per canonical row (class id, choice id, answer text,
        tag-id list, or for retrieval the best target index and its score)."""
        ...

    def score(
        self,
        predictions: Sequence[Any],
        rows: Dataset,
        task: TaskSpec,
        *,
        calibration: Any = None,
        language: str = "en",
    ) -> dict[str, float]:
        """Metrics of predictions against the rows' gold labels. The task's
        primary metric (``task.metric``) is always among the keys.
        ``calibration`` carries dev-set-tuned values (BUCC's threshold);
        ``language`` selects language-specific answer normalisation (MLQA)
        and is ignored by formats that have none."""
        ...
