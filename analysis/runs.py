"""Which confirm runs a sweep planned, and which of them failed or are missing.

Reads the sweep folder only (``sweep.json``'s spec expanded into its grid,
``trials/<key>.json`` records, ``results/_runs`` manifests); writes nothing.
A folder without a readable ``sweep.json`` (a copy of ``results/`` alone, a
synthetic folder) gives ``None``: the report then lists only the holes it
sees in the rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = ["target", "intermediate", "seed", "run_key", "status", "error"]


def confirm_runs(sweep_dir: Path | str) -> pd.DataFrame | None:
    """One row per planned confirm run: ``status`` is ``done``, ``failed``
    (with the record's error) or ``missing`` (not finished: still to run, or
    the sweep stopped); ``None`` when the folder has no readable spec."""
    from raygrid.errors import ConfigError
    from raygrid.grid import expand
    from raygrid.layout import RESULTS_DIR, TRIALS_DIR
    from raygrid.spec import Stage
    from raygrid.storage import Location
    from raygrid.store import done_run_keys
    from raygrid.sweep.folder import started_spec

    root = Location.of(sweep_dir)
    try:
        spec = started_spec(root)
    except (ConfigError, OSError, ValueError):
        return None
    done = done_run_keys(root / RESULTS_DIR)
    records = []
    for cell in expand(spec).cells:
        if cell.stage is not Stage.CONFIRM:
            continue
        status, error = ("done", "") if cell.key in done else ("missing", "")
        if status == "missing":
            record = root / TRIALS_DIR / f"{cell.key}.json"
            if record.is_file():
                try:
                    data = json.loads(record.read_bytes())
                except ValueError:
                    data = {}
                if data.get("status") == "failed":
                    status, error = "failed", str(data.get("error") or "")
        records.append(
            {"target": cell.target, "intermediate": cell.intermediate, "seed": cell.seed, "run_key": cell.key,
             "status": status, "error": error}
        )  # fmt: skip
    return pd.DataFrame(records, columns=COLUMNS)


__all__ = ["COLUMNS", "confirm_runs"]
