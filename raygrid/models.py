"""The only module that builds transformers models.

Three ways a phase gets its model:

- **from a pretrained LM** (phase 1 of the study: a hub id such as
  ``FacebookAI/xlm-roberta-large`` or a local directory with ``config.json``):
  ``AutoModelFor<Head>.from_pretrained``; the task head starts fresh.
- **by transfer** from a raygrid checkpoint (phase 2 -> 3): the encoder of
  the previous phase is kept and a *fresh* head is initialised with the
  run's seed, even when the previous head had the same shape (MNLI -> XNLI
  both have three classes; Phang et al. 2020 discard the intermediate head).
- **multi-task** (the "all" intermediate cell): one shared encoder, one head
  per task (:class:`MultiTaskModel`).

Checkpoints are directories: ``model.safetensors`` + ``config.json`` (HF
layout, loadable by ``from_pretrained``), the tokenizer files, and
``raygrid.json`` saying what produced them. A multi-task checkpoint stores the
shared encoder as an ``XLMRobertaModel`` plus ``heads.safetensors``.
Checkpoints are written to a temporary sibling directory and renamed into
place, so a directory that exists is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from raygrid.errors import ModelError
from raygrid.faults import fault_point
from raygrid.formats.base import HeadKind

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.tasks.types import TaskSpec
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

CHECKPOINT_META = "raygrid.json"
HEADS_FILE = "heads.safetensors"

_AUTO_CLASSES: dict[HeadKind, str] = {
    HeadKind.SEQUENCE_CLASSIFICATION: "AutoModelForSequenceClassification",
    HeadKind.MULTIPLE_CHOICE: "AutoModelForMultipleChoice",
    HeadKind.QUESTION_ANSWERING: "AutoModelForQuestionAnswering",
    HeadKind.TOKEN_CLASSIFICATION: "AutoModelForTokenClassification",
    HeadKind.ENCODER: "AutoModel",
}


def _quiet_transformers() -> None:
    # The load report ("UNEXPECTED lm_head...") is expected on every head swap.
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _auto_class(head: HeadKind) -> Any:
    import transformers

    return getattr(transformers, _AUTO_CLASSES[head])


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a checkpoint written by :func:`save_checkpoint`."""
    return (Path(path) / CHECKPOINT_META).is_file()


def read_checkpoint_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``raygrid.json`` of a checkpoint."""
    meta_path = Path(path) / CHECKPOINT_META
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
        raise ModelError(f"{meta_path}: not a readable raygrid checkpoint ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{meta_path}: not a raygrid checkpoint's metadata (a JSON {type(meta).__name__}, not an object)")
    return meta


def checkpoint_task(path: str | os.PathLike[str], task: TaskSpec) -> None:
    """Refuses to evaluate a checkpoint as ``task`` when its head was trained
    for a task whose head differs (format, labels, choices): its logits would
    be read as another task's classes, and every accuracy would be noise.
    A head of the same shape is accepted (an MNLI checkpoint as XNLI).

    Raises:
        ModelError: the checkpoint's ``raygrid.json`` names no task, several
            (a multi-task checkpoint has no single head), or another one.
    """
    from raygrid.errors import ConfigError
    from raygrid.tasks import get_task

    meta = read_checkpoint_meta(path)
    where = Path(path) / CHECKPOINT_META
    trained = meta["tasks"] if "tasks" in meta else [meta.get("task")]
    if not isinstance(trained, list) or not trained or not all(isinstance(t, str) for t in trained):
        raise ModelError(f"{where}: names no task it was trained for; allowed: a checkpoint written by raygrid cell or run")
    if len(trained) > 1:
        raise ModelError(
            f"{where}: a multi-task checkpoint ({', '.join(trained)}) has no single head to evaluate as {task.name!r}; "
            "allowed: a checkpoint of one task"
        )
    if trained[0] == task.name:
        return
    try:
        other = get_task(trained[0])
    except ConfigError:
        raise ModelError(f"{where}: trained for unknown task {trained[0]!r}; allowed: a task of the catalogue") from None

    def head(t: TaskSpec) -> tuple[Any, ...]:
        return (t.format, t.label_names, t.num_choices)

    if head(other) != head(task):
        raise ModelError(
            f"{where}: trained for task {other.name!r} ({other.format.value}, labels {list(other.label_names or ())}), "
            f"not {task.name!r} ({task.format.value}, labels {list(task.label_names or ())}); allowed: --task {other.name} "
            "or a task with the same head"
        )


def _load_errors() -> tuple[type[BaseException], ...]:
    """What loading a damaged model raises: transformers' OSError/ValueError,
    and safetensors' own error for a torn or truncated weights file."""
    from safetensors import SafetensorError

    return (OSError, ValueError, SafetensorError)


