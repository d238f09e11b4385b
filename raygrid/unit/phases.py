"""The phases of a unit of work, written once for every caller.

A unit is some of: English training of an intermediate task (or a
multi-task mixture), English training of a target task from that
encoder, and the target's zero-shot evaluation per language, clean and
under attack. ``raygrid cell`` (:func:`raygrid.cell.run_cell`), a sweep's
units (:func:`raygrid.sweep.work.run_unit`), ``raygrid attack`` and the
synthetic world's effect measurements (:mod:`raygrid.world.effects`) all
run them through this module; no Ray here.

A training phase's checkpoint lives at ``<folder>/checkpoints/<key>``
(:mod:`raygrid.unit.keys`); a complete one (its ``raygrid.json`` is written
last) is reused, whoever trained it: :func:`find_trained`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid import SCHEMA_VERSION, __version__
from raygrid.layout import CHECKPOINT_MARKER
from raygrid.storage import Location, staged_dir
from raygrid.tasks.types import Split, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from transformers import PreTrainedTokenizerBase

    from raygrid.attacks.evaluate import AttackRows
    from raygrid.evaluate import LanguageResult
    from raygrid.formats import EvalSettings
    from raygrid.store import ResultRow
    from raygrid.tasks.sources import DataSources
    from raygrid.train.config import TrainConfig
    from raygrid.train.loop import Callback, PhaseResult, Placement


@dataclass(frozen=True)
class Phase:
    """One training phase of a unit.

    Attributes:
        stage: ``intermediate``, ``target`` or ``confirm`` (the checkpoint's
            ``kind``).
        key: the checkpoint's key (its folder name).
        tasks: the tasks trained (several: a multi-task mixture).
        config: the training config.
        model: the pretrained model of the unit.
        source: what training starts from, as a local folder or hub id:
            ``model``, or the parent checkpoint.
        parent: the parent checkpoint as recorded (``None``: ``model``).
        cell_key / cell_name: the sweep cell the phase is a trial of.
    """

    stage: str
    key: str
    tasks: tuple[TaskSpec, ...]
    config: TrainConfig
    model: str
    source: str
    parent: str | None = None
    cell_key: str | None = None
    cell_name: str | None = None


@dataclass
class Trained:
    """A phase's checkpoint and its English dev outcome.

    ``model`` is the trained model when the phase trained now, ``None`` when
    its checkpoint was found (:attr:`reused`)."""

    checkpoint: Location
    metrics: dict[str, float]
    objective: float | None
    best_step: int | None
    steps: int | None
    model: nn.Module | None = None

    @property
    def reused(self) -> bool:
        return self.model is None


def checkpoint_of(folder: Location | Path | str, key: str) -> Location:
    """Where the checkpoint ``key`` of a sweep or cell folder lives."""
    from raygrid.layout import CHECKPOINTS_DIR

    return Location.of(folder) / CHECKPOINTS_DIR / key


def checkpoint_meta(phase: Phase, result: PhaseResult) -> dict[str, Any]:
    """The ``raygrid.json`` of a phase's checkpoint."""
    return {
        "kind": phase.stage,
        "key": phase.key,
        "cell": phase.cell_key,
        "cell_name": phase.cell_name,
        "parent": phase.parent,
        "model": phase.model,
        "tasks": [t.name for t in phase.tasks],
        "train": phase.config.to_dict(),
        "dev_metrics": result.metrics,
        "objective": float(result.objective),
        "best_step": result.best_step,
        "steps": result.steps,
        "raygrid_version": __version__,
        "schema_version": SCHEMA_VERSION,
    }


