"""One training phase: a model, one task (or a mixture), English dev evaluation.

The loop is plain PyTorch so that it trains the same inside and outside Ray:
the sweep passes a :class:`Placement` (rank, world size, device, a DDP
wrapper) and callbacks that report to Ray Tune; ``raygrid cell`` passes
neither.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from raygrid.faults import fault_point
from raygrid.formats import EncodeSettings, EvalSettings, get_format
from raygrid.models import MultiTaskModel, unwrap
from raygrid.tasks.types import TaskSpec
from raygrid.tokencache import MappedFeatures
from raygrid.train.batching import BatchStream, mixing_rates, mixture_schedule, steps_per_epoch
from raygrid.train.config import Precision, TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite (the sweep retries such trials)."""


@dataclass
class TaskData:
    """One task's data for a phase.

    Attributes:
        task: the catalogue entry (its format decides the head and metric).
        train: encoded training features: ``Format.encode``'s dataset, or
            the memory-mapped :class:`~raygrid.tokencache.MappedFeatures`
            of the token cache (read lazily, batch by batch), or any
            sequence of feature dicts.
        dev: canonical English dev rows, evaluated during training; ``None``
            skips dev evaluation for this task.
    """

    task: TaskSpec
    train: Dataset | MappedFeatures | Sequence[dict[str, Any]]
    dev: Dataset | None = None


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its rank among ``world_size`` data-parallel
    workers, its device, and how to wrap the model for gradient sync."""

    rank: int = 0
    world_size: int = 1
    device: str = "cpu"
    wrap: Callable[[nn.Module], nn.Module] = field(default=lambda model: model)


@dataclass(frozen=True)
class EvalEvent:
    """What a callback sees after each dev evaluation."""

    step: int
    total_steps: int
    epoch: float
    metrics: dict[str, float]  # "<task>/<metric>" plus "objective"
    train_loss: float
    is_best: bool
    examples_seen: int
    tokens_seen: int
    seconds: float
    save_state: Callable[[Path], None] = field(default=lambda path: None, repr=False, compare=False)
    """Writes everything needed to resume the phase from this step into a
    directory (see :func:`train_phase`'s ``resume_from``)."""


class Callback(Protocol):
    def on_evaluate(self, event: EvalEvent, model: nn.Module) -> None: ...


@dataclass
class PhaseResult:
    """The outcome of :func:`train_phase`.

    Attributes:
        metrics: the dev metrics of the kept weights (best or last).
        objective: the model-selection value (mean primary dev metric).
        best_step: the step whose weights were kept.
        steps: optimizer steps run.
        history: one dict per evaluation.
        examples_seen / tokens_seen: training throughput counters
            (``tokens_seen`` counts non-padding tokens).
        padded_tokens: tokens in the padded batches (padding included).
        seconds: wall time of the loop.
    """

    metrics: dict[str, float]
    objective: float
    best_step: int
    steps: int
    history: list[dict[str, float]]
    examples_seen: int
    tokens_seen: int
    padded_tokens: int
    seconds: float


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and torch (CPU and CUDA) RNGs."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _length(feature: Any) -> int:
    ids = feature["input_ids"]
    if ids and isinstance(ids[0], list):  # multiple choice: one list per choice
        return max(len(c) for c in ids)
    return len(ids)


def feature_lengths(train: Any) -> list[int]:
    """Tokens of every training feature (multiple choice: its longest
    choice), read without materialising the features where possible."""
    if isinstance(train, MappedFeatures):
        return train.lengths()
    if hasattr(train, "select_columns"):  # a datasets.Dataset
        return [_length(f) for f in train.select_columns(["input_ids"])]
    return [_length(f) for f in train]


def feature_rows(train: Any, indices: Sequence[int]) -> list[dict[str, Any]]:
    """The feature dicts of ``indices`` (one batch)."""
    if isinstance(train, MappedFeatures):
        return train.rows(indices)
    if hasattr(train, "select_columns"):  # a datasets.Dataset: one columnar read
        rows = train[list(indices)]
        return [dict(zip(rows, values)) for values in zip(*rows.values())]
    return [train[i] for i in indices]


def _optimizer(model: nn.Module, config: TrainConfig, device: str) -> torch.optim.Optimizer:
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = device.startswith("cuda")
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=fused)


