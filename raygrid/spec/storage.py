"""Where a sweep's results go: the syntax of ``storage`` (checked at load)
and, separately, whether a local one can be written (:func:`check_storage`,
the only check that touches the disk)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from raygrid.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.spec.schema import SweepSpec

# Bucket names per the S3 naming rules (3-63 characters, lower case, digits, '.', '-').
_S3_PATTERN = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")


def storage_syntax(storage: str) -> str | None:
    """What is wrong with the syntax of ``storage`` (``None``: nothing): a
    local path, or ``s3://bucket/prefix`` with a valid bucket name."""
    if not storage.strip():
        return "empty"
    if any(ch < " " or ch == "\x7f" for ch in storage):
        return f"{storage!r} holds a control character"
    if "://" in storage:
        if not storage.startswith("s3://"):
            return f"unsupported scheme in {storage!r}"
        if not _S3_PATTERN.fullmatch(storage):
            return f"bad S3 URI {storage!r}"
    return None



def check_storage(spec: SweepSpec) -> None:
    """Checks that the spec's local storage can be written, without leaving
    anything behind: a temporary file is created and removed in the nearest
    existing folder of the path. ``s3://`` storage is only checked for syntax
    (at load).

    Raises:
        ConfigError: the path or one of its parents is a file, or the nearest
            existing folder is not writable.
    """
    storage = spec.storage
    if "://" in storage:
        return

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{spec.source}: storage: {problem}; allowed: a writable local directory or s3://bucket/prefix")

    path = Path(storage).expanduser().absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:  # pragma: no cover - the root always exists
            break
        probe = probe.parent
    if not probe.is_dir():
        raise fail(f"{str(probe)!r} is not a directory, so {storage!r} cannot be created")
    try:
        handle, name = tempfile.mkstemp(prefix=".raygrid-write-check-", dir=probe)
    except OSError as exc:
        raise fail(f"{str(probe)!r} is not writable ({exc.strerror})") from None
    os.close(handle)
    os.unlink(name)



__all__ = ["check_storage", "storage_syntax"]
