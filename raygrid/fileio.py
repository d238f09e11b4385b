"""Atomic file writes: a reader sees the old file or the new one, never
half; and the records of a JSON-lines file that is being appended to."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from raygrid.faults import at_write


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary sibling, fsyncs it, renames it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        at_write(path)  # the fault tests' kill between the complete temporary file and the rename
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def output_dir_problem(path: Path | str) -> str | None:
    """Why ``path`` cannot be, or be made, a writable folder (``None``: it
    can). Creates nothing: commands call it before hours of work, so that an
    ``--output`` naming a file fails at once, not when the results are due."""
    target = Path(path).expanduser().absolute()
    probe = target
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        if probe == target:
            return f"{str(target)!r} is a file, not a directory"
        return f"{str(probe)!r} is a file, so {str(target)!r} cannot be created"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{str(probe)!r} is not writable"
    return None


def read_json_lines(path: Path) -> list[dict[str, object]]:
    """The complete JSON lines of ``path`` so far: a line still being
    written (or torn) is skipped; no file reads as none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
