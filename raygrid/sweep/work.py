"""What one unit of a sweep does on a Train worker (no Ray here).

:func:`run_unit` trains (and for confirm units evaluates) one unit and
writes what it produced into the sweep folder: the checkpoint
(``checkpoints/<unit key>``), the trial record (``trials/<unit key>.json``)
and the result rows (``results/``). Ray only wraps it: the Ray backend
passes a :class:`~raygrid.train.loop.Placement` for data parallelism and a
:class:`Reporter` that forwards each English-dev evaluation (and the state
to resume from) to Ray Train.

Rank 0 writes; every rank trains and reports (reporting is a collective).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from raygrid import SCHEMA_VERSION, __version__
from raygrid.grid import Cell, Stage
from raygrid.spec import SweepSpec
from raygrid.storage import Location, local_copy, staged_dir, working_copy
from raygrid.store import ResultRow, is_done, write_run
from raygrid.layout import CHECKPOINTS_DIR, RESULTS_DIR, TOKEN_CACHE_DIR, TRIALS_DIR
from raygrid.sweep.plan import RECORD_META, TrialRecord, Unit, UnitKind
from raygrid.tasks.types import Split


if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from raygrid.train.loop import EvalEvent, Placement


class Reporter(Protocol):
    """Receives each English-dev evaluation of a running unit."""

    def report(self, metrics: Mapping[str, float], state_dir: Path | None) -> None:
        """``state_dir`` holds the state to resume from (rank 0 only)."""
        ...


class _NullReporter:
    def report(self, metrics: Mapping[str, float], state_dir: Path | None) -> None:
        return None


@dataclass(frozen=True)
class UnitContext:
    """Everything a worker needs to run a unit (``sweep_dir``: local or on S3).

    ``trust_remote_code`` lets transformers run code shipped with the model:
    the driver's ``--trust-remote-code``, never a spec's or the sweep folder's.
    """

    spec: SweepSpec
    sweep_dir: Location | Path
    unit: Unit
    cell: Cell
    trust_remote_code: bool = False


def data_sources(spec: SweepSpec) -> Any:
    """The :class:`~raygrid.tasks.DataSources` of a spec's ``data``."""
    from raygrid.spec import DataSource
    from raygrid.tasks import DataSources

    return DataSources(
        local_dirs=tuple(Path(d) for d in spec.data.local_dirs),
        bundled=spec.data.source is DataSource.BUNDLED,
    )


class _ReportCallback:
    """Train-loop callback: every evaluation -> the reporter (+ TensorBoard)."""

    def __init__(self, reporter: Reporter, rank: int, tensorboard_dir: Path | None) -> None:
        self.reporter = reporter
        self.rank = rank
        self.writer: Any = None
        if tensorboard_dir is not None and rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(tensorboard_dir))

    def on_evaluate(self, event: EvalEvent, model: nn.Module) -> None:
        metrics = {
            "step": float(event.step),
            "epoch": float(event.epoch),
            "train_loss": float(event.train_loss),
            "examples_seen": float(event.examples_seen),
            "tokens_seen": float(event.tokens_seen),
            "seconds": float(event.seconds),
            **{k: float(v) for k, v in event.metrics.items()},
        }
        if self.writer is not None:
            for name, value in metrics.items():
                if name not in {"step", "epoch"}:
                    self.writer.add_scalar(name, value, event.step)
            self.writer.flush()
        if self.rank == 0:
            with tempfile.TemporaryDirectory(prefix="raygrid-state-") as tmp:
                event.save_state(Path(tmp))
                self.reporter.report(metrics, Path(tmp))
        else:
            self.reporter.report(metrics, None)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _tasks(ctx: UnitContext) -> list[Any]:
    from raygrid.tasks import get_task

    cell = ctx.cell
    if cell.stage is Stage.INTERMEDIATE:
        return [get_task(t) for t in cell.tasks]
    return [get_task(str(cell.target))]


