"""Which checkpoints a sweep keeps (``checkpoints: {keep: best|all}``), and the deleting.

Every trial writes ``checkpoints/<unit key>/`` (safetensors, the tokenizer,
``raygrid.json``): about 2.2 GB for XLM-R large (560M parameters x 4 bytes),
so ``search_spaces/robustness.yaml``'s 302 units would hold some 660 GB,
most of it never read again. Under ``keep: best`` (the default) the writer
deletes a trial's checkpoint once

- its cell is done: every trial of the cell has finished, so the cell's best
  trial can no longer change;
- it is not that best trial's: an intermediate cell's best is the parent of
  its target cells, a target cell's best is the selected model behind the
  confirm runs;
- it is not the parent checkpoint of a pending or running unit (the
  planner's own rule, :meth:`Planner._parent_checkpoint`, asked about every
  cell that depends on the done cell: a guard, since only best trials are
  ever parents).

Complete, pruned and failed trials are treated alike (a pruned or failed
trial seldom wrote one). Confirm runs' checkpoints are never deleted.

Crash safety: nothing is deleted before the record that proves it is not
needed is written. ``retention/<cell key>.json`` (written whole, atomically)
names the best trial and the checkpoints to delete; then each is deleted,
its marker file (``raygrid.json``: readers test it) first, so a
half-deleted checkpoint is never taken for a complete one; then the record
is rewritten with ``complete: true``. A writer that starts (a new segment,
``raygrid resume``) first re-applies every record that is not complete:
deleting is idempotent, so a kill at any point is finished by the next start.
It re-applies them under either policy (their checkpoints may already be
half deleted), and under ``best`` also decides the done cells that have no
record yet (a kill between a cell's last trial and its record; a folder
started before ``keep`` existed).

Only the sweep's writer (its searcher, :mod:`raygrid.sweep.ray_backend`)
calls this module; ``raygrid status``, ``best`` and ``analyze`` never delete.
No Ray here.

Example:
    >>> planner = Planner(spec, sweep_dir)  # doctest: +SKIP
    >>> resume(planner)  # at the writer's start  # doctest: +SKIP
    >>> retain(planner, unit.cell_key)  # after each finished unit  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from raygrid.faults import fault_point
from raygrid.grid import Cell, Stage
from raygrid.spec import CheckpointKeep
from raygrid.storage import Location
from raygrid.layout import CHECKPOINT_MARKER, CHECKPOINTS_DIR, RETENTION_DIR
from raygrid.sweep.plan import ATTR_UNIT, Planner

_SCHEMA = 1
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRecord:
    """What was decided for one done cell (``retention/<cell key>.json``).

    Attributes:
        cell: the cell's key.
        cell_name: its label (``mnli``, ``mnli -> xnli``), for people.
        best: the unit key of its best trial (kept); ``None``: no trial completed.
        delete: unit keys whose checkpoints are deleted.
        kept_as_parents: unit keys kept only because a pending or running
            unit starts from them.
        complete: every checkpoint in ``delete`` is gone.
    """

    cell: str
    cell_name: str
    best: str | None
    delete: tuple[str, ...]
    kept_as_parents: tuple[str, ...] = ()
    complete: bool = False
    schema: int = _SCHEMA

    def write(self, sweep_dir: Location) -> None:
        data = {**asdict(self), "delete": list(self.delete), "kept_as_parents": list(self.kept_as_parents)}
        path = record_path(sweep_dir, self.cell)
        path.write_bytes((json.dumps(data, indent=2, sort_keys=True) + "\n").encode())

    @classmethod
    def read(cls, sweep_dir: Location, cell_key: str) -> RetentionRecord | None:
        try:
            data = json.loads(record_path(sweep_dir, cell_key).read_bytes())
        except FileNotFoundError:
            return None
        data["delete"] = tuple(data["delete"])
        data["kept_as_parents"] = tuple(data.get("kept_as_parents", ()))
        return cls(**data)


def record_path(sweep_dir: Location, cell_key: str) -> Location:
    return Location.of(sweep_dir) / RETENTION_DIR / f"{cell_key}.json"


def checkpoint_of(sweep_dir: Location, unit_key: str) -> Location:
    """Where a unit's checkpoint lives (by key: the sweep folder may have moved
    since the trial's ``raygrid_checkpoint`` attribute was written)."""
    return Location.of(sweep_dir) / CHECKPOINTS_DIR / unit_key


def delete_checkpoint(where: Location) -> None:
    """Deletes a checkpoint folder, its marker first: a reader never takes
    what is left after a kill for a complete checkpoint. Idempotent."""
    (where / CHECKPOINT_MARKER).remove()
    fault_point("retention.delete")
    where.rmtree()


# -- the rule --------------------------------------------------------------------------------


