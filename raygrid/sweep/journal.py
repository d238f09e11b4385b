"""The Optuna journal of a sweep, in a local folder or on S3.

One writer, any number of readers:

- **The writer** (the driver that holds the sweep's lease) uses Optuna's
  ``JournalFileBackend`` on ``<sweep>/optuna.journal``. On S3 (no appends, no
  file locks) it keeps a working copy in the node's cache
  (:func:`raygrid.storage.working_copy`) and uploads the whole file after
  every append: a whole-object PUT, so S3 always holds a complete journal, at
  most the last append behind after a ``kill -9`` of the driver (the trials
  that append would have told are told again from their trial records on
  resume, see ``Planner._reconcile``). Before its first append the writer
  repairs a torn journal (:func:`repair`): a driver killed inside an append
  can leave a last line without its newline, and Optuna would append the
  next record onto it, after which every read fails.
- **A reader** (``raygrid status``, ``best``, the progress of another
  process) never writes: :func:`open_journal` with ``read_only=True`` reads
  the journal's bytes once into memory (:class:`SnapshotBackend`) and
  everything the planner does on it (telling trials from their records)
  stays in that copy. No lock file, no ``create study`` line, no upload.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid.errors import DataError
from raygrid.faults import fault_point
from raygrid.storage import Location, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import optuna

log = logging.getLogger(__name__)

#: How every Optuna journal record starts (``json.dumps(..., separators=(",", ":"))``
#: of a dict whose first key is ``op_code``); used to find a whole record
#: that was appended onto a torn one.
_RECORD_START = b'{"op_code":'


def parse_journal(data: bytes, *, source: str) -> tuple[list[dict[str, Any]], int]:
    """The records of a journal's bytes, and how many damaged bytes were dropped.

    A last line without its newline is an append that never finished (a
    kill, or a writer still writing): it is dropped. A line that is not JSON
    is a torn record with a whole one appended after it (what an older
    raygrid's ``status`` could cause): the whole record at its end is kept,
    the torn start dropped. Anything else unreadable is a one-line
    :class:`~raygrid.errors.DataError`.
    """
    records: list[dict[str, Any]] = []
    dropped = 0
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with its newline
    dropped += len(tail)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            dropped += len(line) + 1
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record, lost = _recover(line)
            if record is None:
                raise DataError(
                    f"{source}: line {number} is not an Optuna journal record ({line[:60]!r}...); "
                    "allowed: JSON lines written by Optuna (restore the file from a backup, or start the sweep anew)"
                ) from None
            dropped += lost
        if not isinstance(record, dict) or "op_code" not in record:
            raise DataError(f"{source}: line {number} is JSON but not an Optuna journal record; allowed: Optuna's records")
        records.append(record)
    return records, dropped


def _recover(line: bytes) -> tuple[dict[str, Any] | None, int]:
    """The whole record at the end of a torn line, and the bytes before it."""
    start = line.rfind(_RECORD_START)
    while start > 0:
        try:
            record = json.loads(line[start:])
        except ValueError:
            start = line.rfind(_RECORD_START, 0, start)
            continue
        return (record if isinstance(record, dict) else None), start
    return None, len(line)


def _render(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode("utf-8") + b"\n" for r in records)


def repair(path: Path) -> int:
    """Makes a local journal file whole again; returns the bytes dropped (0: it was whole).

    Only the writer calls it, before its first append. The repaired file
    replaces the old one atomically; the damaged original is kept beside it
    as ``<name>.torn-<size>`` so nothing is lost without a trace.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    if not data or (data.endswith(b"\n") and _all_json(data)):
        return 0
    records, dropped = parse_journal(data, source=str(path))
    backup = path.with_name(f"{path.name}.torn-{len(data)}")
    backup.write_bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_render(records))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    log.warning("%s: repaired a torn journal: dropped %d damaged byte(s), kept %d record(s); original in %s",
                path, dropped, len(records), backup.name)  # fmt: skip
    return dropped


def _all_json(data: bytes) -> bool:
    """Whether every line parses (cheap enough: journals are a few MB at most)."""
    try:
        for line in data.splitlines():
            if line.strip():
                json.loads(line)
    except ValueError:
        return False
    return True


def _snapshot_backend(records: list[dict[str, Any]]) -> Any:
    from optuna.storages.journal import BaseJournalBackend

    class SnapshotBackend(BaseJournalBackend):
        """A journal read once into memory: appends stay in memory."""

        def __init__(self) -> None:
            self._logs = records

        def read_logs(self, log_number_from: int) -> Any:
            return list(self._logs[log_number_from:])

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            self._logs.extend(json.loads(json.dumps(logs)))  # as a file round trip would give them back

    return SnapshotBackend()


def _file_backend(path: Path) -> Any:
    """Optuna's JournalFileBackend, with the fault tests' point before each append."""
    from optuna.storages.journal import JournalFileBackend

    class FileBackend(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            fault_point("journal.append")
            super().append_logs(logs)

    return FileBackend(str(path))


def _mirrored_backend(local: Path, remote: Location) -> Any:
    from optuna.storages.journal import BaseJournalBackend

    class MirroredJournalBackend(BaseJournalBackend):
        """A journal file here, its whole content uploaded after each append."""

        def __init__(self) -> None:
            self._file = _file_backend(local)

        def read_logs(self, log_number_from: int) -> Any:
            return self._file.read_logs(log_number_from)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            self._file.append_logs(logs)
            remote.write_bytes(local.read_bytes())

    return MirroredJournalBackend()


def _fetch(remote: Location, local: Path) -> None:
    """``local`` := the remote journal (empty if there is none yet), replaced atomically."""
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = remote.read_bytes()
    except FileNotFoundError:
        data = b""
    fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", dir=local.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, local)


def read_snapshot(where: Location) -> list[dict[str, Any]]:
    """The journal's records as they are now (none if there is no journal)."""
    try:
        data = where.read_bytes()
    except FileNotFoundError:
        return []
    return parse_journal(data, source=str(where))[0]


def open_journal(where: Location, *, read_only: bool = False) -> optuna.storages.JournalStorage:
    """The JournalStorage of the journal file ``where``.

    Args:
        where: ``<sweep>/optuna.journal``, local or on S3.
        read_only: a look at a sweep whose writer may be running: the journal
            is read once into memory and nothing is ever written back
            (locally or on S3). Otherwise the caller is the sweep's one
            writer: a torn journal is repaired first.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if read_only:
        return optuna.storages.JournalStorage(_snapshot_backend(read_snapshot(where)))
    if not where.remote:
        where.parent.mkdir()
        repair(where.local)
        return optuna.storages.JournalStorage(_file_backend(where.local))
    local = working_copy(where)
    _fetch(where, local)
    if repair(local):
        where.write_bytes(local.read_bytes())
    return optuna.storages.JournalStorage(_mirrored_backend(local, where))


__all__ = ["open_journal", "parse_journal", "read_snapshot", "repair"]
