"""The Optuna journal of a sweep, in a local folder or on S3.

A local sweep uses Optuna's ``JournalFileBackend`` on ``<sweep>/optuna.journal``.
On S3 (no appends, no file locks) the driver, the journal's only writer,
keeps a working copy in the node's cache (:func:`raygrid.storage.working_copy`)
and uploads the whole file after every append: a whole-object PUT, so S3
always holds a complete journal, at most the last append behind after a
``kill -9`` of the driver (the trials that append would have told are told
again from their trial records on resume, see ``Planner._reconcile``).
Opening the journal for writing downloads it first; opening it read-only
(``raygrid status``) works on a separate copy and never uploads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid.faults import fault_point
from raygrid.storage import Location, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def _file_backend(path: Path) -> Any:
    """Optuna's JournalFileBackend, with the fault tests' point before each append."""
    from optuna.storages.journal import JournalFileBackend

    class FileBackend(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            fault_point("journal.append")
            super().append_logs(logs)

    return FileBackend(str(path))


def _mirrored_backend(local: Path, remote: Location, *, upload: bool) -> Any:
    from optuna.storages.journal import BaseJournalBackend

    class MirroredJournalBackend(BaseJournalBackend):
        """A journal file here, its whole content uploaded after each append."""

        def __init__(self) -> None:
            self._file = _file_backend(local)

        def read_logs(self, log_number_from: int) -> Any:
            return self._file.read_logs(log_number_from)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            self._file.append_logs(logs)
            if upload:
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


def open_journal(where: Location, *, read_only: bool = False) -> optuna.storages.JournalStorage:
    """The JournalStorage of the journal file ``where``.

    Args:
        where: ``<sweep>/optuna.journal``, local or on S3.
        read_only: for S3, work on a private copy and never upload (a look
            at a sweep whose driver may be running). Local journals are
            opened as they are.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not where.remote:
        where.parent.mkdir()
        return optuna.storages.JournalStorage(_file_backend(where.local))
    local = working_copy(where)
    if read_only:
        local = local.with_name(f"{local.name}.view")  # replaced whole: concurrent looks read a complete file
    _fetch(where, local)
    return optuna.storages.JournalStorage(_mirrored_backend(local, where, upload=not read_only))


__all__ = ["open_journal"]
