"""The only module of raygrid that touches Ray Tune and Ray Train (Ray 2.60).

One Tune experiment per sweep. Its searcher (:class:`CellSearcher`) hands
out the units of :class:`~raygrid.sweep.plan.Planner` (one Optuna study per
cell, multiplexed through Optuna's ask/tell API); its scheduler
(:class:`CellPruningScheduler`) keeps Tune's FIFO order and stops a trial
when *its cell's* Optuna pruner says so, so early stopping only ever compares
trials of the same cell. Each Tune trial is a function that runs one Ray
Train ``TorchTrainer`` (Train V2: a Trainer is not passed to the Tuner); the
Train workers run :func:`raygrid.sweep.work.run_unit`. A one-worker unit
on a one-node cluster runs that ``TorchTrainer`` in local mode inside its
trial's process (the *local* path, :class:`LocalUnitTrial`;
``RAYGRID_UNIT_PATH=trainer`` turns it off).

Facts of Ray 2.60 this relies on (see docs/ray-notes.md and DESIGN.md):

- the trial function holds 0 CPU and 0.01 of the custom resource
  ``raygrid_trial``, so the Train workers get the CPUs (a trial holding a CPU
  starves its own workers on a small machine); a local trial, which is its
  unit's only worker, holds the worker's CPUs and GPUs (:func:`trial_resources`);
- the Train run name is the unit key (no timestamp) and its storage is in the
  sweep folder, so a retried unit, or one asked again after a killed driver,
  resumes from its last checkpoint (``ray.train.get_checkpoint``): Train V2
  reads back only ``checkpoint_manager_snapshot.json`` (JSON, checked by
  pydantic) and the checkpoint folders it names; raygrid's state in them is
  safetensors and ``torch.load(weights_only=True)`` (docs/security.md);
- an ``s3://`` sweep gives Tune and Train ``storage_path="bucket/prefix/..."``
  with ``storage_filesystem`` (raygrid's S3 filesystem, built from the AWS
  environment: it pickles without secrets);
- Tune pickles its experiment state into ``<sweep>/tune`` (``tuner.pkl``
  with the searcher in it, trial states); ``Tuner.restore`` would unpickle
  it, so raygrid never calls it: every writer start runs a fresh experiment
  and removes what a killed driver left there unread (:func:`run_experiment`);
- Tune calls the scheduler before the searcher for each result, and a result
  on which the scheduler says STOP never reaches the searcher's
  ``on_trial_result``: the scheduler reports to the searcher itself, found at
  call time through ``tune_controller.search_alg``;
- Tune reuses a finished trial's process for the next trial
  (``reuse_actors``; every trial holds the same resources): the trial pays
  no Ray worker start and no ``ray.train.torch`` import after the first.
  But Tune caches the process of a trial it stopped (pruned) without
  stopping anything in it until the next trial asks for it: a function
  trial's ``TorchTrainer`` would train on and write. So the trainer path
  reuses processes only when the spec prunes nothing; a local trial waits
  at each report until Tune asks for the next result (:class:`_Channel`)
  and is stopped when its process is handed on;
- Train's controller polls its workers every ``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S``
  (2 s by default; raygrid: 0.25 s unless set): a unit's end reaches the
  trial that much sooner (benchmarks/unit_profile.py: teardown 6.1 -> 1.0 s);
- Train V2's local mode (``ScalingConfig(num_workers=0)``) cannot run inside
  a Tune *function* trial: ``ray.train.report``, ``get_context`` and
  ``get_checkpoint`` raise ``DeprecationWarning`` ("deprecated when running
  in a function passed to Ray Tune") whenever Tune's function session is set
  in the process. A Tune *class* trainable has no such session: one-worker
  units on a one-node cluster run there (:class:`LocalUnitTrial`, the
  *local* path), every other unit in a full ``TorchTrainer`` (the *trainer*
  path; :func:`unit_path`). Local mode's ``report`` keeps a checkpoint in
  memory only (no storage, no controller, no retries): the local path saves
  its states in the sweep folder (:mod:`raygrid.sweep.unit_state`), retries
  an error ``max_failures`` times in the trial and a lost trial process
  through Tune's ``FailureConfig``;
- Tune keeps every trial of an experiment, and its JSON state, for the
  experiment's life: the scheduler has the controller forget trials that
  finished cleanly (:func:`forget_finished_trials`, which edits private
  fields of ``TuneController``; a test fails if a Ray upgrade renames them).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from raygrid.errors import ConfigError
from raygrid.faults import fault_point
from raygrid.layout import SPEC_FILE, TRAIN_DIR, TUNE_DIR
from raygrid.spec import SweepSpec
from raygrid.storage import Location
from raygrid.sweep import capacity, retention
from raygrid.sweep.cluster import (
    TRIAL_RESOURCE,
    autoscaler_node_groups,
    check_resources,
    cluster_address,
    remove_orphaned_placement_groups,
    start_ray,
    with_autoscaling,
)
from raygrid.sweep.plan import FINISHED, Planner, TrialRecord, Unit
from raygrid.sweep.quiet import TERMINAL
from raygrid.sweep.segment_size import default_segment_trials

OBJECTIVE = "objective"

#: Ray Train V2's controller poll interval (propagated to the controller from
#: the process that calls ``fit``), and raygrid's value for it.
TRAIN_POLL_ENV, TRAIN_POLL_S = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25"

#: A file that every process of the sweep appends its unit spans to (one
#: JSON line each: time, event, unit key, pid, the process's start time);
#: unset, nothing is written. benchmarks/unit_profile.py sets it.
SPANS_ENV = "RAYGRID_UNIT_SPANS"


def _span(event: str, key: str, **fields: float) -> None:
    """Appends one span event to :data:`SPANS_ENV` (a no-op when unset)."""
    where = os.environ.get(SPANS_ENV)
    if not where:
        return
    line = {"t": time.time(), "event": event, "unit": key, "pid": os.getpid(),
            "process_started": _process_started(), **fields}  # fmt: skip
    with open(where, "a") as handle:  # one short line per write: appends do not interleave
        handle.write(json.dumps(line) + "\n")


def _process_started() -> float | None:
    """When this process started (seconds since the epoch; Linux's /proc, else ``None``)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))  # fmt: skip
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


# -- the trial: one Train run per unit ------------------------------------------------------


def _placement(use_gpu: bool, multitask: bool) -> Any:
    import torch

    from raygrid.train.loop import Placement

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = str(ray.train.torch.get_device()) if use_gpu else "cpu"

    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        if world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [torch.device(device).index] if device.startswith("cuda") else None
        # a mixture's step uses one head only: the other heads get no gradient
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=multitask)

    return Placement(rank=rank, world_size=world, device=device, wrap=wrap)