def _train(
    ctx: UnitContext,
    placement: Placement,
    reporter: Reporter,
    resume_from: Path | None,
) -> tuple[nn.Module, Any, Any, Any]:
    from raygrid.cell import Overrides, phase_data, phase_model, train_config
    from raygrid.models import load_tokenizer
    from raygrid.train.loop import train_phase

    spec, unit = ctx.spec, ctx.unit
    tasks = _tasks(ctx)
    config = train_config(tasks, Overrides(**unit.params), unit.seed)
    if spec.resources.compile:
        config = replace(config, compile=True)
    tokenizer = load_tokenizer(spec.model.name_or_path, trust_remote_code=ctx.trust_remote_code)
    sources = data_sources(spec)
    data = [
        phase_data(
            task,
            sources,
            tokenizer,
            config,
            max_train_examples=spec.data.train_cap(task.name),
            max_eval_examples=spec.data.max_eval_examples,
            seed=spec.seed,
            cache_dir=token_cache_dir(ctx.sweep_dir),
        )
        for task in tasks
    ]
    source = _parent_source(unit) or spec.model.name_or_path
    model = phase_model(source, tasks, seed=config.seed, trust_remote_code=ctx.trust_remote_code)
    with staged_dir(Location.of(ctx.sweep_dir) / "tensorboard" / ctx.cell.key / unit.key) as tensorboard:
        callback = _ReportCallback(reporter, placement.rank, tensorboard)
        try:
            result = train_phase(
                model, data, config, tokenizer, placement=placement, callbacks=[callback], resume_from=resume_from
            )
        finally:
            callback.close()
    return model, result, tokenizer, config


def token_cache_dir(sweep_dir: Location | Path) -> Path:
    """Where a unit's token cache lives: ``<sweep>/cache/tokens`` on a local or
    shared file system (every trial of every node maps the same files); for
    an S3 sweep a node-local folder, since memory-mapping needs a local file
    (tokenised once per node and sweep)."""
    where = Location.of(sweep_dir) / TOKEN_CACHE_DIR
    return working_copy(where) if where.remote else where.local


def _parent_source(unit: Unit) -> str | None:
    """The parent checkpoint as a local folder (an S3 one is copied to this node's cache)."""
    from raygrid.models import CHECKPOINT_META

    return local_copy(unit.parent_checkpoint, marker=CHECKPOINT_META) if unit.parent_checkpoint else None


def _row_fields(ctx: UnitContext, checkpoint: str, config: Any) -> dict[str, Any]:
    cell = ctx.cell
    return {
        "stage": "confirm" if ctx.unit.kind is UnitKind.CONFIRM else "trial",
        "cell_key": cell.depends_on[0] if cell.stage is Stage.CONFIRM else cell.key,
        "intermediate": cell.intermediate,
        "model": ctx.spec.model.name_or_path,
        "seed": ctx.unit.seed,
        "checkpoint": checkpoint,
        "config": json.dumps(_hyperparameters(config.to_dict() if config is not None else ctx.unit.params), sort_keys=True),
    }


def _hyperparameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """The run's configuration without its seed: the seed has its own column,
    and the seed runs of one configuration must group together."""
    return {k: v for k, v in config.items() if k != "seed"}


def _dev_rows(ctx: UnitContext, result: Any, fields: Mapping[str, Any]) -> list[ResultRow]:
    """English dev rows: ``<task>/<metric>`` of the kept weights."""
    rows = []
    for name, value in sorted(result.metrics.items()):
        if "/" not in name:
            continue
        task, metric = name.split("/", 1)
        rows.append(
            ResultRow(run_key=ctx.unit.key, task=task, language="en", split=Split.DEV.value, metric=metric,
                      value=float(value), **fields)  # fmt: skip
        )
    return rows


