"""Hyper-parameters of one training phase."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from raygrid.errors import ConfigError
from raygrid.hparams import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_EVALS_PER_EPOCH, MAX_SEED, ROWS

#: The order TrainConfig checks the table's fields in (the first bad one is reported).
_CHECK_ORDER = (
    "learning_rate", "num_epochs", "batch_size", "grad_accumulation_steps", "warmup_ratio", "weight_decay",
    "max_grad_norm", "max_seq_length", "doc_stride", "evals_per_epoch", "mixing_cap", "eval_batch_size",
)  # fmt: skip


class Precision(str, Enum):
    """Numeric precision of the forward/backward pass."""

    AUTO = "auto"  # bf16 autocast on GPUs that support it, fp32 otherwise
    FP32 = "fp32"
    BF16 = "bf16"


@dataclass(frozen=True)
class TrainConfig:
    """What one phase (intermediate or target fine-tuning) trains with.

    Attributes:
        learning_rate: peak AdamW learning rate (jiant's X-STILTs: 1e-5).
        num_epochs: passes over the training data (fractions allowed).
        batch_size: the *effective* batch: examples per optimizer step,
            summed over gradient accumulation and data-parallel workers.
        grad_accumulation_steps: micro-batches per optimizer step.
        warmup_ratio: fraction of steps with linear warm-up, then linear decay.
        weight_decay: AdamW decoupled weight decay (not on biases/LayerNorm).
        max_grad_norm: gradient clipping (0 = off).
        max_seq_length: tokens per sequence.
        doc_stride: span QA window overlap, tokens.
        seed: seeds the head init, data order, dropout and mixing.
        evals_per_epoch: English-dev evaluations per epoch (the last one at
            the epoch's end).
        keep_best: return (and checkpoint) the weights of the best dev
            evaluation rather than the last (jiant's early-stopping choice).
        mixing_cap: multi-task: examples-proportional mixing with each
            task's size capped at this many examples (Raffel et al. 2020's K).
        precision: see :class:`Precision`.
        eval_batch_size: batch size for dev evaluation.
        compile: run the training forward/backward through
            ``torch.compile`` (dynamic shapes). An execution setting like
            the device: it is left out of :meth:`to_dict`, so checkpoint
            and run keys do not depend on it.
    """

    learning_rate: float = ROWS["learning_rate"].default
    num_epochs: float = ROWS["num_epochs"].default
    batch_size: int = int(ROWS["batch_size"].default)
    grad_accumulation_steps: int = int(ROWS["grad_accumulation_steps"].default)
    warmup_ratio: float = ROWS["warmup_ratio"].default
    weight_decay: float = ROWS["weight_decay"].default
    max_grad_norm: float = ROWS["max_grad_norm"].default
    max_seq_length: int = int(ROWS["max_seq_length"].default)
    doc_stride: int = int(ROWS["doc_stride"].default)
    seed: int = 0
    evals_per_epoch: int = int(ROWS["evals_per_epoch"].default)
    keep_best: bool = True
    mixing_cap: int = int(ROWS["mixing_cap"].default)
    precision: Precision = Precision.AUTO
    eval_batch_size: int = int(ROWS["eval_batch_size"].default)
    compile: bool = False

    def __post_init__(self) -> None:
        # The bounds are the hyper-parameter table's (raygrid.hparams).
        values = asdict(self)
        for name in (n for n in _CHECK_ORDER if ROWS[n].kind is float):
            value = values[name]
            # numbers.Real: NumPy scalars (a sampler's values) are numbers too
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ConfigError(f"train config field {name!r}: bad value {value!r}; allowed: a finite number")
        for name in _CHECK_ORDER:
            row = ROWS[name]
            if not row.check(values[name], values):
                raise ConfigError(f"train config field {name!r}: bad value {values[name]!r}; allowed: {row.allowed}")
        if self.batch_size % self.grad_accumulation_steps:
            raise ConfigError(
                f"train config field 'batch_size': {self.batch_size} is not divisible by "
                f"grad_accumulation_steps={self.grad_accumulation_steps}"
            )
        object.__setattr__(self, "precision", Precision(self.precision))

    def micro_batch_size(self, world_size: int = 1) -> int:
        """Examples per forward pass on one worker."""
        per_step = self.batch_size // self.grad_accumulation_steps
        if per_step % world_size:
            raise ConfigError(
                f"train config field 'batch_size': {self.batch_size} / grad_accumulation_steps "
                f"{self.grad_accumulation_steps} = {per_step} is not divisible by {world_size} workers"
            )
        return per_step // world_size

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["precision"] = self.precision.value
        del out["compile"]
        return out


__all__ = ["MAX_BATCH_SIZE", "MAX_EPOCHS", "MAX_EVALS_PER_EPOCH", "MAX_SEED", "Precision", "TrainConfig"]