def find_trained(checkpoint: Location | Path | str) -> Trained | None:
    """The outcome of a complete checkpoint at ``checkpoint`` (``None``:
    there is none). Checkpoints written before the meta carried its
    ``objective`` give the dev metrics' ``objective``, or ``None``."""
    where = Location.of(checkpoint)
    marker = where / CHECKPOINT_MARKER
    if not marker.is_file():
        return None
    meta = json.loads(marker.read_bytes())
    metrics = {k: float(v) for k, v in dict(meta.get("dev_metrics") or {}).items()}
    objective = meta.get("objective", metrics.get("objective"))
    return Trained(
        checkpoint=where,
        metrics=metrics,
        objective=None if objective is None else float(objective),
        best_step=meta.get("best_step"),
        steps=meta.get("steps"),
    )


#: Builds one task's encoded English training and dev data for a phase:
#: :func:`raygrid.cell.phase_data` (its signature).
DataBuilder = Callable[..., Any]
#: Builds the model a phase trains: :func:`raygrid.cell.phase_model`.
ModelBuilder = Callable[..., "nn.Module"]


def train(
    phase: Phase,
    tokenizer: PreTrainedTokenizerBase,
    sources: DataSources,
    *,
    build_data: DataBuilder,
    build_model: ModelBuilder,
    train_cap: Callable[[str], int | None],
    max_eval_examples: int | None,
    data_seed: int,
    placement: Placement,
    cache_dir: Path | None = None,
    callbacks: Sequence[Callback] = (),
    resume_from: Path | None = None,
    trust_remote_code: bool = False,
) -> tuple[nn.Module, PhaseResult]:
    """Trains ``phase`` on English data: each task's training rows (capped
    at ``train_cap(task)``, a seeded subsample) and dev rows, from
    ``phase.source``. The data and model come from ``build_data`` and
    ``build_model`` (:func:`raygrid.cell.phase_data` and
    :func:`raygrid.cell.phase_model`, looked up by the caller, so that
    this module does not import :mod:`raygrid.cell`, which imports it)."""
    from raygrid.train.loop import train_phase

    data = [
        build_data(
            task,
            sources,
            tokenizer,
            phase.config,
            max_train_examples=train_cap(task.name),
            max_eval_examples=max_eval_examples,
            seed=data_seed,
            cache_dir=cache_dir,
        )
        for task in phase.tasks
    ]
    model = build_model(phase.source, phase.tasks, seed=phase.config.seed, trust_remote_code=trust_remote_code)
    result = train_phase(
        model, data, phase.config, tokenizer, placement=placement, callbacks=callbacks, resume_from=resume_from
    )
    return model, result


def save(
    phase: Phase,
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    result: PhaseResult,
    checkpoint: Location | Path | str,
) -> Trained:
    """Writes the phase's checkpoint (local or S3; ``raygrid.json`` last)
    unless a complete one is there, and returns the outcome."""
    from raygrid.models import save_checkpoint

    where = Location.of(checkpoint)
    if not (where / CHECKPOINT_MARKER).is_file():
        with staged_dir(where, last=CHECKPOINT_MARKER) as local:
            save_checkpoint(model, tokenizer, local, checkpoint_meta(phase, result))
    return Trained(where, dict(result.metrics), float(result.objective), result.best_step, result.steps, model)


def load(trained: Trained, task: TaskSpec, *, trust_remote_code: bool = False) -> nn.Module:
    """The model of a target checkpoint, with its head, for evaluation (an S3
    checkpoint is copied to this node's cache first)."""
    from raygrid.formats import get_format
    from raygrid.models import load_trained
    from raygrid.storage import local_copy

    if trained.model is not None:
        return trained.model
    path = local_copy(trained.checkpoint.uri, marker=CHECKPOINT_MARKER)
    return load_trained(path, get_format(task.format).head, trust_remote_code=trust_remote_code)


def encoder(source: str, *, seed: int, trust_remote_code: bool = False) -> nn.Module:
    """A retrieval target's model: the encoder at ``source``, as it is."""
    from raygrid.formats import HeadKind
    from raygrid.models import build_model

    return build_model(source, HeadKind.ENCODER, seed=seed, trust_remote_code=trust_remote_code)