def _check_source(source: str) -> None:
    path = Path(source).expanduser()
    looks_like_path = path.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1
    if looks_like_path:
        if not path.is_dir():
            raise ModelError(f"model path {source!r} is not a directory; give a hub id or a directory with config.json")
        if not (path / "config.json").is_file():
            raise ModelError(f"model path {source!r} has no config.json; give a hub id or a directory with config.json")


def load_tokenizer(source: str | os.PathLike[str], *, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The tokenizer of a hub id, model directory or checkpoint."""
    from transformers import AutoTokenizer

    _quiet_transformers()
    name = str(source)
    _check_source(name)
    try:
        tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of model {name!r}: {_first_line(exc)}") from None
    return tokenizer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _seeded(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.random.default_generator


def build_model(
    source: str | os.PathLike[str],
    head: HeadKind,
    *,
    num_labels: int | None = None,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> PreTrainedModel:
    """A model with a fresh ``head`` on the encoder of ``source``.

    Args:
        source: hub id, model directory, or raygrid checkpoint (transfer).
        head: which head to attach (``HeadKind.ENCODER``: none).
        num_labels: classes or tags of the head, where it has them.
        seed: seeds the head's initialisation.
        trust_remote_code: passed to transformers; off unless the user asks.

    Example:
        >>> model = build_model("FacebookAI/xlm-roberta-large", HeadKind.SEQUENCE_CLASSIFICATION,
        ...                     num_labels=3)  # doctest: +SKIP
    """
    from transformers import AutoConfig

    _quiet_transformers()
    name = str(source)
    _check_source(name)
    # Heads without a label vocabulary still read config.num_labels (the QA
    # head needs 2: start and end); never inherit the previous phase's value.
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "num_labels": num_labels or 2}
    try:
        if is_checkpoint(name):
            config = AutoConfig.from_pretrained(name, **kwargs)
            config.architectures = None

            def load(attn: str) -> PreTrainedModel:
                _seeded(seed)
                built: PreTrainedModel = _auto_class(head).from_config(
                    config, trust_remote_code=trust_remote_code, attn_implementation=attn
                )
                return built

            model = _with_attention(load)
            _load_encoder(model, Path(name))
        else:

            def load(attn: str) -> PreTrainedModel:
                _seeded(seed)
                loaded: PreTrainedModel = _auto_class(head).from_pretrained(name, attn_implementation=attn, **kwargs)
                return loaded

            model = _with_attention(load)
    except _load_errors() as exc:
        raise ModelError(f"cannot load model {name!r}: {_first_line(exc)}") from None
    return model


#: Attention kernels tried in order: PyTorch's fused scaled-dot-product
#: attention (flash / memory-efficient kernels on GPU), then the reference
#: implementation for architectures (remote code) that lack SDPA support.
ATTENTION_IMPLEMENTATIONS: tuple[str, ...] = ("sdpa", "eager")


def _with_attention(load: Any) -> PreTrainedModel:
    """``load(attn)`` with the first attention implementation the model supports."""
    for attn in ATTENTION_IMPLEMENTATIONS[:-1]:
        try:
            model: PreTrainedModel = load(attn)
            return model
        except (ValueError, ImportError) as exc:
            if attn not in str(exc).lower() and "attn_implementation" not in str(exc):
                raise
    fallback: PreTrainedModel = load(ATTENTION_IMPLEMENTATIONS[-1])
    return fallback


def load_trained(path: str | os.PathLike[str], head: HeadKind, *, trust_remote_code: bool = False) -> PreTrainedModel:
    """A checkpoint's model *with* its trained head (for evaluation);
    ``trust_remote_code`` as in :func:`build_model`."""
    _quiet_transformers()
    name = str(path)
    _check_source(name)
    try:
        model: PreTrainedModel = _auto_class(head).from_pretrained(name, trust_remote_code=trust_remote_code)
    except _load_errors() as exc:
        raise ModelError(f"cannot load checkpoint {name!r}: {_first_line(exc)}") from None
    return model


def load_masked_lm(source: str | os.PathLike[str]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A masked language model with its trained MLM head, in eval mode, and
    its tokenizer (the proposal model of :mod:`raygrid.attacks.mlm`).

    Raises:
        ModelError: ``source`` cannot be loaded, or its checkpoint has no
            trained MLM head (a fine-tuned classifier, say).
    """
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    _quiet_transformers()
    name = str(source)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(name, output_loading_info=True)
        tokenizer = AutoTokenizer.from_pretrained(name)
    except _load_errors() as exc:
        raise ModelError(f"cannot load a masked LM from {name!r}: {_first_line(exc)}") from None
    if any("lm_head" in k or "predictions" in k for k in info.get("missing_keys", [])):
        raise ModelError(f"{name!r} has no trained MLM head")
    model.eval()
    return model, tokenizer


def _state_dict_files(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise ModelError(f"{index}: unreadable shard index; allowed: an intact checkpoint") from None
        return [path / shard for shard in shards]
    single = path / "model.safetensors"
    if not single.is_file():
        raise ModelError(f"{path}: no model.safetensors in checkpoint")
    return [single]


def encoder_state_dict(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The encoder weights of a checkpoint, keyed as in the bare encoder.

    Works for checkpoints of a headed model (keys ``<prefix>.embeddings...``)
    and of a bare encoder (keys ``embeddings...``).
    """
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for file in _state_dict_files(path):
        try:
            state.update(load_file(str(file)))
        except _load_errors() as exc:
            raise ModelError(f"{file}: unreadable weights ({_first_line(exc)}); allowed: an intact checkpoint") from None
    dotted = prefix + "."
    if any(k.startswith(dotted) for k in state):
        return {k[len(dotted) :]: v for k, v in state.items() if k.startswith(dotted)}
    return {k: v for k, v in state.items() if k.split(".", 1)[0] in {"embeddings", "encoder", "pooler"}}


def _load_encoder(model: PreTrainedModel, path: Path) -> None:
    encoder = model.base_model
    weights = encoder_state_dict(path, model.base_model_prefix)
    result = encoder.load_state_dict(weights, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("pooler.")]
    if missing:
        raise ModelError(f"{path}: checkpoint lacks encoder weights {missing[:3]} (is it an XLM-R checkpoint?)")


class MultiTaskModel(nn.Module):
    """One shared encoder, one head per task.

    Each task's model is the usual ``AutoModelFor<Head>``; all of them hold
    the *same* encoder module, so a step on any task updates it.
    ``forward(task=name, **batch)`` runs that task's model.
    """

    def __init__(self, models: Mapping[str, PreTrainedModel]) -> None:
        super().__init__()
        if not models:
            raise ValueError("MultiTaskModel needs at least one task")
        self.task_models = nn.ModuleDict(dict(models))
        first = next(iter(models.values()))
        shared = first.base_model
        for model in models.values():
            setattr(model, model.base_model_prefix, shared)
        self.config = first.config

    @property
    def encoder(self) -> nn.Module:
        first = next(iter(self.task_models.values()))
        return first.base_model

    def forward(self, task: str, **batch: Any) -> Any:
        return self.task_models[task](**batch)

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """Every head's weights, keyed ``<task>/<parameter>``."""
        out: dict[str, torch.Tensor] = {}
        for task, model in self.task_models.items():
            prefix = model.base_model_prefix + "."
            for key, value in model.state_dict().items():
                if not key.startswith(prefix):
                    out[f"{task}/{key}"] = value.detach().contiguous().cpu()
        return out


def build_multitask_model(
    source: str | os.PathLike[str],
    heads: Mapping[str, tuple[HeadKind, int | None]],
    *,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> MultiTaskModel:
    """A :class:`MultiTaskModel` with ``heads`` = task -> (head kind, labels)."""
    models: dict[str, PreTrainedModel] = {}
    for offset, (task, (head, num_labels)) in enumerate(sorted(heads.items())):
        if head is HeadKind.ENCODER:
            raise ModelError(f"task {task!r} has no head and cannot be trained in a multi-task mixture")
        # Each extra model is built whole and its encoder dropped at once:
        # peak memory is two encoders, whatever the number of tasks.
        models[task] = build_model(
            source, head, num_labels=num_labels, seed=seed + offset, trust_remote_code=trust_remote_code
        )
        if len(models) > 1:
            first = next(iter(models.values()))
            setattr(models[task], models[task].base_model_prefix, first.base_model)
    return MultiTaskModel(models)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel (or the model itself)."""
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model


def save_checkpoint(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | os.PathLike[str],
    meta: Mapping[str, Any],
) -> Path:
    """Writes a checkpoint atomically (temp dir + rename) and returns its path.

    Args:
        model: a transformers model or a :class:`MultiTaskModel` (possibly
            DDP-wrapped).
        tokenizer: saved beside the weights, so the checkpoint is
            self-contained.
        out_dir: the final directory; it must not exist yet.
        meta: JSON-serialisable provenance, written as ``raygrid.json``.
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        inner = unwrap(model)
        if isinstance(inner, MultiTaskModel):
            inner.encoder.save_pretrained(tmp)
            save_file(inner.head_state_dict(), str(tmp / HEADS_FILE))
        else:
            inner.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / CHECKPOINT_META).write_text(json.dumps(dict(meta), indent=2, sort_keys=True) + "\n")
        fault_point("checkpoint.write")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def hidden_layers(model: nn.Module) -> int:
    """Transformer layers of a model (for the retrieval layer default)."""
    config = getattr(unwrap(model), "config", None)
    return int(getattr(config, "num_hidden_layers", 0))


__all__: Sequence[str] = [
    "MultiTaskModel",
    "build_model",
    "build_multitask_model",
    "encoder_state_dict",
    "is_checkpoint",
    "load_masked_lm",
    "load_tokenizer",
    "load_trained",
    "read_checkpoint_meta",
    "save_checkpoint",
]