def run_unit(
    ctx: UnitContext,
    placement: Placement,
    *,
    reporter: Reporter | None = None,
    resume_from: Path | None = None,
) -> TrialRecord:
    """Runs one unit; rank 0 writes its checkpoint, record and rows.

    A unit whose record (trials) or rows (confirm) already exist is not
    run again: its record is returned as it is.
    """
    reporter = reporter or _NullReporter()
    unit = ctx.unit
    existing = TrialRecord.read(ctx.sweep_dir, unit.key)
    if existing is not None and existing.status == "complete":
        return existing
    done = _record_of_done_run(ctx, placement.rank)
    if done is not None:
        return done
    started = time.perf_counter()
    if unit.kind is UnitKind.CONFIRM and ctx.cell.evaluate_only:
        return _evaluate_encoder(ctx, placement, started)

    resumes = _resume_log(ctx, resume_from, placement.rank)
    model, result, tokenizer, config = _train(ctx, placement, reporter, resume_from)
    checkpoint = Location.of(ctx.sweep_dir) / CHECKPOINTS_DIR / unit.key
    record = TrialRecord(
        key=unit.key,
        status="complete",
        objective=float(result.objective),
        metrics={k: float(v) for k, v in result.metrics.items()},
        checkpoint=str(checkpoint),
        seconds=time.perf_counter() - started,
        resumed_from_steps=resumes,
    )
    if placement.rank != 0:
        return record
    from raygrid.models import CHECKPOINT_META, save_checkpoint

    if not (checkpoint / CHECKPOINT_META).is_file():
        with staged_dir(checkpoint, last=CHECKPOINT_META) as local_checkpoint:
            save_checkpoint(
                model,
                tokenizer,
                local_checkpoint,
                {
                    "kind": ctx.cell.stage.value,
                    "key": unit.key,
                    "cell": ctx.cell.key,
                    "cell_name": ctx.cell.name,
                    "parent": unit.parent_checkpoint,
                    "model": ctx.spec.model.name_or_path,
                    "tasks": list(ctx.cell.tasks),
                    "train": config.to_dict(),
                    "dev_metrics": result.metrics,
                    "best_step": result.best_step,
                    "steps": result.steps,
                    "raygrid_version": __version__,
                    "schema_version": SCHEMA_VERSION,
                },
            )
    fields = _row_fields(ctx, str(checkpoint), config)
    rows = _dev_rows(ctx, result, fields)
    if unit.kind is UnitKind.CONFIRM:
        rows += _zero_shot_rows(ctx, model, tokenizer, placement, fields, config.max_seq_length)
    meta = {"cell": ctx.cell.name, "params": unit.params, RECORD_META: asdict(record)}
    write_run(ctx.sweep_dir / RESULTS_DIR, unit.key, rows, meta=meta)
    record.write(ctx.sweep_dir)
    return record


def _record_of_done_run(ctx: UnitContext, rank: int) -> TrialRecord | None:
    """The record of a unit whose rows are all written but whose record is
    not (a kill in between): rebuilt from the rows' manifest and written
    (rank 0), so the resumed sweep records what the uninterrupted one did.
    ``None``: the unit's rows are not done, or a manifest from before the
    record travelled with it (a trial unit then runs again; a confirm run
    counts as complete, as it always did)."""
    record = TrialRecord.from_results(ctx.sweep_dir, ctx.unit.key)
    if record is None:
        if ctx.unit.kind is not UnitKind.CONFIRM or not is_done(Location.of(ctx.sweep_dir) / RESULTS_DIR, ctx.unit.key):
            return None
        record = TrialRecord(ctx.unit.key, "complete", None)
    if rank == 0:
        record.write(ctx.sweep_dir)
    return record


def _resume_log(ctx: UnitContext, state_dir: Path | None, rank: int) -> list[int]:
    """Every step this unit was resumed from, across restarts (lost nodes,
    crashes): ``trials/<key>.resumes`` gets a line per resumed attempt."""
    log = Location.of(ctx.sweep_dir) / TRIALS_DIR / f"{ctx.unit.key}.resumes"
    try:
        lines = log.read_text()
    except FileNotFoundError:
        lines = ""
    if state_dir is not None and rank == 0:
        from raygrid.train.loop import saved_step

        lines += f"{saved_step(state_dir)}\n"
        log.write_text(lines)  # rewritten whole: S3 objects cannot be appended to
    return [int(line) for line in lines.split()]