def zero_shot(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    languages: Sequence[str],
    sources: DataSources,
    *,
    split: Split | None,
    settings: EvalSettings,
    max_examples: int | None,
    seed: int,
) -> list[LanguageResult]:
    """The clean zero-shot evaluation: ``task`` in each language (test where
    it exists unless ``split``), on ``settings.device``."""
    from raygrid.evaluate import evaluate_languages

    model.to(settings.device)
    return evaluate_languages(
        model, tokenizer, task, languages, sources, split=split, settings=settings, max_examples=max_examples, seed=seed
    )


def attacked(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    plan: Sequence[tuple[str, Split, Sequence[Any]]],
    sources: DataSources,
    *,
    settings: EvalSettings,
    max_examples: int | None,
    seed: int,
    sample_dir: Path | None,
) -> list[tuple[Split, Any]]:
    """The zero-shot evaluation under attack: for each ``(language, split,
    attacks)`` of ``plan``, every attack (built, usable in that language) on
    that split's rows. Returns ``(split, AttackResult)`` pairs in order
    (:func:`attacked_with_examples` without the per-example outcomes)."""
    return attacked_with_examples(
        model, tokenizer, task, plan, sources, settings=settings, max_examples=max_examples, seed=seed,
        sample_dir=sample_dir,
    ).results  # fmt: skip


def attacked_with_examples(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    plan: Sequence[tuple[str, Split, Sequence[Any]]],
    sources: DataSources,
    *,
    settings: EvalSettings,
    max_examples: int | None,
    seed: int,
    sample_dir: Path | None,
) -> Attacked:
    """:func:`attacked`, with the per-example outcome records of each
    ``(language, split)``: a clean pass over the rows, then every attack
    (a clean pass alone where no attack is usable)."""
    from raygrid.attacks import evaluate_with_examples
    from raygrid.tasks import load_rows

    out = Attacked([], [])
    for language, split, attacks in plan:
        rows = load_rows(task, split, language, sources, max_examples=max_examples, seed=seed)
        evaluation = evaluate_with_examples(
            model, tokenizer, task, language, rows, list(attacks), settings=settings, seed=seed, sample_dir=sample_dir
        )
        out.results.extend((split, r) for r in evaluation.results)
        out.examples.append((split, evaluation.examples))
    return out


@dataclass(frozen=True)
class Attacked:
    """What :func:`attacked` measured: ``(split, AttackResult)`` pairs and
    ``(split, per-example records)`` per language."""

    results: list[tuple[Split, Any]]
    examples: list[tuple[Split, list[dict[str, Any]]]]


def attack_suite_rows(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    languages: Sequence[str],
    splits: Sequence[Split],
    attacks: Sequence[tuple[str, Mapping[str, Any]]],
    sources: DataSources,
    *,
    settings: EvalSettings,
    max_examples: int | None,
    seed: int,
    run_key: str,
    sample_dir: Path | None,
    fields: Mapping[str, Any],
    intermediate_checkpoint: str = "",
) -> AttackRows:
    """A sweep's attack suite (``(name, params)`` pairs of the spec) on every
    language's scored split, as result rows, and every language's clean and
    attacked per-example rows; a family that refuses a language yields no
    rows for it (:func:`raygrid.attacks.attack_rows`)."""
    from raygrid.attacks import attack_rows

    return attack_rows(
        model=model,
        tokenizer=tokenizer,
        task=task.name,
        languages=languages,
        splits=splits,
        attacks=attacks,
        sources=sources,
        settings=settings,
        seed=seed,
        max_examples=max_examples,
        run_key=run_key,
        sample_dir=sample_dir,
        fields=dict(fields),
        intermediate_checkpoint=intermediate_checkpoint,
    )


__all__ = [
    "Attacked",
    "DataBuilder",
    "ModelBuilder",
    "Phase",
    "Trained",
    "attack_suite_rows",
    "attacked",
    "attacked_with_examples",
    "checkpoint_meta",
    "checkpoint_of",
    "encoder",
    "find_trained",
    "load",
    "save",
    "train",
    "zero_shot",
]
