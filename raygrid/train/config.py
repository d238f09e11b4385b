"""Hyper-parameters of one training phase."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from raygrid.errors import ConfigError


#: Upper bounds no real run reaches: a typo (``1e30`` epochs) fails at once
#: instead of planning a run that never ends (or an OverflowError later).
#: The spec's checks (raygrid.spec.PARAMS) use the same numbers.
MAX_EPOCHS = 1_000
MAX_BATCH_SIZE = 1_048_576
MAX_EVALS_PER_EPOCH = 10_000
#: Optuna and NumPy accept seeds in [0, 2**32).
MAX_SEED = 2**32 - 1


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

    learning_rate: float = 1e-5
    num_epochs: float = 2.0
    batch_size: int = 32
    grad_accumulation_steps: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_seq_length: int = 256
    doc_stride: int = 128
    seed: int = 0
    evals_per_epoch: int = 1
    keep_best: bool = True
    mixing_cap: int = 20_000
    precision: Precision = Precision.AUTO
    eval_batch_size: int = 64
    compile: bool = False

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("learning_rate", self.learning_rate > 0, "a number > 0"),
            ("num_epochs", 0 < self.num_epochs <= MAX_EPOCHS, f"a number > 0 and <= {MAX_EPOCHS}"),
            ("batch_size", 1 <= self.batch_size <= MAX_BATCH_SIZE, f"an integer >= 1 and <= {MAX_BATCH_SIZE}"),
            (
                "grad_accumulation_steps",
                1 <= self.grad_accumulation_steps <= MAX_BATCH_SIZE,
                f"an integer >= 1 and <= {MAX_BATCH_SIZE}",
            ),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "a number in [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, "a number >= 0"),
            ("max_grad_norm", self.max_grad_norm >= 0, "a number >= 0"),
            ("max_seq_length", 8 <= self.max_seq_length <= 4096, "an integer in [8, 4096]"),
            ("doc_stride", 0 < self.doc_stride < self.max_seq_length, "an integer in (0, max_seq_length)"),
            ("evals_per_epoch", 1 <= self.evals_per_epoch <= MAX_EVALS_PER_EPOCH, f"an integer >= 1 and <= {MAX_EVALS_PER_EPOCH}"),
            ("mixing_cap", self.mixing_cap >= 1, "an integer >= 1"),
            ("eval_batch_size", self.eval_batch_size >= 1, "an integer >= 1"),
        ]
        for name in ("learning_rate", "num_epochs", "warmup_ratio", "weight_decay", "max_grad_norm"):
            value = getattr(self, name)
            # numbers.Real: NumPy scalars (a sampler's values) are numbers too
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ConfigError(f"train config field {name!r}: bad value {value!r}; allowed: a finite number")
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"train config field {name!r}: bad value {getattr(self, name)!r}; allowed: {allowed}")
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