def _has_trials(cell: Cell) -> bool:
    return cell.stage is not Stage.CONFIRM and cell.n_trials > 0


def decide(planner: Planner, cell: Cell) -> RetentionRecord | None:
    """The record of a done trial cell (``None``: the cell is not done, or has
    no trials of its own; confirm runs keep their checkpoints)."""
    if not _has_trials(cell) or not planner.cell_done(cell):
        return None
    best = planner.best_trial(cell)
    best_key = None if best is None else str(best.user_attrs[ATTR_UNIT])
    # Every trial of the study, orphans of a killed driver included: an
    # orphan asked again has the same unit key as its new trial.
    trials = planner.study(cell).get_trials(deepcopy=False)
    keys = sorted({str(key) for t in trials if (key := t.user_attrs.get(ATTR_UNIT))})
    parents = _parents_in_use(planner, cell)
    doomed = [k for k in keys if k != best_key]
    return RetentionRecord(
        cell=cell.key,
        cell_name=cell.name,
        best=best_key,
        delete=tuple(k for k in doomed if k not in parents),
        kept_as_parents=tuple(k for k in doomed if k in parents),
    )


def _descendants(planner: Planner, cell: Cell) -> Iterator[Cell]:
    seen: set[str] = set()
    stack = list(planner.grid.dependents(cell.key))
    while stack:
        child = stack.pop()
        if child.key not in seen:
            seen.add(child.key)
            yield child
            stack.extend(planner.grid.dependents(child.key))


def _parents_in_use(planner: Planner, cell: Cell) -> set[str]:
    """Unit keys of the checkpoints that pending or running units start from.
    Only cells that depend on ``cell`` (directly, or as a confirm run through
    its target cell) can start from one of its trials."""
    keys: set[str] = set()
    for child in _descendants(planner, cell):
        if planner.cell_done(child) or planner.blocked(child):
            continue
        parent = planner._parent_checkpoint(child)  # the planner's rule, so that the two never disagree
        if parent is not None:
            keys.add(Location.of(parent).name)
    return keys


# -- applying it -----------------------------------------------------------------------------


def apply(planner: Planner, record: RetentionRecord) -> RetentionRecord:
    """Writes the record, deletes its checkpoints, marks it complete. A
    complete record is left alone; an incomplete one is finished."""
    if record.complete:
        return record
    sweep_dir = planner.sweep_dir
    record.write(sweep_dir)  # before any deletion: the proof that they are not needed
    for key in record.delete:
        delete_checkpoint(checkpoint_of(sweep_dir, key))
    done = replace(record, complete=True)
    done.write(sweep_dir)
    return done


def _apply_or_warn(planner: Planner, record: RetentionRecord) -> RetentionRecord:
    """:func:`apply`; a storage error (an S3 hiccup) is logged, not raised:
    the sweep goes on, and the incomplete record is finished at the next start."""
    try:
        return apply(planner, record)
    except OSError as exc:
        _log.warning("raygrid: checkpoint retention of cell %s postponed to the next start: %s", record.cell_name, exc)
        return record


def retain(planner: Planner, cell_key: str) -> RetentionRecord | None:
    """The writer's hook after a unit of ``cell_key`` finished: under
    ``keep: best``, once the cell is done, delete what it no longer needs."""
    if planner.spec.checkpoints.keep is not CheckpointKeep.BEST:
        return None
    cell = planner.grid.by_key[cell_key]
    if not _has_trials(cell):
        return None
    existing = RetentionRecord.read(planner.sweep_dir, cell.key)
    record = existing or decide(planner, cell)
    return None if record is None else _apply_or_warn(planner, record)


def resume(planner: Planner) -> list[RetentionRecord]:
    """The writer's hook at its start: finishes every incomplete record
    (whatever the policy: its checkpoints may be half deleted), then, under
    ``keep: best``, applies the rule to done cells without a record.
    Returns the records applied."""
    sweep_dir = planner.sweep_dir
    recorded = {name.removesuffix(".json") for name in (sweep_dir / RETENTION_DIR).names() if name.endswith(".json")}
    applied: list[RetentionRecord] = []
    for key in sorted(recorded):
        record = RetentionRecord.read(sweep_dir, key)
        if record is not None and not record.complete:
            applied.append(_apply_or_warn(planner, record))
    if planner.spec.checkpoints.keep is CheckpointKeep.BEST:
        for cell in planner.grid.cells:
            if cell.key not in recorded and _has_trials(cell):
                record = decide(planner, cell)
                if record is not None:
                    applied.append(_apply_or_warn(planner, record))
    return applied


__all__ = [
    "CHECKPOINT_MARKER",
    "RETENTION_DIR",
    "RetentionRecord",
    "apply",
    "checkpoint_of",
    "decide",
    "delete_checkpoint",
    "resume",
    "retain",
]