def _eval_settings(placement: Placement, max_seq_length: int) -> Any:
    from raygrid.formats import EncodeSettings, EvalSettings

    return EvalSettings(
        encode=EncodeSettings(max_seq_length=max_seq_length, doc_stride=min(128, max_seq_length // 2)),
        device=placement.device,
    )


def _zero_shot_rows(
    ctx: UnitContext,
    model: nn.Module,
    tokenizer: Any,
    placement: Placement,
    fields: Mapping[str, Any],
    max_seq_length: int,
) -> list[ResultRow]:
    from raygrid.evaluate import evaluate_languages, to_rows
    from raygrid.models import unwrap
    from raygrid.tasks import get_task

    spec, cell = ctx.spec, ctx.cell
    task = get_task(str(cell.target))
    split = Split(spec.confirm.eval_split) if spec.confirm.eval_split else None
    inner = unwrap(model)
    results = evaluate_languages(
        inner,
        tokenizer,
        task,
        cell.languages,
        data_sources(spec),
        split=split,
        settings=_eval_settings(placement, max_seq_length),
        max_examples=spec.data.max_eval_examples,
        seed=spec.seed,
    )
    rows = to_rows(results, run_key=ctx.unit.key, task=task.name, **fields)
    rows += _attack_rows(ctx, inner, tokenizer, placement, fields, max_seq_length, [r.split for r in results])
    return rows


def _attack_rows(
    ctx: UnitContext,
    model: nn.Module,
    tokenizer: Any,
    placement: Placement,
    fields: Mapping[str, Any],
    max_seq_length: int,
    splits: list[Split],
) -> list[ResultRow]:
    """The attack suite of the spec on every language (``raygrid.attacks``)."""
    spec, cell = ctx.spec, ctx.cell
    if not spec.attacks:
        return []
    from raygrid.attacks import attack_rows  # type: ignore[attr-defined]

    with staged_dir(Location.of(ctx.sweep_dir) / "samples" / ctx.unit.key) as sample_dir:
        return list(
            attack_rows(
                model=model,
                tokenizer=tokenizer,
                task=str(cell.target),
                languages=cell.languages,
                splits=splits,
                attacks=[(a.name, dict(a.params)) for a in spec.attacks],
                sources=data_sources(spec),
                settings=_eval_settings(placement, max_seq_length),
                seed=ctx.unit.seed,
                max_examples=spec.data.max_eval_examples,
                run_key=ctx.unit.key,
                sample_dir=sample_dir,
                fields=dict(fields),
            )
        )


def _evaluate_encoder(ctx: UnitContext, placement: Placement, started: float) -> TrialRecord:
    """Retrieval targets: the intermediate encoder, evaluated as it is."""
    from raygrid.evaluate import evaluate_languages, to_rows
    from raygrid.formats import HeadKind
    from raygrid.models import build_model, load_tokenizer
    from raygrid.tasks import get_task

    spec, unit, cell = ctx.spec, ctx.unit, ctx.cell
    task = get_task(str(cell.target))
    source = unit.parent_checkpoint or spec.model.name_or_path
    record = TrialRecord(unit.key, "complete", None, checkpoint=source, seconds=0.0)
    if placement.rank != 0:
        return record
    tokenizer = load_tokenizer(spec.model.name_or_path, trust_remote_code=ctx.trust_remote_code)
    model = build_model(
        _parent_source(unit) or source, HeadKind.ENCODER, seed=unit.seed, trust_remote_code=ctx.trust_remote_code
    )
    model.to(placement.device)
    split = Split(spec.confirm.eval_split) if spec.confirm.eval_split else None
    results = evaluate_languages(
        model,
        tokenizer,
        task,
        cell.languages,
        data_sources(spec),
        split=split,
        settings=_eval_settings(placement, task.defaults.max_seq_length),
        max_examples=spec.data.max_eval_examples,
        seed=spec.seed,
    )
    rows = to_rows(results, run_key=unit.key, task=task.name, **_row_fields(ctx, source, None))
    record.seconds = time.perf_counter() - started
    write_run(ctx.sweep_dir / RESULTS_DIR, unit.key, rows, meta={"cell": cell.name, RECORD_META: asdict(record)})
    record.write(ctx.sweep_dir)
    return record