class _TrainReporter:
    """Forwards each English-dev evaluation to Ray Train (a collective)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def report(self, metrics: Mapping[str, float], state_dir: Path | None) -> None:
        _span("report", self.key, step=float(metrics.get("step", 0.0)), loop_seconds=float(metrics.get("seconds", 0.0)))
        checkpoint = ray.train.Checkpoint.from_directory(str(state_dir)) if state_dir is not None else None
        ray.train.report(dict(metrics), checkpoint=checkpoint)


def _unit_context(config: Mapping[str, Any], path: str) -> Any:
    from raygrid.grid import expand
    from raygrid.sweep.folder import read_spec_file
    from raygrid.sweep.work import UnitContext

    sweep_dir = Location.of(config["sweep_dir"])
    spec = read_spec_file(sweep_dir / SPEC_FILE)
    unit = Unit.from_config(config["unit"])
    cell = expand(spec).by_key[unit.cell_key]
    # from the driver's command line (--trust-remote-code), not from the sweep folder
    trust = config.get("trust_remote_code") is True
    return UnitContext(spec=spec, sweep_dir=sweep_dir, unit=unit, cell=cell, trust_remote_code=trust, path=path)


def _train_worker(config: dict[str, Any]) -> None:
    """Runs on every Train worker: the unit, resumed from the last checkpoint."""
    from raygrid.sweep.work import run_unit
    from raygrid.train.loop import is_saved_state

    _span("worker.start", config["unit"]["key"])
    ctx = _unit_context(config, TRAINER_PATH)
    placement = _placement(ctx.spec.resources.use_gpu, len(ctx.cell.tasks) > 1)
    checkpoint = ray.train.get_checkpoint()
    reporter = _TrainReporter(ctx.unit.key)
    if checkpoint is None:
        record = run_unit(ctx, placement, reporter=reporter)
    else:
        with checkpoint.as_directory() as state_dir:
            # Train's controller can hand back a checkpoint whose folder is
            # already gone (its bookkeeping lags the reports): start afresh then.
            resume = Path(state_dir) if is_saved_state(Path(state_dir)) else None
            record = run_unit(ctx, placement, reporter=reporter, resume_from=resume)
    _span("unit.end", ctx.unit.key, unit_seconds=float(record.seconds))
    ray.train.report({"raygrid_done": 1.0, OBJECTIVE: _finite(record.objective)})


def _finite(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else float("nan")


def _trial(config: dict[str, Any]) -> None:
    """The Tune trial function: one TorchTrainer run for one unit."""
    sweep_dir = Location.of(config["sweep_dir"])
    unit = Unit.from_config(config["unit"])
    _span("trial.start", unit.key)
    try:
        _run_trial(config, sweep_dir, unit)
    finally:
        _span("trial.end", unit.key)


def _run_trial(config: dict[str, Any], sweep_dir: Location, unit: Unit) -> None:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    record = TrialRecord.read(sweep_dir, unit.key)
    if record is not None and record.status == "complete":  # finished before a restart: never rerun
        tune.report({"raygrid_done": 1.0, OBJECTIVE: _finite(record.objective), "raygrid_reused": 1.0})
        return
    # Train's controller polls its workers this often (Ray's default: 2 s): a
    # unit's end (and each report) reaches the trial up to one interval late
    os.environ.setdefault(TRAIN_POLL_ENV, TRAIN_POLL_S)
    resources = config["resources"]
    per_worker = {"CPU": resources["cpus_per_worker"]}
    if resources["use_gpu"]:
        per_worker["GPU"] = resources["gpus_per_worker"]
    train_fs, train_path = (sweep_dir / TRAIN_DIR).arrow()  # (None, local path) or (S3 filesystem, bucket/key)
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config=config,
        scaling_config=ScalingConfig(
            num_workers=resources["num_workers"], use_gpu=resources["use_gpu"], resources_per_worker=per_worker
        ),
        run_config=RunConfig(
            name=unit.key,  # stable: a retried or restored unit resumes from its last checkpoint
            storage_path=train_path,
            storage_filesystem=train_fs,
            failure_config=FailureConfig(max_failures=int(config["max_failures"])),
            # two kept: the controller may not yet have registered the newest
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=[TuneReportCallback()],
        ),
    )
    _span("fit.start", unit.key)
    try:
        trainer.fit()
    except Exception as exc:
        if not unit_failed(exc):
            raise  # Tune's trial errors: a live driver records it (on_trial_complete), a resumed one reruns the unit
        # the run failed after its retries: record it, the sweep goes on
        message = f"{type(exc).__name__}: {exc}".strip()[:4000]  # Train nests the worker's error inside
        TrialRecord(unit.key, "failed", None, error=message, path=TRAINER_PATH).write(sweep_dir)
        tune.report({"raygrid_failed": 1.0, OBJECTIVE: float("nan")})
    else:
        _span("fit.end", unit.key)
        # The unit's checkpoint and record are written: its resume states
        # (optimizer included: three times the model) are of no more use.
        remove_train_run(sweep_dir, unit.key)


def unit_failed(exc: BaseException) -> bool:
    """Whether ``TorchTrainer.fit()``'s exception is the unit's own failure
    (recorded as ``failed``: a resumed sweep never runs it again) rather than
    the loss of the Train controller actor that ran it. The controller dies
    with the trial's placement group when the driver that owns them is
    killed: the trial, killed a moment later, must not record the unit as
    failed in between (seen: a driver restarted during a scale-up left a
    running unit ``failed`` with "ActorDiedError ... its placement group was
    removed", and the resumed sweep never reran it)."""
    from ray.exceptions import RayActorError

    return not isinstance(exc, RayActorError)


# -- the local path: one worker, in the trial's own process ---------------------------------------

#: How a unit runs: ``trainer`` (a ``TorchTrainer`` with its controller and
#: worker actors) or ``local`` (Train V2's local mode inside the trial's process).
TRAINER_PATH, LOCAL_PATH = "trainer", "local"
#: Forces one path for every unit of a sweep (benchmarks compare the two); unset: :func:`unit_path` chooses.
UNIT_PATH_ENV = "RAYGRID_UNIT_PATH"


def unit_path(spec: SweepSpec, live_nodes: int, autoscaling: bool) -> str:
    """``local`` where the units can run locally (one worker each, on a
    one-node cluster with no autoscaler), else ``trainer``;
    :data:`UNIT_PATH_ENV` forces one.

    On the local path a unit trains in its Tune trial's process, so a lost
    node would take the trial with it; with one node that is the whole sweep
    (resumed as after a kill -9). On a cluster of several nodes, or one that
    may grow, units keep their Train worker actors, whose loss Train retries
    from the last checkpoint while the trial lives on the head; so do units
    of several workers (DDP).

    Raises:
        ConfigError: :data:`UNIT_PATH_ENV` names no path, or ``local`` where
            units cannot run locally.
    """
    chosen = os.environ.get(UNIT_PATH_ENV, "")
    if chosen not in ("", TRAINER_PATH, LOCAL_PATH):
        raise ConfigError(f"{UNIT_PATH_ENV}={chosen!r}: allowed: {TRAINER_PATH!r}, {LOCAL_PATH!r} or unset")
    if chosen == TRAINER_PATH:
        return TRAINER_PATH
    several_workers = spec.resources.num_workers != 1
    elsewhere = live_nodes != 1 or autoscaling
    if not chosen:
        return TRAINER_PATH if several_workers or elsewhere else LOCAL_PATH
    if several_workers:
        raise ConfigError(
            f"{UNIT_PATH_ENV}=local: {spec.source}: resources.num_workers is {spec.resources.num_workers}; "
            f"allowed: the local path runs units of 1 worker"
        )
    if elsewhere:
        raise ConfigError(
            f"{UNIT_PATH_ENV}=local: the cluster has {live_nodes} node(s)"
            f"{' and an autoscaler' if autoscaling else ''}; allowed: one node (a lost node would lose its trials)"
        )
    return LOCAL_PATH


def trial_resources(spec: SweepSpec, path: str) -> dict[str, float]:
    """What a trial holds: on the trainer path 0 CPU (its Train workers hold
    the CPUs; a trial holding one would starve them on a small machine), on
    the local path its one worker's CPUs and GPUs (it is the worker); both
    0.01 of :data:`TRIAL_RESOURCE`."""
    if path == TRAINER_PATH:
        return {"CPU": 0, TRIAL_RESOURCE: 0.01}
    r = spec.resources
    return {"CPU": r.cpus_per_worker, **({"GPU": r.gpus_per_worker} if r.use_gpu else {}), TRIAL_RESOURCE: 0.01}


class UnitStopped(BaseException):
    """Raised in a local unit's thread when Tune stopped its trial (pruned,
    or the experiment ended): not an error, never retried."""


class _Channel:
    """A local unit's results, from its thread to its trial's ``step``, one
    at a time: the thread waits after each report until Tune asks for the
    next result, so a trial Tune stopped (and may keep for reuse) trains no
    further and writes nothing more."""

    def __init__(self) -> None:
        self._results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._go = threading.Semaphore(0)
        self._stopped = threading.Event()
        self._waiting = False  # the thread waits for the last report's result to be taken

    def report(self, metrics: dict[str, Any]) -> None:
        """The unit's thread: hands over one result, then waits for the next ask."""
        if self._stopped.is_set():
            raise UnitStopped()
        self._results.put(("report", metrics))
        self._go.acquire()
        if self._stopped.is_set():
            raise UnitStopped()

    def finish(self, kind: str, value: Any) -> None:
        self._results.put((kind, value))

    def next(self) -> tuple[str, Any]:
        """Tune's ``step``: lets the thread go on, then waits for its next result."""
        if self._waiting:
            self._go.release()
        kind, value = self._results.get()
        self._waiting = kind == "report"
        return kind, value

    def stop(self) -> None:
        self._stopped.set()
        self._go.release()


class _LocalReporter:
    """Each English-dev evaluation of a local unit: its state saved in the
    sweep folder, the metrics to Train's API and to the trial's Tune results."""

    def __init__(self, key: str, states: Any, channel: _Channel) -> None:
        self.key, self.states, self.channel = key, states, channel

    def report(self, metrics: Mapping[str, float], state_dir: Path | None) -> None:
        _span("report", self.key, step=float(metrics.get("step", 0.0)), loop_seconds=float(metrics.get("seconds", 0.0)))
        if state_dir is not None:
            self.states.save(state_dir, int(metrics.get("step", 0)))
        ray.train.report(dict(metrics))  # local mode: kept as the run's last metrics
        self.channel.report(dict(metrics))


def _local_worker(config: dict[str, Any], channel: _Channel) -> dict[str, float]:
    """The train function of a local unit (Train's local mode: this process),
    resumed from its newest saved state."""
    from raygrid.sweep.unit_state import LocalStates
    from raygrid.sweep.work import run_unit

    key = config["unit"]["key"]
    _span("worker.start", key)
    ctx = _unit_context(config, LOCAL_PATH)
    placement = _placement(ctx.spec.resources.use_gpu, len(ctx.cell.tasks) > 1)
    states = LocalStates(ctx.sweep_dir, key)
    if _trained(ctx.sweep_dir, key):  # its checkpoint is complete (a kill after it): run_unit trains nothing,
        record = run_unit(ctx, placement, reporter=_LocalReporter(key, states, channel))  # so nothing is resumed
    else:
        with states.latest() as resume:
            record = run_unit(ctx, placement, reporter=_LocalReporter(key, states, channel), resume_from=resume)
    _span("unit.end", key, unit_seconds=float(record.seconds))
    return {"raygrid_done": 1.0, OBJECTIVE: _finite(record.objective)}


def _trained(sweep_dir: Location | Path, key: str) -> bool:
    """The unit's checkpoint is complete, with its objective (as :func:`run_unit` checks)."""
    from raygrid.unit import phases

    trained = phases.find_trained(phases.checkpoint_of(sweep_dir, key))
    return trained is not None and trained.objective is not None


def _run_local(config: dict[str, Any], channel: _Channel) -> dict[str, float]:
    """One local unit to its end: retried from its newest state after an
    error, ``max_failures`` times (as Train retries a worker group), then
    recorded failed."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    sweep_dir = Location.of(config["sweep_dir"])
    unit = Unit.from_config(config["unit"])
    record = TrialRecord.read(sweep_dir, unit.key)
    if record is not None and record.status == "complete":  # finished before a restart: never rerun
        return {"raygrid_done": 1.0, OBJECTIVE: _finite(record.objective), "raygrid_reused": 1.0}
    retries = int(config["max_failures"])
    attempt = 0
    while True:
        trainer = TorchTrainer(
            lambda loop_config: _local_worker(loop_config, channel),
            train_loop_config=config,
            scaling_config=ScalingConfig(num_workers=0),  # local mode: the train function runs here
            run_config=RunConfig(name=unit.key),
        )
        _span("fit.start", unit.key)
        try:
            result = trainer.fit()
        except Exception as exc:  # the unit's error (local mode raises it as it is)
            if attempt < retries:
                attempt += 1
                continue
            message = f"{type(exc).__name__}: {exc}".strip()[:4000]
            TrialRecord(unit.key, "failed", None, error=message, path=LOCAL_PATH).write(sweep_dir)
            return {"raygrid_failed": 1.0, OBJECTIVE: float("nan")}
        _span("fit.end", unit.key)
        remove_train_run(sweep_dir, unit.key)  # its saved states are of no more use
        return dict(result.return_value)


class LocalUnitTrial(tune.Trainable):
    """The Tune trial of a unit on the local path.

    A class trainable, not a function: inside a Tune *function* trial Ray
    2.60 refuses ``ray.train.report``, ``get_context`` and ``get_checkpoint``
    (``DeprecationWarning``: Tune's session is set in the process); a class
    trainable has no such session, so Train V2's local mode runs with its
    API. The unit runs in a thread of this process (:func:`_run_local`);
    each ``step`` returns its next result. Tune reuses the process for the
    next unit (``reuse_actors``): torch, transformers and raygrid stay
    imported. A process lost mid-unit is retried by Tune (the experiment's
    ``FailureConfig``) and resumes from the unit's newest saved state.
    """

    def setup(self, config: dict[str, Any]) -> None:
        self._begin(config)

    def _begin(self, config: dict[str, Any]) -> None:
        self._key = str(config["unit"]["key"])
        _span("trial.start", self._key)
        self._channel = _Channel()
        self._thread = threading.Thread(target=self._run, args=(config, self._channel), daemon=True,
                                        name=f"raygrid-unit-{self._key}")  # fmt: skip
        self._thread.start()

    @staticmethod
    def _run(config: dict[str, Any], channel: _Channel) -> None:
        try:
            channel.finish("done", _run_local(config, channel))
        except UnitStopped:
            channel.finish("stopped", None)
        except BaseException as exc:  # noqa: BLE001 - raised in step(): Tune records the trial's error
            channel.finish("error", exc)

    def step(self) -> dict[str, Any]:
        kind, value = self._channel.next()
        if kind == "report":
            return dict(value)
        _span("trial.end", self._key)
        if kind == "error":
            raise value
        return {**(value or {}), "done": True}

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Tune hands this process the next unit: the last one's thread is
        stopped first (a unit Tune stopped waits at its last report)."""
        self._channel.stop()
        self._thread.join(timeout=30)
        if self._thread.is_alive():
            return False  # Tune then starts a fresh process
        self._begin(new_config)
        return True

    def cleanup(self) -> None:
        self._channel.stop()

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        return None  # the unit's states live in the sweep folder (raygrid.sweep.unit_state)

    def load_checkpoint(self, checkpoint: Any) -> None:
        return None


def remove_train_run(sweep_dir: Location, key: str) -> None:
    fault_point("checkpoint.delete")
    (Location.of(sweep_dir) / TRAIN_DIR / key).rmtree()


# -- the searcher and the scheduler -----------------------------------------------------------

class CellSearcher(Searcher):
    """Tune searcher over :class:`Planner`'s units (one Optuna study per cell).

    ``suggest`` returns a unit's config, ``None`` while everything left waits
    for running work, and ``Searcher.FINISHED`` only once every cell and
    confirm run is finished (FINISHED is permanent for Tune).
    """

    def __init__(
        self,
        spec: SweepSpec,
        sweep_dir: Location | Path,
        *,
        segment_trials: int | None = None,
        trust_remote_code: bool = False,
        path: str | None = None,
    ) -> None:
        super().__init__(metric=OBJECTIVE, mode="max")
        self.spec = spec
        self.sweep_dir = Location.of(sweep_dir)
        self.path = path  # how this experiment's units run (TRAINER_PATH, LOCAL_PATH): records the driver writes say so
        self.segment_trials = segment_trials  # None: the whole sweep in this experiment
        # --trust-remote-code of this command line: it travels to the workers
        # in each trial's config, never through the (untrusted) sweep folder
        self.trust_remote_code = trust_remote_code
        self.issued = 0  # units handed out by this experiment
        self.live: dict[str, Unit] = {}
        self.pruned: set[str] = set()
        self.started_at = time.time()
        self.finished_seconds: list[float] = []
        self._planner: Planner | None = None

    @property
    def planner(self) -> Planner:
        """The sweep's planner, opened on first use. Every experiment is
        fresh, so no Tune trial of it runs yet: the RUNNING Optuna trials the
        planner finds without a record are orphans of a killed driver. It
        fails them and asks their places again, with the same parameters and
        unit keys, so their Train runs resume from their last checkpoints."""
        if self._planner is None:
            self._planner = Planner(self.spec, self.sweep_dir)
            retention.resume(self._planner)  # the writer starts: finish deletions a kill interrupted
        return self._planner

    # Tune pickles the searcher into tuner.pkl (its experiment state, which
    # raygrid never reads back): the Optuna handles stay out of the pickle.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_planner"] = None
        return state

    def save(self, checkpoint_path: str) -> None:
        """Nothing: raygrid never restores a Tune experiment (the sweep
        folder's journal, records and results rebuild it), so Tune writes no
        searcher state. ``restore`` stays Tune's ``NotImplementedError``."""
        return None

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        return True

    @property
    def segment_full(self) -> bool:
        """This experiment has handed out its segment's units (see
        :mod:`raygrid.sweep.segments`): it only finishes those now."""
        return self.segment_trials is not None and self.issued >= self.segment_trials

    @property
    def drained(self) -> bool:
        """Its segment is full and every unit of it has finished."""
        return self.segment_full and not self.live

    def suggest(self, trial_id: str) -> dict[str, Any] | None | str:
        if self.segment_full:
            return Searcher.FINISHED  # the experiment ends once its running trials do
        unit = self.planner.next_unit()
        if unit is FINISHED:
            return Searcher.FINISHED
        if unit is None:
            return None
        assert isinstance(unit, Unit)
        _span("suggest", unit.key)
        self.issued += 1
        self.live[trial_id] = unit
        return {
            "unit": unit.to_config(),
            "sweep_dir": str(self.sweep_dir),
            "resources": self.spec.resources.model_dump(mode="json"),
            "max_failures": self.spec.max_failures,
            "trust_remote_code": self.trust_remote_code,
        }

    def observe(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """Reports an English-dev value to the unit's cell study; True = prune."""
        unit = self.live.get(trial_id)
        if unit is None or result.get("raygrid_done"):
            return False
        value, step = result.get(OBJECTIVE), result.get("step")
        if value is None or step is None:
            return False
        prune = self.planner.report(unit, int(step), float(value))
        if prune:
            self.pruned.add(trial_id)
        return prune

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return None  # the scheduler already reported it (see CellPruningScheduler)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        unit = self.live.pop(trial_id, None)
        if unit is None:  # unknown, or a second result for it: ignored
            return
        _span("complete", unit.key)
        record = TrialRecord.read(self.sweep_dir, unit.key)
        if trial_id in self.pruned:
            self.pruned.discard(trial_id)
            remove_train_run(self.sweep_dir, unit.key)
            value = (result or {}).get(OBJECTIVE)
            record = TrialRecord(unit.key, "pruned", None if value is None else float(value), path=self.path)
            record.write(self.sweep_dir)
        elif record is None:
            kind = "errored" if error else "ended without a result"
            record = TrialRecord(unit.key, "failed", None, error=f"Tune trial {kind}", path=self.path)
            record.write(self.sweep_dir)
        self.finished_seconds.append(record.seconds)
        self.planner.complete(unit, record)
        retention.retain(self.planner, unit.cell_key)  # checkpoints.keep: best, once the cell is done


def find_cell_searcher(search_alg: Any) -> CellSearcher | None:
    """Unwraps Tune's SearchGenerator / ConcurrencyLimiter."""
    obj = search_alg
    for _ in range(4):
        if isinstance(obj, CellSearcher):
            return obj
        obj = getattr(obj, "searcher", None)
    return None


class CellPruningScheduler(FIFOScheduler):
    """FIFO order; STOP when the trial's own cell's Optuna pruner says so.

    Before choosing the next trial it also has Tune forget the trials that
    have finished (:func:`forget_finished_trials`).
    """

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        searcher = find_cell_searcher(tune_controller.search_alg)
        if searcher is not None and searcher.observe(trial.trial_id, result):
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        forget_finished_trials(getattr(tune_controller, "_tune_controller", tune_controller))
        return super().choose_trial_to_run(tune_controller)


#: The TuneController attributes (Ray 2.60) that hold a finished trial.
_CONTROLLER_TRIAL_FIELDS = ("_trials", "_stopped_trials", "_trial_metadata", "_trials_to_cache", "_trial_to_actor")


def forget_finished_trials(controller: Any) -> int:
    """Removes from Tune's controller every trial that finished cleanly
    (TERMINATED, its actor gone, its final state already written into the
    experiment state once); returns how many.

    Tune keeps every trial of an experiment for the experiment's life: the
    ``Trial`` (config, storage context, placement group factory) and its
    JSON state for the experiment checkpoint (~7 KB each), which it also
    rewrites whole into ``experiment_state-*.json`` at every save and scans
    at every step. raygrid never reads them back: its trial records,
    Optuna studies and results store hold each finished unit, and a resumed
    sweep skips finished units from those. Trials that failed (ERROR) stay:
    ``fit()``'s result counts them (``num_errors``); the first trial stays
    too (Tune takes the experiment's timestamp from it).
    A controller without these fields (another Ray version) is left alone.
    """
    if not all(hasattr(controller, field) for field in _CONTROLLER_TRIAL_FIELDS):
        return 0
    trials: list[Any] = controller._trials
    busy = controller._trial_to_actor
    unsaved = controller._trials_to_cache
    staged = getattr(controller, "_staged_trials", ())
    gone = {t for t in trials[1:] if t.status == "TERMINATED" and t not in busy and t not in unsaved and t not in staged}
    if not gone:
        return 0
    trials[:] = [t for t in trials if t not in gone]  # in place: callbacks are handed this very list
    for trial in gone:
        controller._stopped_trials.discard(trial)
        controller._trial_metadata.pop(trial.trial_id, None)
    return len(gone)


#: What Tune keeps of a finished trial's last result (raygrid's own record
#: of the trial is ``<sweep>/trials/<key>.json``).
KEPT_RESULT_KEYS = frozenset({OBJECTIVE, "raygrid_done", "raygrid_failed", "raygrid_reused", "done",
                              "training_iteration", "trial_id", "time_total_s"})  # fmt: skip


class TrimFinishedTrials(tune.Callback):
    """Drops what Tune's controller would otherwise hold for the sweep's life
    about every finished trial: its metric analysis (max/min/avg/last-n of
    every auto-filled metric, with the last-n deques) and its full last
    result. The driver's memory then stops growing with those per finished
    trial (docs/benchmarks.md, "Driver memory"); raygrid reads neither:
    its trial records, Optuna studies and results store hold the outcome.

    Every ``release_every`` finished trials it also hands the C heap's
    freed pages back to the system (glibc ``malloc_trim``): the driver's
    many short-lived allocations per trial (results, JSON states, gRPC
    messages) otherwise leave its resident memory growing with freed but
    unreturned pages.
    """

    def __init__(self, release_every: int = 20) -> None:
        self.release_every = release_every
        self._finished = 0

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._finished_one(trial)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._finished_one(trial)

    def _finished_one(self, trial: Any) -> None:
        trim_trial(trial)
        self._finished += 1
        if self.release_every and self._finished % self.release_every == 0:
            release_freed_memory()


def release_freed_memory() -> bool:
    """Returns the C heap's free pages to the system (glibc's ``malloc_trim(0)``).

    False where the C library has no ``malloc_trim`` (musl, macOS): there it
    does nothing.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Any:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class _NoMissingMetricsWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to fetch metrics for")


def _quiet_missing_trial_metrics() -> None:
    log = logging.getLogger("ray.tune.analysis.experiment_analysis")
    if not any(isinstance(f, _NoMissingMetricsWarning) for f in log.filters):
        log.addFilter(_NoMissingMetricsWarning())


def trim_trial(trial: Any) -> None:
    meta = trial.run_metadata
    meta.metric_analysis = {}
    meta.metric_n_steps = {}
    last = meta.last_result or {}
    meta.last_result = {k: v for k, v in last.items() if k in KEPT_RESULT_KEYS}


class ReapOrphanedGroups(tune.Callback):
    """Removes the placement groups a killed driver left on the cluster
    (:func:`raygrid.sweep.cluster.remove_orphaned_placement_groups`) when
    the segment starts, every ``every_s`` seconds and when it ends; a
    failure to read or remove is logged, never fatal."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self._last = 0.0

    def reap(self) -> None:
        self._last = time.time()
        try:
            removed = remove_orphaned_placement_groups()
        except Exception as exc:  # noqa: BLE001 - Ray's private tables moved, or the GCS did not answer
            logging.getLogger(__name__).warning("orphaned placement groups not checked: %s: %s", type(exc).__name__, exc)
            return
        if removed:
            logging.getLogger(__name__).warning("removed %d placement group(s) a dead driver left: %s",
                                                len(removed), ", ".join(removed))  # fmt: skip

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if time.time() - self._last >= self.every_s:
            self.reap()

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self.reap()  # one created since the last look would outlive the driver


class ProgressCallback(tune.Callback):
    """A live progress line: cells done/total, trials running, best per cell,
    elapsed and estimated time left, read from the experiment's ``searcher``;
    on a cluster with an autoscaler (``capacity_address``: its GCS) also the
    units waiting for capacity, read from the autoscaler at each line."""

    def __init__(
        self, searcher: CellSearcher | None, every_s: float = 10.0, stream: Any = None, started: float | None = None,
        capacity_address: str | None = None,
    ) -> None:  # fmt: skip
        self.searcher = searcher
        self.every_s = every_s
        self.stream = stream
        self.capacity_address = capacity_address
        self._last = 0.0
        self._started = time.time() if started is None else started  # the sweep's start, across segments

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        now = time.time()
        if now - self._last < self.every_s:
            return
        self._last = now
        view = capacity.read(self.capacity_address, timeout_s=2.0) if self.capacity_address else None
        print(progress_line(trials_hint=sum(t.status == "RUNNING" for t in trials), started=self._started,
                            searcher=self.searcher, view=view), file=self.stream or sys.stderr, flush=True)  # fmt: skip


def progress_line(
    *, trials_hint: int, started: float, searcher: CellSearcher | None, view: capacity.Capacity | None = None
) -> str:
    """The line; ``view``: the autoscaler's (None: no autoscaler, or not asked).

    The time left is the units left times the sweep's elapsed time per
    finished unit, divided by the units that run at once: the trials
    running, where a unit whose Train workers wait for a node counts only
    while the autoscaler has a node on the way for it
    (:func:`raygrid.sweep.capacity.time_left`); the line says how many wait."""
    elapsed = time.time() - started
    if searcher is None:
        return f"[raygrid] {trials_hint} trial(s) running, {elapsed:.0f}s elapsed"
    progress = searcher.planner.progress()
    best = [
        f"{c['name']}={c['best_value']:.3f}"
        for c in progress["cells"]
        if c.get("best_value") is not None and c["stage"] != "confirm"
    ]
    remaining = _remaining_units(searcher)
    done_units = progress["trials_finished"] + sum(
        1 for c in progress["cells"] if c["stage"] == "confirm" and c["status"] == "done"
    )
    per_unit_s = elapsed / done_units if done_units else 0.0
    left_s, waiting = capacity.time_left(per_unit_s, remaining, max(1, trials_hint), view)
    eta = "" if left_s is None else f", ~{left_s:.0f}s left"
    return (
        f"[raygrid] cells {progress['done']}/{progress['total']} done, {trials_hint} trial(s) running{waiting}, "
        f"{progress['failures']} failed, {elapsed:.0f}s elapsed{eta}" + (f" | best: {', '.join(best[:6])}" if best else "")
    )


def _remaining_units(searcher: CellSearcher) -> int:
    progress = searcher.planner.progress()
    left = 0
    for cell in progress["cells"]:
        if cell["status"] in {"done", "blocked"}:
            continue
        if cell["stage"] == "confirm":
            left += 1
        else:
            left += max(0, cell["n_trials"] - cell.get("complete", 0) - cell.get("pruned", 0) - cell.get("failed", 0))
    return left


# -- the driver -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """One Tune experiment that ran: Tune's results and the searcher that
    handed out its units (after ``fit``: its final state)."""

    results: Any  # ray.tune.ResultGrid
    searcher: CellSearcher


def run_experiment(
    spec: SweepSpec,
    sweep_dir: Location | Path,
    *,
    address: str | None,
    quiet: bool = False,
    trial_function: Any = None,
    segment_trials: int | None = 0,
    started: float | None = None,
    trust_remote_code: bool = False,
) -> Experiment:
    """Runs a fresh Tune experiment of the sweep to its end: the end of the
    sweep, or of a segment of ``segment_trials`` units (``None``:
    :func:`default_segment_trials`; 0: no limit).

    The experiment is never restored from ``<sweep>/tune``: Tune keeps it as
    pickles, and whoever can write the sweep folder could put code in them.
    What a killed driver left there is removed unread; the sweep folder's
    data (Optuna journal, trial records, results store) is all a new
    experiment needs to go on where the last one stopped (:class:`CellSearcher`).
    ``trust_remote_code`` (the command line's ``--trust-remote-code``) goes
    to the workers in each trial's config.

    ``trial_function`` replaces the Train trial (benchmarks of the driver
    alone use a no-op one); it takes the unit config that ``_trial`` takes.
    ``started`` is when the sweep (not this segment) started, for the
    progress line's elapsed and remaining time.
    """
    start_ray(address)
    reaper = [ReapOrphanedGroups()] if address else []  # a cluster an earlier, killed driver may have used
    for callback in reaper:
        callback.reap()
    live = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    groups = autoscaler_node_groups()
    cluster, nodes = with_autoscaling(ray.cluster_resources(), live, groups)
    concurrency = check_resources(spec, cluster, nodes)
    if spec.max_concurrent_trials:
        concurrency = min(concurrency, spec.max_concurrent_trials)
    path = TRAINER_PATH if trial_function is not None else unit_path(spec, len(live), bool(groups))
    default_trial = LocalUnitTrial if path == LOCAL_PATH else _trial
    trainable = tune.with_resources(trial_function or default_trial, trial_resources(spec, path))
    if segment_trials is None:
        segment_trials = default_segment_trials(concurrency)
    # Tune's own CSV/JSON/TensorBoard logger per trial: raygrid writes its
    # records and TensorBoard curves itself (<sweep>/trials, <sweep>/tensorboard).
    # Tune's end-of-run analysis then finds no result.json per trial and
    # would log a line for each; raygrid never reads those dataframes.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    _quiet_missing_trial_metrics()
    sweep_dir = Location.of(sweep_dir)
    discard_tune_state(sweep_dir)
    searcher = CellSearcher(spec, sweep_dir, segment_trials=segment_trials or None, trust_remote_code=trust_remote_code,
                            path=None if trial_function is not None else path)  # fmt: skip
    # the progress line on the terminal, not in the sweep's Ray log (raygrid.sweep.quiet)
    # with an autoscaler, the line says which units wait for capacity and the ETA counts what is coming
    progress = [] if quiet else [ProgressCallback(searcher, started=started, stream=TERMINAL,
                                                  capacity_address=cluster_address() if groups else None)]  # fmt: skip
    callbacks: list[Any] = [TrimFinishedTrials(), *progress, *reaper]
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=CellPruningScheduler(),
            num_samples=-1,  # the searcher says when it is FINISHED
            max_concurrent_trials=concurrency,
            # A finished trial's process runs the next trial: no new Ray worker
            # process, torch already imported. Tune keeps a process whose trial
            # it stopped (pruned) without stopping a function trial's thread:
            # on the trainer path its Train run would go on and write, so
            # reuse there only when nothing is ever pruned.
            reuse_actors=path == LOCAL_PATH or spec.early_stopping.type == "none",
        ),
        run_config=tune.RunConfig(
            name=TUNE_DIR,
            storage_path=sweep_dir.arrow()[1],
            storage_filesystem=(sweep_dir / TUNE_DIR).arrow()[0],
            callbacks=callbacks,
            verbose=0,
            # trainer path: retries happen inside Train; local path: an error
            # is retried in the trial, a lost trial process by Tune
            failure_config=tune.FailureConfig(max_failures=spec.max_failures if path == LOCAL_PATH else 0),
        ),
    )
    return Experiment(results=tuner.fit(), searcher=searcher)


def discard_tune_state(sweep_dir: Location) -> None:
    """Removes ``<sweep>/tune`` (a previous experiment's state: pickles) without reading it.

    Raises:
        ConfigError: it is still there (a file raygrid may not remove):
            Tune would write its new experiment next to the old state.
    """
    where = sweep_dir / TUNE_DIR
    where.rmtree()
    if where.exists():
        raise ConfigError(
            f"{where}: cannot remove a previous Tune experiment's state; allowed: a sweep folder whose "
            f"{TUNE_DIR}/ raygrid can delete (it is never read: remove it by hand)"
        )


__all__ = [
    "LOCAL_PATH",
    "TRAINER_PATH",
    "UNIT_PATH_ENV",
    "CellPruningScheduler",
    "CellSearcher",
    "Experiment",
    "LocalUnitTrial",
    "ReapOrphanedGroups",
    "discard_tune_state",
    "run_experiment",
    "trial_resources",
    "unit_path",
]
