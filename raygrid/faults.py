"""Named fault points: where the fault tests kill a sweep on purpose.

raygrid calls :func:`fault_point` (or :func:`at_write` for a file write) at
the places where a crash is most likely to leave the sweep folder
inconsistent: between a file's fsync'd temporary copy and its rename, before
a journal append, at a segment change, inside a training step. Nothing
happens unless ``RAYGRID_FAULT`` is set; then the process that reaches the
chosen hit of the chosen point dies with SIGKILL, as a machine losing power
would kill it (no ``finally``, no atexit, no flush).

The environment (read once per process; Ray workers inherit it from the
driver that started the cluster):

``RAYGRID_FAULT``
    ``POINT:HIT[:MODE]``, several joined by commas, e.g.
    ``result.manifest:2`` or ``record.write:3,journal.append:20``. MODE is
    ``driver`` (the default: SIGKILL the process group
    ``RAYGRID_FAULT_PGID`` names, i.e. the whole ``raygrid`` command, then
    this process, which may be a Ray worker in another group) or ``self``
    (only this process: a Train worker lost without its node, Train restarts
    it). ``count`` alone counts the hits of every point and kills nothing
    (a reference run: how many hits each point has in a whole sweep).
    A ``driver`` fault counts the hits of the whole sweep; a ``self`` fault
    counts those of each process (``train.step:3:self``: a Train worker
    dies at its own 3rd step), and fires in the first process to get there.
``RAYGRID_FAULT_DIR``
    a folder shared by every process of the sweep (and by its resumes): the
    n-th hit of a point is the one that created ``POINT.n`` there (O_EXCL),
    so "the 2nd manifest written" means the same across processes; each
    fault fires once (``fired.FAULT``, O_EXCL). Without it every process
    counts its own hits and may fire.
``RAYGRID_FAULT_PGID``
    the process group of the ``raygrid`` command (a test starts it with
    ``start_new_session=True``, so its pid). Without it ``driver`` kills
    only this process.

Disarmed, a point costs one call and one cached lookup.
"""

from __future__ import annotations

import functools
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from raygrid.layout import INDEX_DIR, RUNS_DIR, TRIALS_DIR

FAULT_ENV = "RAYGRID_FAULT"
FAULT_DIR_ENV = "RAYGRID_FAULT_DIR"
FAULT_PGID_ENV = "RAYGRID_FAULT_PGID"
COUNT_ONLY = "count"

#: Every fault point, with where it is. A test fails if one is never reached.
POINTS: dict[str, str] = {
    "record.write": "a trial record trials/<key>.json, written but not yet renamed into place",
    "result.rows": "a run's Parquet row file results/target=.../<key>.parquet, not yet in place",
    "result.manifest": "a run's manifest results/_runs/<key>.json (the run's 'done' mark), not yet in place",
    "journal.append": "an Optuna journal append, not yet written",
    "checkpoint.write": "a unit's checkpoint, saved to its temporary folder, not yet renamed into place",
    "checkpoint.delete": "a finished unit's resume states (train/<key>), about to be removed",
    "retention.delete": "a trial checkpoint that retention deletes: its marker removed, its files not yet",
    "segment.change": "between two segments: the drained experiment's tune/ removed, the next not started",
    "train.step": "an optimizer step taken in a Train worker",
    "file.write": "any other file written atomically (spec, sweep.json, result index, ...)",
}
MODES = ("driver", "self")


@dataclass(frozen=True)
class Fault:
    """Kill at the ``hit``-th time ``point`` is reached (1-based)."""

    point: str
    hit: int
    mode: str = "driver"

    def __str__(self) -> str:
        return f"{self.point}:{self.hit}" + ("" if self.mode == "driver" else f":{self.mode}")


def parse_faults(text: str) -> tuple[Fault, ...]:
    """``"record.write:2,train.step:5:self"`` -> its faults; ValueError names a bad one."""
    faults = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        point, _, rest = item.partition(":")
        hit, _, mode = rest.partition(":")
        if point not in POINTS:
            raise ValueError(f"{FAULT_ENV}: unknown fault point {point!r} in {item!r}; allowed: {', '.join(POINTS)}")
        if not hit.isdigit() or int(hit) < 1:
            raise ValueError(f"{FAULT_ENV}: {item!r}: the hit must be an integer >= 1")
        if (mode or "driver") not in MODES:
            raise ValueError(f"{FAULT_ENV}: {item!r}: mode {mode!r}; allowed: {', '.join(MODES)}")
        faults.append(Fault(point, int(hit), mode or "driver"))
    return tuple(faults)


