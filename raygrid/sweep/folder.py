"""The spec files of a sweep folder: the spec it runs and the one it started with.

Both the driver (starting and resuming) and the processes it starts (segment
drivers, Train workers) read them, so they live here, below all of those.

Example:
    >>> from raygrid.storage import Location
    >>> started_spec(Location.of("/nonexistent/sweep"))
    Traceback (most recent call last):
    ...
    raygrid.errors.ConfigError: /nonexistent/sweep: not a sweep folder (no readable sweep.json)
"""

from __future__ import annotations

import json

from raygrid.errors import ConfigError
from raygrid.layout import SPEC_FILE, SWEEP_FILE
from raygrid.spec import SweepSpec, load_spec, parse_spec, parse_spec_text
from raygrid.storage import Location


def read_spec_file(where: Location) -> SweepSpec:
    """:func:`raygrid.spec.load_spec` of the spec file raygrid wrote into a
    sweep folder, local or on S3 (fields added since read as they behaved
    then: :func:`raygrid.spec.with_legacy_defaults`)."""
    if not where.remote:
        return load_spec(where.local, written=True)
    try:
        text = where.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file; allowed: a sweep folder's {SPEC_FILE}") from None
    return parse_spec_text(text, source=str(where), written=True)


def started_spec(sweep_dir: Location) -> SweepSpec:
    """The spec a sweep folder was started with (its ``sweep.json``)."""
    meta_path = sweep_dir / SWEEP_FILE
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError):  # ValueError: bad JSON, or not UTF-8
        raise ConfigError(f"{sweep_dir}: not a sweep folder (no readable {SWEEP_FILE})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("spec"), dict):
        raise ConfigError(f"{meta_path}: not a sweep file (no 'spec' mapping); allowed: the {SWEEP_FILE} that `raygrid run` wrote")
    return parse_spec(meta["spec"], source=str(meta_path), written=True)


__all__ = ["read_spec_file", "started_spec"]