def _linear_schedule(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def _autocast(config: TrainConfig, device: str) -> Any:
    if device.startswith("cuda"):
        want_bf16 = config.precision is Precision.BF16 or (
            config.precision is Precision.AUTO and torch.cuda.is_bf16_supported()
        )
        if want_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
    elif config.precision is Precision.BF16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def _prefer_shape_agnostic_attention() -> None:
    """Keeps SDPA off cuDNN's attention backend. Dynamically padded
    batches come in up to ``max_seq_length`` shapes, and cuDNN builds an
    execution graph per new shape: on an H100 (torch 2.11) XNLI-length
    batches of XLM-R base ran at 300 ms a step with it and 40 ms without
    (benchmarks/gpu_mfu.py, docs/benchmarks.md); flash and memory-efficient
    attention take any shape."""
    torch.backends.cuda.enable_cudnn_sdp(False)


def _task_model(model: nn.Module, task: str) -> nn.Module:
    inner = unwrap(model)
    return inner.task_models[task] if isinstance(inner, MultiTaskModel) else inner


def evaluate_dev(
    model: nn.Module,
    data: Sequence[TaskData],
    tokenizer: PreTrainedTokenizerBase,
    config: TrainConfig,
    device: str,
) -> dict[str, float]:
    """Dev metrics of every task with dev rows, keyed ``<task>/<metric>``,
    plus ``objective``: the mean of the tasks' primary metrics."""
    settings = EvalSettings(
        encode=EncodeSettings(max_seq_length=config.max_seq_length, doc_stride=config.doc_stride),
        batch_size=config.eval_batch_size,
        device=device,
    )
    metrics: dict[str, float] = {}
    primaries: list[float] = []
    for item in data:
        if item.dev is None or len(item.dev) == 0:
            continue
        fmt = get_format(item.task.format)
        task_model = _task_model(model, item.task.name)
        predictions = fmt.predict(task_model, item.dev, tokenizer, item.task, settings)
        scores = fmt.score(predictions, item.dev, item.task)
        metrics.update({f"{item.task.name}/{k}": float(v) for k, v in scores.items()})
        primaries.append(float(scores[item.task.metric]))
    if primaries:
        metrics["objective"] = sum(primaries) / len(primaries)
    return metrics


def train_phase(
    model: nn.Module,
    data: Sequence[TaskData],
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    placement: Placement = Placement(),
    callbacks: Sequence[Callback] = (),
    resume_from: Path | None = None,
) -> PhaseResult:
    """Trains ``model`` on ``data`` (one task, or a multi-task mixture).

    Args:
        model: a transformers model, or a :class:`MultiTaskModel` when
            ``data`` holds several tasks.
        data: the tasks' encoded training features and English dev rows.
        config: hyper-parameters.
        tokenizer: pads batches and encodes dev rows.
        placement: rank / world size / device / DDP wrapper.
        callbacks: told after each dev evaluation (the sweep reports there).
        resume_from: a directory written by an :class:`EvalEvent`'s
            ``save_state``: training continues after that evaluation with
            the same weights, optimizer, schedule, data order and RNG state,
            so a resumed phase ends exactly as an uninterrupted one.

    Returns:
        A :class:`PhaseResult`; ``model`` holds the kept weights (the best
        dev evaluation's when ``config.keep_best``).

    Raises:
        NonFiniteLoss: the loss became NaN or infinite.
    """
    if not data:
        raise ValueError("train_phase needs at least one task")
    multitask = len(data) > 1
    if multitask and not isinstance(unwrap(model), MultiTaskModel):
        raise ValueError("several tasks need a MultiTaskModel")
    seed_everything(config.seed)
    device = placement.device
    if device.startswith("cuda"):
        _prefer_shape_agnostic_attention()
    model.to(device)
    wrapped = placement.wrap(model)
    if config.compile:
        # dynamic shapes: every batch has its own (dynamically padded) length
        wrapped = torch.compile(wrapped, dynamic=True)
    micro = config.micro_batch_size(placement.world_size)
    pad_id = int(tokenizer.pad_token_id)

    by_name = {item.task.name: item for item in data}
    formats = {name: get_format(item.task.format) for name, item in by_name.items()}
    sizes = {name: len(item.train) for name, item in by_name.items()}
    for name, size in sizes.items():
        if size == 0:
            raise ValueError(f"task {name!r} has no training features")
    streams = {
        name: BatchStream(
            feature_lengths(item.train),
            micro,
            seed=config.seed + 7919 * i,
            rank=placement.rank,
            world_size=placement.world_size,
        )
        for i, (name, item) in enumerate(sorted(by_name.items()))
    }
    per_epoch = steps_per_epoch(sizes, config.batch_size, config.mixing_cap if multitask else None)
    total_steps = max(1, math.ceil(config.num_epochs * per_epoch))
    micro_steps = total_steps * config.grad_accumulation_steps
    if multitask:
        schedule = mixture_schedule(mixing_rates(sizes, config.mixing_cap), micro_steps, seed=config.seed)
    else:
        schedule = [next(iter(by_name))] * micro_steps
    eval_every = max(1, per_epoch // config.evals_per_epoch)

    optimizer = _optimizer(model, config, device)
    warmup = int(config.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _linear_schedule(warmup, total_steps))

    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, float], dict[str, torch.Tensor] | None] = (-math.inf, 0, {}, None)
    examples = tokens = padded = 0
    running_loss, running_count = 0.0, 0
    started = time.perf_counter()
    step = first_micro_step = 0
    if resume_from is not None:
        state = _load_state(Path(resume_from), model, optimizer, scheduler)
        step, first_micro_step = state["step"], state["micro_step"]
        history = state["history"]
        examples, tokens, padded = state["examples"], state["tokens"], state["padded"]
        best_weights = _load_best(Path(resume_from))
        best = (state["best_objective"], state["best_step"], state["best_metrics"], best_weights)
        for task_name in schedule[:first_micro_step]:  # replay the data order, cheaply
            next(streams[task_name])

    def save_state(path: Path) -> None:
        _save_state(
            path,
            model,
            {
                "step": step,
                "micro_step": micro_step + 1,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.random.get_rng_state(),
                "history": history,
                "examples": examples,
                "tokens": tokens,
                "padded": padded,
                "best_objective": best[0],
                "best_step": best[1],
                "best_metrics": best[2],
            },
            best[3],
        )

    wrapped.train()
    micro_step = first_micro_step - 1
    on_cpu = not device.startswith("cuda")
    pending_loss: torch.Tensor | None = None
    pending_count = 0
    for micro_step in range(first_micro_step, len(schedule)):
        task_name = schedule[micro_step]
        item = by_name[task_name]
        indices = next(streams[task_name])
        features = feature_rows(item.train, indices)
        batch = formats[task_name].collate(features, pad_id)
        mask = batch.get("attention_mask")
        if mask is not None:
            tokens += int(mask.sum())
            padded += int(mask.numel())
        examples += len(features)
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with _autocast(config, device):
            outputs = wrapped(task=task_name, **batch) if multitask else wrapped(**batch)
        loss = outputs.loss / config.grad_accumulation_steps
        loss.backward()
        # The running loss stays on the device: reading it every step would
        # stall a GPU on each step's host sync. A non-finite loss makes the
        # sum non-finite, so checking it every few steps (every step on CPU,
        # where reading is free) still stops a diverging run early.
        pending_loss = loss.detach().float() if pending_loss is None else pending_loss + loss.detach().float()
        pending_count += 1
        evaluates_next = (micro_step + 1) % (eval_every * config.grad_accumulation_steps) == 0
        if on_cpu or pending_count >= _HOST_SYNC_EVERY or evaluates_next or micro_step == len(schedule) - 1:
            value = float(pending_loss)
            if not math.isfinite(value):
                raise NonFiniteLoss(f"non-finite loss {value} at step {step} on task {task_name!r}")
            running_loss += value * config.grad_accumulation_steps
            running_count += pending_count
            pending_loss, pending_count = None, 0
        if (micro_step + 1) % config.grad_accumulation_steps:
            continue
        if config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        fault_point("train.step")
        if step % eval_every and step != total_steps:
            continue
        wrapped.eval()
        metrics = evaluate_dev(model, data, tokenizer, config, device)
        wrapped.train()
        objective = metrics.get("objective", -running_loss / max(1, running_count))
        is_best = objective > best[0]
        if is_best:
            kept = (
                {k: v.detach().to("cpu", copy=True) for k, v in unwrap(model).state_dict().items()}
                if config.keep_best and step != total_steps
                else None
            )
            best = (objective, step, metrics, kept)
        train_loss = running_loss / max(1, running_count)
        running_loss, running_count = 0.0, 0
        event = EvalEvent(
            step=step,
            total_steps=total_steps,
            epoch=step / per_epoch,
            metrics=metrics,
            train_loss=train_loss,
            is_best=is_best,
            examples_seen=examples,
            tokens_seen=tokens,
            seconds=time.perf_counter() - started,
            save_state=save_state,
        )
        history.append({"step": float(step), "epoch": event.epoch, "train_loss": train_loss, **metrics})
        for callback in callbacks:
            callback.on_evaluate(event, model)

    objective, best_step, metrics, kept = best
    if config.keep_best and best_step != step and kept is not None:
        unwrap(model).load_state_dict(kept)
    elif not config.keep_best:
        metrics, best_step = (history[-1] if history else {}), step
        metrics = {k: v for k, v in metrics.items() if k not in {"step", "epoch", "train_loss"}}
        objective = metrics.get("objective", objective)
    wrapped.eval()
    return PhaseResult(
        metrics=metrics,
        objective=float(objective),
        best_step=best_step,
        steps=step,
        history=history,
        examples_seen=examples,
        tokens_seen=tokens,
        padded_tokens=padded,
        seconds=time.perf_counter() - started,
    )


