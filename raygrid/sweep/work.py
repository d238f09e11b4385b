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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from raygrid.grid import Cell, Stage
from raygrid.spec import SweepSpec
from raygrid.storage import Location, local_copy, staged_dir, working_copy
from raygrid.store import ResultRow, is_done, write_run
from raygrid.layout import RESULTS_DIR, TOKEN_CACHE_DIR, TRIALS_DIR
from raygrid.sweep.plan import RECORD_META, TrialRecord, Unit, UnitKind
from raygrid.tasks.types import Split
from raygrid.unit import phases
from raygrid.unit.settings import eval_settings


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
    path: str | None = None  # how the unit runs ("local" or "trainer", raygrid.sweep.ray_backend), kept in its record


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


def _config(ctx: UnitContext) -> Any:
    """The unit's training config: its tasks' defaults, then its parameters."""
    from raygrid.cell import Overrides, train_config

    config = train_config(_tasks(ctx), Overrides(**ctx.unit.params), ctx.unit.seed)
    return replace(config, compile=True) if ctx.spec.resources.compile else config


def _train(
    ctx: UnitContext,
    placement: Placement,
    reporter: Reporter,
    resume_from: Path | None,
) -> tuple[nn.Module, Any, Any, phases.Phase]:
    from raygrid.models import load_tokenizer

    spec, unit = ctx.spec, ctx.unit
    tokenizer = load_tokenizer(spec.model.name_or_path, trust_remote_code=ctx.trust_remote_code)
    phase = phases.Phase(
        stage=ctx.cell.stage.value,
        key=unit.key,
        tasks=tuple(_tasks(ctx)),
        config=_config(ctx),
        model=spec.model.name_or_path,
        source=_parent_source(unit) or spec.model.name_or_path,
        parent=unit.parent_checkpoint,
        cell_key=ctx.cell.key,
        cell_name=ctx.cell.name,
    )
    with staged_dir(Location.of(ctx.sweep_dir) / "tensorboard" / ctx.cell.key / unit.key) as tensorboard:
        callback = _ReportCallback(reporter, placement.rank, tensorboard)
        try:
            model, result = _train_phase(ctx, phase, tokenizer, placement, callbacks=[callback], resume_from=resume_from)
        finally:
            callback.close()
    return model, result, tokenizer, phase


def _train_phase(
    ctx: UnitContext,
    phase: phases.Phase,
    tokenizer: Any,
    placement: Placement,
    *,
    callbacks: Sequence[Any] = (),
    resume_from: Path | None = None,
) -> tuple[nn.Module, Any]:
    """:func:`raygrid.unit.phases.train` with the sweep's data: its sources,
    caps, data seed and token cache."""
    from raygrid.cell import phase_data, phase_model

    spec = ctx.spec
    return phases.train(
        phase,
        tokenizer,
        data_sources(spec),
        build_data=phase_data,
        build_model=phase_model,
        train_cap=spec.data.train_cap,
        max_eval_examples=spec.data.max_eval_examples,
        data_seed=spec.seed,
        placement=placement,
        cache_dir=token_cache_dir(ctx.sweep_dir),
        callbacks=callbacks,
        resume_from=resume_from,
        trust_remote_code=ctx.trust_remote_code,
    )


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


