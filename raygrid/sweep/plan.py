"""What runs next in a sweep: one Optuna study per cell, and the confirm runs.

The planner knows nothing of Ray. It reads and writes two sources of truth
in the sweep folder, both of which survive a ``kill -9`` of the driver:

- ``optuna.journal``: one study per cell (its name is the cell key), with
  every trial's parameters, intermediate values and final value; each
  trial's unit key and checkpoint sit in its user attributes;
- ``trials/<unit key>.json`` (trial records, written atomically by the trial
  when it ends) and ``results/`` (the results store: a confirm run is done
  when its rows are).

Determinism: the k-th trial of a cell is asked with a sampler seeded from
(the spec's sampler seed, the cell key, k), so its parameters depend only on
the spec and on the trials before it, not on the sampler's history in this
process: a sweep resumed after a crash asks what the uninterrupted sweep
would have asked (with one trial at a time; concurrent trials finish in an
order that no sweep can promise).

Units of work:

``trial``
    One Optuna trial of an intermediate or target cell: train with the
    trial's parameters on English data (target cells start from the best
    checkpoint of their intermediate cell), select on English dev data.
``confirm``
    The best parameters of a target cell retrained with one confirm seed
    (or, for retrieval targets, the intermediate encoder as it is), then
    evaluated zero-shot per language, clean and under the attack suite.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid.grid import Cell, Grid, Stage, expand
from raygrid.keys import stable_key
from raygrid.spec import Direction, SweepSpec
from raygrid.storage import Location
from raygrid.store import is_done
from raygrid.sweep.search import build_pruner, build_sampler
from raygrid.unit.keys import trial_key

if TYPE_CHECKING:  # pragma: no cover
    import optuna

from raygrid.layout import CHECKPOINTS_DIR, JOURNAL, RESULTS_DIR, RUNS_DIR, TRAIN_DIR, TRIALS_DIR

#: The manifest's copy of a unit's trial record (``results/_runs/<key>.json``,
#: ``meta``): a driver killed between a run's rows (the manifest is their last
#: file) and its record must not leave the unit redone, failed or unrecorded.
RECORD_META = "trial_record"

ATTR_UNIT = "raygrid_unit"
ATTR_CHECKPOINT = "raygrid_checkpoint"
ATTR_ORPHANED = "raygrid_orphaned"
#: The trial's place in its cell (0 .. n_trials - 1): seeds its sampler and keys its unit.
ATTR_INDEX = "raygrid_index"


class UnitKind(str, Enum):
    TRIAL = "trial"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class Unit:
    """One unit of work handed to a trial.

    Attributes:
        kind: trial or confirm.
        key: stable key: names its checkpoint, record and result rows.
        cell_key: the grid cell it belongs to.
        trial_number: the Optuna trial number (trial units).
        params: hyper-parameters (the fields of :class:`raygrid.cell.Overrides`).
        parent_checkpoint: the checkpoint training starts from (``None``:
            the pretrained model).
        seed: the training seed.
    """

    kind: UnitKind
    key: str
    cell_key: str
    trial_number: int | None
    params: dict[str, Any]
    parent_checkpoint: str | None
    seed: int

    def to_config(self) -> dict[str, Any]:
        """The JSON-able dict Tune carries as the trial's config."""
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Unit:
        fields = {k: config[k] for k in cls.__dataclass_fields__}
        fields["kind"] = UnitKind(fields["kind"])
        return cls(**fields)