_HOST_SYNC_EVERY = 16  # GPU: micro-steps between reads of the loss (finiteness check)
_STATE_FILE = "trainer_state.pt"
_WEIGHTS_FILE = "weights.safetensors"
_BEST_FILE = "best.safetensors"


def _save_state(
    path: Path, model: nn.Module, state: dict[str, Any], best_weights: dict[str, torch.Tensor] | None
) -> None:
    """Weights as safetensors; optimizer, schedule and counters with
    ``torch.save`` (tensors and plain containers only: reloaded with
    ``weights_only=True``, so no arbitrary code can come back)."""
    from safetensors.torch import save_file, save_model

    path.mkdir(parents=True, exist_ok=True)
    save_model(unwrap(model), str(path / _WEIGHTS_FILE))  # dedups the shared multi-task encoder
    if best_weights is not None:
        save_file({k: v.contiguous() for k, v in best_weights.items()}, str(path / _BEST_FILE))
    torch.save(state, path / _STATE_FILE)


def _load_state(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    from safetensors.torch import load_model

    load_model(unwrap(model), str(path / _WEIGHTS_FILE))
    state: dict[str, Any] = torch.load(path / _STATE_FILE, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.random.set_rng_state(state["torch_rng"])
    return state


def _load_best(path: Path) -> dict[str, torch.Tensor] | None:
    from safetensors.torch import load_file

    best = path / _BEST_FILE
    return load_file(str(best)) if best.is_file() else None


def saved_step(path: Path) -> int:
    """The optimizer step a saved phase state resumes after."""
    state = torch.load(path / _STATE_FILE, weights_only=True)
    return int(state["step"])


def is_saved_state(path: Path) -> bool:
    """Whether ``path`` holds a complete saved phase state."""
    return (path / _STATE_FILE).is_file() and (path / _WEIGHTS_FILE).is_file()