@dataclass(frozen=True)
class _Armed:
    count_all: bool
    by_point: dict[str, tuple[Fault, ...]]


@functools.cache
def _armed() -> _Armed | None:
    text = os.environ.get(FAULT_ENV, "").strip()
    if not text:
        return None
    if text == COUNT_ONLY:
        return _Armed(True, {})
    by_point: dict[str, list[Fault]] = {}
    for fault in parse_faults(text):
        by_point.setdefault(fault.point, []).append(fault)
    return _Armed(False, {point: tuple(faults) for point, faults in by_point.items()})


def fault_point(point: str) -> None:
    """Reached ``point``: dies here if the armed fault says so."""
    armed = _armed()
    if armed is None:
        return
    faults = armed.by_point.get(point, ())
    if not faults and not armed.count_all:
        return
    folder = os.environ.get(FAULT_DIR_ENV)
    own = _own_hits[point] = _own_hits.get(point, 0) + 1
    for fault in faults:
        if fault.mode == "self" and fault.hit == own:
            _fire(fault, folder)
    shared = [f for f in faults if f.mode == "driver"]
    if folder and not armed.count_all and all(os.path.exists(_hit_file(folder, point, f.hit)) for f in shared):
        return  # every sweep-wide fault of this point is past: stop counting
    hit = _next_hit(point, folder) if folder else own
    for fault in shared:
        if fault.hit == hit:
            _fire(fault, folder)


def at_write(path: str | os.PathLike[str]) -> None:
    """The fault point of a file write, named after what the file is."""
    if _armed() is not None:
        fault_point(write_point(str(path)))


def write_point(path: str) -> str:
    """The fault point of writing ``path``: its folder in the sweep's layout."""
    parts = Path(path).parts
    if len(parts) >= 2 and parts[-2] == TRIALS_DIR and path.endswith(".json"):
        return "record.write"
    if len(parts) >= 2 and parts[-2] == RUNS_DIR:
        return "result.manifest"
    if path.endswith(".parquet") and INDEX_DIR not in parts:
        return "result.rows"
    return "file.write"


_own_hits: dict[str, int] = {}  # per point: hits in this process
_shared_seen: dict[str, int] = {}  # per point: the last sweep-wide hit this process took (hits only grow)


def _hit_file(folder: str, point: str, hit: int) -> str:
    return os.path.join(folder, f"{point}.{hit}")


def _next_hit(point: str, folder: str) -> int:
    """The sweep-wide number of this hit: the first ``POINT.n`` this process creates."""
    os.makedirs(folder, exist_ok=True)
    hit = _shared_seen.get(point, 0) + 1
    while True:
        try:
            fd = os.open(_hit_file(folder, point, hit), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            hit += 1
            continue
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        _shared_seen[point] = hit
        return hit


def _fire(fault: Fault, folder: str | None) -> None:
    """SIGKILL, once per sweep for each fault: the ``fired.`` marker (O_EXCL)
    also tells the campaign that its fault happened, and in which process."""
    if folder:
        try:
            fd = os.open(os.path.join(folder, f"fired.{fault}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return  # another process (a Train worker of another unit, an earlier run) fired it
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        os.close(fd)
    group = os.environ.get(FAULT_PGID_ENV)
    if fault.mode == "driver" and group:
        try:
            os.killpg(int(group), signal.SIGKILL)  # kills this process too when it is in the group
        except ProcessLookupError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def fired(folder: str | os.PathLike[str]) -> list[str]:
    """The faults that fired in a sweep whose ``RAYGRID_FAULT_DIR`` was ``folder``."""
    return sorted(p.name.removeprefix("fired.") for p in Path(folder).glob("fired.*"))


def hits(folder: str | os.PathLike[str]) -> dict[str, int]:
    """How many times each point was reached (a ``count`` run's folder)."""
    out: dict[str, int] = {}
    for p in Path(folder).iterdir():
        point, _, n = p.name.rpartition(".")
        if point in POINTS and n.isdigit():
            out[point] = max(out.get(point, 0), int(n))
    return out


__all__ = ["COUNT_ONLY", "FAULT_DIR_ENV", "FAULT_ENV", "FAULT_PGID_ENV", "POINTS", "Fault", "at_write", "fault_point",
           "fired", "hits", "parse_faults", "write_point"]  # fmt: skip