@dataclass
class TrialRecord:
    """What a finished unit wrote (``trials/<key>.json``).

    ``status`` is ``complete``, ``pruned`` or ``failed``.
    """

    key: str
    status: str
    objective: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None
    error: str | None = None
    seconds: float = 0.0
    resumed_from_steps: list[int] = field(default_factory=list)  # every restart that continued from a saved state
    # confirm units with confirm.replicate_intermediate: the seed's own intermediate checkpoint they started from
    replicated_intermediate: str | None = None
    path: str | None = None  # how the unit ran: "local" or "trainer" (raygrid.sweep.ray_backend); None: not known

    def write(self, sweep_dir: Location | Path | str) -> None:
        path = Location.of(sweep_dir) / TRIALS_DIR / f"{self.key}.json"
        path.write_bytes((json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode())

    @classmethod
    def from_results(cls, sweep_dir: Location | Path | str, key: str) -> TrialRecord | None:
        """The record a run's rows carry in their manifest (:data:`RECORD_META`):
        ``None`` when the rows are not done or came from before the record
        travelled with them."""

        results = Location.of(sweep_dir) / RESULTS_DIR
        if not is_done(results, key):
            return None
        meta = json.loads((results / RUNS_DIR / f"{key}.json").read_bytes()).get("meta", {})
        return cls(**meta[RECORD_META]) if RECORD_META in meta else None

    @classmethod
    def read(cls, sweep_dir: Location | Path | str, key: str) -> TrialRecord | None:
        path = Location.of(sweep_dir) / TRIALS_DIR / f"{key}.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return cls(**json.loads(data))


def unit_paths(sweep_dir: Location | Path | str) -> dict[str, int]:
    """How many finished units ran each way (their records' ``path``:
    ``local``, ``trainer``, or ``unknown`` for records that do not say)."""
    trials = Location.of(sweep_dir) / TRIALS_DIR
    counts: dict[str, int] = {}
    for name in trials.names():
        if name.endswith(".json"):
            path = json.loads((trials / name).read_bytes()).get("path") or "unknown"
            counts[path] = counts.get(path, 0) + 1
    return dict(sorted(counts.items()))


class _Finished:
    """The sentinel :meth:`Planner.next_unit` returns once everything is done."""

    def __repr__(self) -> str:
        return "FINISHED"


FINISHED = _Finished()


def _place(trial: optuna.trial.FrozenTrial) -> int:
    """A trial's place in its cell (journals written before places were
    recorded: its number, as then)."""
    place = trial.user_attrs.get(ATTR_INDEX)
    return trial.number if place is None else int(place)


def derived_seed(*parts: object) -> int:
    """A 31-bit seed from any parts (stable across processes and machines)."""
    return int(stable_key({"parts": [str(p) for p in parts]})[:8], 16) & 0x7FFFFFFF


class Planner:
    """Hands out units in dependency order and records their outcomes.

    Args:
        spec: the sweep's spec.
        sweep_dir: the sweep folder (journal, records, checkpoints, results),
            local or on S3.
        read_only: a look at the sweep (``raygrid status``, ``best``): the
            journal is read once into a private in-memory copy; nothing is
            ever written to the sweep folder, and no RUNNING trial is failed
            (a reader cannot know whether a writer still runs it).
    """

    def __init__(
        self,
        spec: SweepSpec,
        sweep_dir: Location | Path | str,
        *,
        read_only: bool = False,
    ) -> None:
        from raygrid.sweep.journal import open_journal

        self.spec = spec
        self.grid: Grid = expand(spec)
        self.sweep_dir = Location.of(sweep_dir)
        self.read_only = read_only
        self.storage = open_journal(self.sweep_dir / JOURNAL, read_only=read_only)
        self._study_names = {s.study_name for s in self.storage.get_all_studies()}
        self._studies: dict[str, optuna.Study] = {}
        self._study_ids: dict[str, int] = {}
        self._issued_confirm: set[str] = set()
        self._reconcile(writer=not read_only)

    # -- studies -----------------------------------------------------------------

    def study(self, cell: Cell) -> optuna.Study:
        import optuna

        if cell.key not in self._studies:
            direction = "maximize" if self.spec.direction is Direction.MAXIMIZE else "minimize"
            pruner = build_pruner(self.spec.early_stopping)
            if cell.key in self._study_names:  # loading appends nothing to the journal
                study = optuna.load_study(study_name=cell.key, storage=self.storage, pruner=pruner)
            else:
                study = optuna.create_study(study_name=cell.key, storage=self.storage, direction=direction, pruner=pruner)
                self._study_names.add(cell.key)
            self._studies[cell.key] = study
        return self._studies[cell.key]

    def _trial_id(self, study: optuna.Study, number: int) -> int:
        """The storage's id of trial ``number`` of ``study``, by Optuna's public
        storage API (a FrozenTrial keeps its id private)."""
        if study.study_name not in self._study_ids:
            self._study_ids[study.study_name] = self.storage.get_study_id_from_name(study.study_name)
        return int(self.storage.get_trial_id_from_study_id_trial_number(self._study_ids[study.study_name], number))

    def _trials(self, cell: Cell) -> list[optuna.trial.FrozenTrial]:
        if cell.key not in self._study_names:  # nothing asked yet (a reader must not create the study)
            return []
        return [t for t in self.study(cell).get_trials(deepcopy=False) if not t.user_attrs.get(ATTR_ORPHANED)]

    def _reconcile(self, *, writer: bool) -> None:
        """At a writer's start: tell Optuna what trial records say finished,
        and fail the other RUNNING trials: every writer starts a fresh Tune
        experiment, so they are orphans of a killed driver (marked orphaned
        and not counted: their places are asked again, same parameters, same
        unit keys, and their Train runs resume from their checkpoints).

        A reader only tells finished trials from their records (in its
        private copy) and fails nothing: it cannot know which RUNNING trials
        a live writer still runs."""
        import optuna

        for cell in self.grid.cells:
            if writer and cell.stage is Stage.CONFIRM and TrialRecord.read(self.sweep_dir, cell.key) is None:
                record = TrialRecord.from_results(self.sweep_dir, cell.key)  # done: its rows are; killed before its record
                if record is not None:
                    record.write(self.sweep_dir)
            if cell.n_trials == 0 or cell.key not in self._study_names:
                continue
            study = self.study(cell)
            for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                unit_key = trial.user_attrs.get(ATTR_UNIT)
                record = TrialRecord.read(self.sweep_dir, unit_key) if unit_key else None
                if record is not None:
                    self._tell(study, trial.number, record)
                elif writer:
                    self.storage.set_trial_user_attr(self._trial_id(study, trial.number), ATTR_ORPHANED, True)
                    study.tell(trial.number, state=optuna.trial.TrialState.FAIL)

    # -- the state of a cell ---------------------------------------------------------

    def _finished(self, cell: Cell) -> list[optuna.trial.FrozenTrial]:
        return [t for t in self._trials(cell) if t.state.is_finished()]

    def _running(self, cell: Cell) -> list[optuna.trial.FrozenTrial]:
        import optuna

        return [t for t in self._trials(cell) if t.state is optuna.trial.TrialState.RUNNING]

    def best_trial(self, cell: Cell) -> optuna.trial.FrozenTrial | None:
        """The cell's best complete trial (ties: the lowest place).

        Ties are common (a small eval set gives few distinct scores) and are
        broken by the trial's place in its cell (``raygrid_index``), never by
        Optuna's trial number: a place a killed driver left is asked again
        under a new number, so the number would make the selected model (and
        the checkpoints kept) depend on whether the sweep was interrupted."""
        import optuna

        complete = [t for t in self._trials(cell) if t.state is optuna.trial.TrialState.COMPLETE]
        if not complete:
            return None
        sign = 1.0 if self.spec.direction is Direction.MAXIMIZE else -1.0
        return max(complete, key=lambda t: (sign * float(t.value), -_place(t)))

    def cell_done(self, cell: Cell) -> bool:
        """All of a cell's work is finished (successfully or not)."""
        if cell.stage is Stage.CONFIRM:
            return is_done(self.sweep_dir / RESULTS_DIR, cell.key) or self._confirm_failed(cell)
        if cell.n_trials == 0:
            return all(self.cell_done(self.grid.by_key[p]) for p in cell.depends_on)
        return len(self._finished(cell)) >= cell.n_trials and not self._running(cell)

    def _confirm_failed(self, cell: Cell) -> bool:
        record = TrialRecord.read(self.sweep_dir, cell.key)
        return record is not None and record.status == "failed"

    def blocked(self, cell: Cell) -> bool:
        """A cell that can never run: a cell it depends on finished without
        producing what it needs (every trial failed)."""
        for parent_key in cell.depends_on:
            parent = self.grid.by_key[parent_key]
            if self.blocked(parent):
                return True
            if self.cell_done(parent) and parent.n_trials > 0 and self.best_trial(parent) is None:
                return True
        return False

    def _parent_checkpoint(self, cell: Cell) -> str | None:
        """The checkpoint a cell's training starts from (``None``: the
        pretrained model); for confirm units, the target cell's parent's."""
        for parent_key in cell.depends_on:
            parent = self.grid.by_key[parent_key]
            if parent.stage is Stage.TARGET:
                return self._parent_checkpoint(parent)
            best = self.best_trial(parent)
            if best is not None:
                return str(best.user_attrs[ATTR_CHECKPOINT])
        return None

    def _ready(self, cell: Cell) -> bool:
        return all(self.cell_done(self.grid.by_key[p]) for p in cell.depends_on) and not self.blocked(cell)

    def finished(self) -> bool:
        """Nothing is left to run: every cell is done or blocked."""
        return all(self.cell_done(cell) or self.blocked(cell) for cell in self.grid.cells)

    def _writer_only(self, what: str) -> None:
        if self.read_only:
            raise RuntimeError(f"Planner.{what}: a read-only planner (a look at the sweep) changes nothing")

    # -- handing out work ---------------------------------------------------------------

    def next_unit(self) -> Unit | None | _Finished:
        """The next unit to run; ``None`` when everything left waits for
        running work; :data:`FINISHED` when nothing is left at all."""
        self._writer_only("next_unit")
        waiting = False
        for cell in self.grid.cells:
            if self.cell_done(cell) or self.blocked(cell):
                continue
            if cell.stage is Stage.CONFIRM:
                if cell.key in self._issued_confirm:
                    waiting = True
                    continue
                if not self._ready(cell):
                    waiting = True
                    continue
                unit = self._confirm_unit(cell)
                if unit is None:
                    continue  # its target cell has no complete trial: blocked
                self._issued_confirm.add(cell.key)
                return unit
            if cell.n_trials == 0:
                waiting = True
                continue
            if not self._ready(cell):
                waiting = True
                continue
            issued = len(self._trials(cell))
            if issued >= cell.n_trials:
                waiting = True  # trials of this cell are still running
                continue
            return self._ask(cell, self._free_place(cell, issued))
        return None if waiting else FINISHED

    def _free_place(self, cell: Cell, issued: int) -> int:
        """The place to ask next: the lowest one no counted trial holds. An
        orphan's place is free again, also when a later place finished
        before the driver was killed (asking place ``issued`` then would
        repeat that later unit and lose the orphan's). Journals written
        before places were recorded: ``issued``, as then."""
        places = [t.user_attrs.get(ATTR_INDEX) for t in self._trials(cell)]
        if any(p is None for p in places):
            return issued
        return min(set(range(cell.n_trials)) - {int(p) for p in places})

    def _space(self, cell: Cell) -> Any:
        assert cell.search_space is not None
        return cell.search_space

    def _ask(self, cell: Cell, index: int) -> Unit:
        study = self.study(cell)
        space = self._space(cell)
        study.sampler = build_sampler(
            self.spec.sampler, seed=derived_seed(self.spec.sampler_seed, cell.key, index), space=space
        )
        trial = study.ask(fixed_distributions=space.to_optuna())
        params = {**space.fixed(), **trial.params}
        key = trial_key(cell.key, index, params)
        trial.set_user_attr(ATTR_UNIT, key)
        trial.set_user_attr(ATTR_INDEX, index)
        trial.set_user_attr(ATTR_CHECKPOINT, str(self.sweep_dir / CHECKPOINTS_DIR / key))
        self._carry_over(study, trial, key)
        return Unit(
            kind=UnitKind.TRIAL,
            key=key,
            cell_key=cell.key,
            trial_number=trial.number,
            params=params,
            parent_checkpoint=self._parent_checkpoint(cell),
            seed=self.spec.seed,
        )

    def _carry_over(self, study: optuna.Study, trial: optuna.Trial, key: str) -> None:
        """The place of an orphan (a unit a killed driver was running) asked
        again runs the same unit, whose Train run resumes from its last
        checkpoint and reports only the evaluations after it: the new trial
        gets the orphan's earlier ones, so the cell's pruner judges it on
        the same values as in an uninterrupted sweep."""
        import optuna

        orphans = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
                   if t.user_attrs.get(ATTR_ORPHANED) and t.user_attrs.get(ATTR_UNIT) == key]  # fmt: skip
        if orphans:  # the last one holds what earlier ones carried over
            for step, value in sorted(orphans[-1].intermediate_values.items()):
                trial.report(value, step)

    def _confirm_unit(self, cell: Cell) -> Unit | None:
        target = self.grid.by_key[cell.depends_on[0]]
        if target.evaluate_only:
            params: dict[str, Any] = {}
        else:
            best = self.best_trial(target)
            if best is None:
                return None
            params = {**self._space(target).fixed(), **best.params}
        return Unit(
            kind=UnitKind.CONFIRM,
            key=cell.key,
            cell_key=cell.key,
            trial_number=None,
            params=params,
            parent_checkpoint=self._parent_checkpoint(cell),
            seed=int(cell.seed or 0),
        )

    # -- outcomes -----------------------------------------------------------------------------

    def report(self, unit: Unit, step: int, value: float) -> bool:
        """Records an intermediate English-dev value; True: prune the trial
        (the cell's Optuna pruner compares it with that cell's trials only)."""
        import optuna

        self._writer_only("report")
        if unit.kind is not UnitKind.TRIAL or unit.trial_number is None:
            return False
        cell = self.grid.by_key[unit.cell_key]
        study = self.study(cell)
        frozen = study.get_trials(deepcopy=False)[unit.trial_number]
        if frozen.state is not optuna.trial.TrialState.RUNNING or not math.isfinite(value):
            return False
        trial = optuna.trial.Trial(study, self._trial_id(study, frozen.number))
        if step not in frozen.intermediate_values:
            trial.report(value, step)
        return bool(trial.should_prune())

    def complete(self, unit: Unit, record: TrialRecord) -> None:
        """Records a unit's outcome; a second outcome for it is ignored."""
        self._writer_only("complete")
        if unit.kind is UnitKind.CONFIRM:
            self._issued_confirm.discard(unit.key)
            return
        cell = self.grid.by_key[unit.cell_key]
        self._tell(self.study(cell), int(unit.trial_number or 0), record)

    def _tell(self, study: optuna.Study, number: int, record: TrialRecord) -> None:
        import optuna

        frozen = study.trials[number] if number < len(study.trials) else None
        if frozen is None or frozen.state.is_finished():
            return
        if record.status == "complete" and record.objective is not None and math.isfinite(record.objective):
            study.tell(number, record.objective)
        elif record.status == "pruned":
            study.tell(number, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)

    def _confirm_in_flight(self, cell: Cell, done: bool) -> bool:
        """A confirm run handed out and not finished: the writer knows; a
        reader sees its Train run's folder (removed when the unit ends)."""
        if cell.key in self._issued_confirm:
            return True
        return self.read_only and cell.stage is Stage.CONFIRM and not done and (self.sweep_dir / TRAIN_DIR / cell.key).is_dir()

    # -- summaries -----------------------------------------------------------------------------

    def progress(self) -> dict[str, Any]:
        """Counts for the progress display and ``raygrid status``."""
        import optuna

        cells: list[dict[str, Any]] = []
        for cell in self.grid.cells:
            entry: dict[str, Any] = {
                "key": cell.key,
                "stage": cell.stage.value,
                "name": cell.name,
                "n_trials": cell.n_trials,
            }
            if cell.n_trials:
                trials = self._trials(cell)
                states = [t.state for t in trials]
                best = self.best_trial(cell)
                entry.update(
                    complete=states.count(optuna.trial.TrialState.COMPLETE),
                    pruned=states.count(optuna.trial.TrialState.PRUNED),
                    failed=states.count(optuna.trial.TrialState.FAIL),
                    running=states.count(optuna.trial.TrialState.RUNNING),
                    best_value=None if best is None else float(best.value),
                    best_params=None if best is None else dict(best.params),
                )
            done, blocked = self.cell_done(cell), self.blocked(cell)
            running = entry.get("running", 0) > 0 or self._confirm_in_flight(cell, done)
            entry["status"] = (
                "blocked" if blocked else "done" if done else "running" if running else "pending"
            )
            cells.append(entry)
        statuses = [c["status"] for c in cells]
        return {
            "cells": cells,
            "done": statuses.count("done"),
            "running": statuses.count("running"),
            "pending": statuses.count("pending"),
            "blocked": statuses.count("blocked"),
            "total": len(cells),
            "trials_running": sum(c.get("running", 0) for c in cells)
            + sum(c["stage"] == Stage.CONFIRM.value and c["status"] == "running" for c in cells),
            "trials_finished": sum(c.get("complete", 0) + c.get("pruned", 0) + c.get("failed", 0) for c in cells),
            "failures": sum(c.get("failed", 0) for c in cells),
        }


__all__ = ["FINISHED", "Planner", "TrialRecord", "Unit", "UnitKind", "derived_seed"]