def _dev_rows(ctx: UnitContext, metrics: Mapping[str, float], fields: Mapping[str, Any]) -> list[ResultRow]:
    """English dev rows: ``<task>/<metric>`` of the kept weights."""
    rows = []
    for name, value in sorted(metrics.items()):
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
    run again: its record is returned as it is. A unit whose checkpoint is
    complete (trained by ``raygrid cell --output <this sweep>`` under the
    same key, or before a kill) is not trained again: its record and rows
    come from the checkpoint's metadata (and a confirm unit evaluates it).
    A confirm unit with a replicated intermediate (``confirm.replicate_intermediate``)
    first trains its seed's own intermediate checkpoint unless it is complete,
    and its target phase starts from it (:func:`_train_replicated_intermediate`).
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

    selected = unit.parent_checkpoint
    ctx = _on_replicated_intermediate(ctx)
    unit = ctx.unit
    resumes = _resume_log(ctx, resume_from, placement.rank)
    checkpoint = phases.checkpoint_of(ctx.sweep_dir, unit.key)
    trained = phases.find_trained(checkpoint)  # trained by `raygrid cell`, or before a kill
    tokenizer: Any = None
    if trained is None or trained.objective is None:
        if ctx.cell.replicated_intermediate is not None:
            _train_replicated_intermediate(ctx, placement, selected)
        model, result, tokenizer, phase = _train(ctx, placement, reporter, resume_from)
        if placement.rank == 0:
            trained = phases.save(phase, model, tokenizer, result, checkpoint)
        else:
            trained = phases.Trained(checkpoint, dict(result.metrics), float(result.objective), None, None, model)
    assert trained.objective is not None
    record = TrialRecord(
        key=unit.key,
        status="complete",
        objective=float(trained.objective),
        metrics={k: float(v) for k, v in trained.metrics.items()},
        checkpoint=str(checkpoint),
        seconds=time.perf_counter() - started,
        resumed_from_steps=resumes,
        replicated_intermediate=unit.parent_checkpoint if ctx.cell.replicated_intermediate else None,
        path=ctx.path,
    )
    if placement.rank != 0:
        return record
    config = _config(ctx)
    fields = _row_fields(ctx, str(checkpoint), config)
    rows = _dev_rows(ctx, trained.metrics, fields)
    examples = None
    if unit.kind is UnitKind.CONFIRM:
        zero_shot, examples = _zero_shot_rows(ctx, trained, tokenizer, placement, fields, config.max_seq_length)
        rows += zero_shot
    meta = {"cell": ctx.cell.name, "params": unit.params, RECORD_META: asdict(record)}
    write_run(ctx.sweep_dir / RESULTS_DIR, unit.key, rows, meta=meta, examples=examples)
    record.write(ctx.sweep_dir)
    return record


def _on_replicated_intermediate(ctx: UnitContext) -> UnitContext:
    """A confirm unit that replicates its intermediate
    (``confirm.replicate_intermediate``) starts its target phase from the
    seed's own intermediate checkpoint, not from the intermediate cell's
    selected one that the planner named: its unit says so
    (``parent_checkpoint``), for the training and for its rows. Any other
    unit: ``ctx`` as it is."""
    key = ctx.cell.replicated_intermediate
    if key is None:
        return ctx
    where = phases.checkpoint_of(ctx.sweep_dir, key)
    return replace(ctx, unit=replace(ctx.unit, parent_checkpoint=str(where)))


def _train_replicated_intermediate(ctx: UnitContext, placement: Placement, selected: str | None) -> None:
    """Trains the seed's own intermediate checkpoint (``ctx.unit.parent_checkpoint``,
    set by :func:`_on_replicated_intermediate`) unless a complete one is
    there: the intermediate cell's selected config (``selected``'s
    ``raygrid.json``) with the unit's seed, from the pretrained model.

    The grid makes the units of one (intermediate, seed) run one after the
    other (:mod:`raygrid.grid`), so the first trains it and the others find
    it; a kill during it trains it again from the start (it reports nothing
    to resume from). Rank 0 writes it (``raygrid.json`` last); every rank
    trains, then waits for it before the target phase reads it."""
    from raygrid.layout import CHECKPOINT_MARKER
    from raygrid.models import load_tokenizer
    from raygrid.spec import resolve_intermediate
    from raygrid.tasks import get_task
    from raygrid.train.config import TrainConfig

    spec, unit, cell = ctx.spec, ctx.unit, ctx.cell
    assert unit.parent_checkpoint is not None
    where = Location.of(unit.parent_checkpoint)
    if phases.find_trained(where) is not None:
        return
    if selected is None:
        raise RuntimeError(f"confirm unit {cell.name!r}: no selected checkpoint of intermediate {cell.intermediate!r}")
    meta = json.loads((Location.of(selected) / CHECKPOINT_MARKER).read_bytes())
    config = TrainConfig(**{**meta["train"], "seed": unit.seed})
    phase = phases.Phase(
        stage=Stage.INTERMEDIATE.value,
        key=str(cell.replicated_intermediate),
        tasks=tuple(get_task(t) for t in resolve_intermediate(cell.intermediate)),
        config=replace(config, compile=True) if spec.resources.compile else config,
        model=spec.model.name_or_path,
        source=spec.model.name_or_path,
        cell_key=meta.get("cell"),
        cell_name=f"{cell.intermediate} (seed {unit.seed})",
    )
    tokenizer = load_tokenizer(spec.model.name_or_path, trust_remote_code=ctx.trust_remote_code)
    model, result = _train_phase(ctx, phase, tokenizer, _mixture_placement(placement) if len(phase.tasks) > 1 else placement)
    if placement.rank == 0:
        phases.save(phase, model, tokenizer, result, where)
    _wait_for_rank_zero(placement)


