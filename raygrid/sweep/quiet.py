"""Ray's output to the sweep's log file; raygrid's progress on the terminal.

``raygrid run`` and ``raygrid resume`` are quiet by default: whatever the
run's processes print (Ray core's "Connecting to existing Ray cluster" and
"Started a local Ray instance" lines, the raylet's worker-count warnings that
Ray pushes to every driver, the token-authentication notice, Tune's
configuration box and status tables, Train's deprecation notices, C++ log
lines, Python warnings) goes to the sweep's log file, :func:`log_path`
(``<sweep>/logs/ray.log`` for a local sweep). raygrid's own lines (the
progress line, the lease's notices) go to :func:`terminal`. ``--verbose``
redirects nothing: every line reaches the terminal as before.

How: the supervisor points its file descriptors 1 and 2 at the log
(``dup2``), and ``sys.stdout`` / ``sys.stderr`` at those descriptors, so
Ray's Python loggers (they write to whatever ``sys.stderr`` is at emit
time), Tune's printed tables and the C++ core worker's lines all land
there, and so does everything of the segment processes, which inherit
them. The terminal stays reachable through a saved copy of descriptor 2:
:func:`terminal` in the supervisor, and in a segment process the descriptor
it is handed (``--terminal-fd``, :func:`use_terminal`).

The log is opened only once the run holds the sweep's writer lease (it is
the writer's file, like everything else it writes in the folder); what Ray
prints before that (starting or joining the cluster, which is checked
before anything is written) waits in a scratch file and is copied in
first. Readers (``raygrid status``, ``best``, ``analyze``) never open it.
A sweep on S3 keeps its log on the machine that runs it (:func:`log_path`).

Example:
    >>> import sys
    >>> terminal() is sys.stderr  # nothing redirected
    True
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, TextIO

from raygrid.errors import RaygridError
from raygrid.layout import LOG_DIR, LOG_FILE
from raygrid.storage import Location

_terminal: TextIO | None = None  # raygrid's terminal while the process's output goes to a log
_terminal_fd: int | None = None
_log: Path | None = None


def terminal() -> TextIO:
    """Where raygrid's own lines go: the terminal (``sys.stderr`` when
    nothing is redirected)."""
    return _terminal if _terminal is not None else sys.stderr


class TerminalStream:
    """A file-like handle on :func:`terminal`, resolved at each write, that
    pickles (Tune pickles its callbacks, the progress line's among them; an
    open terminal file does not pickle)."""

    def write(self, text: str) -> int:
        return terminal().write(text)

    def flush(self) -> None:
        terminal().flush()


#: Where the progress line is printed: the terminal, whatever the process's stdout and stderr are.
TERMINAL = TerminalStream()


def say(message: str) -> None:
    """``[raygrid] message`` on the terminal (the lease's notices use it)."""
    print(f"[raygrid] {message}", file=terminal(), flush=True)


def terminal_fd() -> int | None:
    """The terminal's descriptor to hand a segment process while Ray's
    output is redirected; ``None`` when nothing is (``--verbose``)."""
    return _terminal_fd


def current_log() -> Path | None:
    """The log file the process's output goes to now, if any."""
    return _log


def use_terminal(fd: int) -> None:
    """In a segment process: raygrid's lines go to ``fd`` (the supervisor's
    terminal), its descriptors 1 and 2 being the supervisor's log already."""
    global _terminal, _terminal_fd
    _terminal = os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="replace")
    _terminal_fd = fd


def log_path(sweep_dir: Location) -> Path:
    """``<sweep>/logs/ray.log`` for a local sweep; for an ``s3://`` one a
    local file named after it under the temporary folder (a log is appended
    line by line, which S3 objects cannot be)."""
    if not sweep_dir.remote:
        return sweep_dir.local / LOG_DIR / LOG_FILE
    digest = hashlib.sha256(sweep_dir.uri.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "raygrid-logs" / f"{sweep_dir.name}-{digest}" / LOG_FILE


class RayOutput:
    """A context: this process's descriptors 1 and 2 (and so its children's)
    go to a scratch file, then to the log of :meth:`to_file`; raygrid's lines
    to :func:`terminal`. Leaving it restores both descriptors. Without
    descriptors to redirect (a process without stdout/stderr) it does nothing.

    An exception that is not a raygrid error (one line, bad input) raised
    before :meth:`to_file` shows what Ray printed on the terminal: a failed
    start is then not silent.
    """

    def __init__(self) -> None:
        self._saved: tuple[int, int] | None = None
        self._scratch: IO[bytes] | None = None
        self._streams: tuple[TextIO, TextIO] | None = None

    def __enter__(self) -> RayOutput:
        global _terminal, _terminal_fd
        _flush()
        try:
            saved = (os.dup(1), os.dup(2))
        except OSError:
            return self
        self._saved = saved
        self._scratch = tempfile.TemporaryFile(prefix="raygrid-ray-")  # noqa: SIM115 - closed in to_file / __exit__
        self._point_at(self._scratch.fileno())
        # Python's own streams onto the descriptors too: where sys.stdout and
        # sys.stderr are not plain files over 1 and 2 (a notebook, pytest),
        # Ray's loggers and prints would miss the redirection.
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = (open(fd, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
                                  for fd in (1, 2))  # fmt: skip
        _terminal_fd = os.dup(saved[1])
        _terminal = os.fdopen(_terminal_fd, "w", buffering=1, encoding="utf-8", errors="replace")
        return self

    def to_file(self, path: Path) -> Path:
        """From now on into ``path`` (appended; its folder created), after
        what was printed so far."""
        global _log
        if self._saved is None:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        _flush()
        with open(path, "ab") as log:
            if self._scratch is not None:
                self._scratch.seek(0)
                log.write(self._scratch.read())
                self._scratch.close()
                self._scratch = None
            log.flush()
            self._point_at(log.fileno())
        _log = path
        return path

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _terminal, _terminal_fd, _log
        if self._saved is None:
            return
        _flush()
        if self._streams is not None:  # ours stay open: a handler made meanwhile (import ray) may hold one
            sys.stdout, sys.stderr = self._streams
            self._streams = None
        for target, fd in zip((1, 2), self._saved):
            os.dup2(fd, target)
            os.close(fd)
        self._saved = None
        if _terminal is not None:
            _terminal.close()
        _terminal, _terminal_fd, _log = None, None, None
        if self._scratch is not None:
            if kind is not None and not issubclass(kind, (RaygridError, KeyboardInterrupt)):
                self._scratch.seek(0)
                sys.stderr.write(self._scratch.read().decode("utf-8", errors="replace"))
                sys.stderr.flush()
            self._scratch.close()
            self._scratch = None

    @staticmethod
    def _point_at(fd: int) -> None:
        _flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):  # closed or missing
            pass


__all__ = ["LOG_DIR", "LOG_FILE", "TERMINAL", "RayOutput", "TerminalStream", "current_log", "log_path", "say", "terminal", "terminal_fd", "use_terminal"]