def _mixture_placement(placement: Placement) -> Placement:
    """``placement`` for a multi-task phase: the confirm unit's placement
    wraps its single-task target phase, but a mixture's step uses one head
    only, so data parallelism must let the other heads go without gradients
    (as the Ray backend does for a multi-task cell's trials)."""
    if placement.world_size == 1:
        return placement

    def wrap(model: nn.Module) -> nn.Module:
        import torch
        from torch.nn.parallel import DistributedDataParallel

        device = torch.device(placement.device)
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    return replace(placement, wrap=wrap)


def _wait_for_rank_zero(placement: Placement) -> None:
    """Every data-parallel rank waits here until rank 0 gets here."""
    if placement.world_size > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()


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


def _split(ctx: UnitContext) -> Split | None:
    """The split the confirm stage scores (``None``: test where it exists)."""
    return Split(ctx.spec.confirm.eval_split) if ctx.spec.confirm.eval_split else None


def _zero_shot_rows(
    ctx: UnitContext,
    trained: phases.Trained,
    tokenizer: Any,
    placement: Placement,
    fields: Mapping[str, Any],
    max_seq_length: int,
) -> tuple[list[ResultRow], Any]:
    """The confirm unit's zero-shot rows, clean and under the spec's attacks,
    and its per-example rows (a DataFrame; ``None`` for a task without an
    attack goal). Clean and attacked passes draw the same example subsample,
    and the attacks seed their perturbations, from the spec's data seed: every
    run of a (target, language) is paired with every other on its examples."""
    from contextlib import nullcontext

    from raygrid.evaluate import to_rows
    from raygrid.models import load_tokenizer, unwrap
    from raygrid.tasks import get_task

    spec, cell = ctx.spec, ctx.cell
    task = get_task(str(cell.target))
    if tokenizer is None:
        tokenizer = load_tokenizer(spec.model.name_or_path, trust_remote_code=ctx.trust_remote_code)
    model = unwrap(phases.load(trained, task, trust_remote_code=ctx.trust_remote_code))
    settings = eval_settings(max_seq_length, device=placement.device)
    sources = data_sources(spec)
    results = phases.zero_shot(
        model, tokenizer, task, cell.languages, sources,
        split=_split(ctx), settings=settings, max_examples=spec.data.max_eval_examples, seed=spec.seed,
    )  # fmt: skip
    rows = to_rows(results, run_key=ctx.unit.key, task=task.name, **fields)
    parent = ctx.unit.parent_checkpoint
    samples = staged_dir(Location.of(ctx.sweep_dir) / "samples" / ctx.unit.key) if spec.attacks else nullcontext(None)
    with samples as sample_dir:
        attacked = phases.attack_suite_rows(
            model, tokenizer, task, cell.languages, [r.split for r in results],
            [(a.name, dict(a.params)) for a in spec.attacks], sources,
            settings=settings, max_examples=spec.data.max_eval_examples, seed=spec.seed,
            run_key=ctx.unit.key, sample_dir=sample_dir, fields=fields,
            intermediate_checkpoint=Location.of(parent).name if parent else "",
        )  # fmt: skip
    return rows + attacked.rows, (attacked.examples if len(attacked.examples) else None)


def _evaluate_encoder(ctx: UnitContext, placement: Placement, started: float) -> TrialRecord:
    """Retrieval targets: the intermediate encoder, evaluated as it is."""
    from raygrid.evaluate import to_rows
    from raygrid.models import load_tokenizer
    from raygrid.tasks import get_task

    spec, unit, cell = ctx.spec, ctx.unit, ctx.cell
    task = get_task(str(cell.target))
    source = unit.parent_checkpoint or spec.model.name_or_path
    record = TrialRecord(unit.key, "complete", None, checkpoint=source, seconds=0.0, path=ctx.path)
    if placement.rank != 0:
        return record
    tokenizer = load_tokenizer(spec.model.name_or_path, trust_remote_code=ctx.trust_remote_code)
    model = phases.encoder(_parent_source(unit) or source, seed=unit.seed, trust_remote_code=ctx.trust_remote_code)
    results = phases.zero_shot(
        model, tokenizer, task, cell.languages, data_sources(spec),
        split=_split(ctx), settings=eval_settings(task.defaults.max_seq_length, device=placement.device),
        max_examples=spec.data.max_eval_examples, seed=spec.seed,
    )  # fmt: skip
    rows = to_rows(results, run_key=unit.key, task=task.name, **_row_fields(ctx, source, None))
    record.seconds = time.perf_counter() - started
    write_run(ctx.sweep_dir / RESULTS_DIR, unit.key, rows, meta={"cell": cell.name, RECORD_META: asdict(record)})
    record.write(ctx.sweep_dir)
    return record
