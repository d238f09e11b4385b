"""The results store: one Parquet file per (run, target, language), atomically.

Layout under a results directory::

    results/
      target=<task>/language=<lang>/<run_key>.parquet   rows of one run
      _runs/<run_key>.json                             written last: the run is done

A run is *done* when its manifest exists; row files are written first (each
to a temporary name, then ``os.replace``), so a reader never sees half a file
and a killed writer leaves a run that is simply not done and is redone.
The layout is a hive-partitioned pyarrow dataset, readable by pandas, pyarrow
and DuckDB (see docs/results.md).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raygrid import SCHEMA_VERSION

RUNS_DIR = "_runs"


@dataclass(frozen=True)
class ResultRow:
    """One measured value.

    Key: (run_key, task, language, split, attack, metric).
    """

    run_key: str
    task: str
    language: str
    split: str
    metric: str
    value: float
    attack: str = "none"
    stage: str = "cell"  # cell (raygrid cell) | trial | confirm (sweep stages)
    cell_key: str = ""  # the grid cell the run belongs to (sweeps)
    intermediate: str = "none"
    model: str = ""
    seed: int = 0
    n_examples: int = 0
    checkpoint: str = ""
    config: str = "{}"  # JSON of the hyper-parameters that produced the run
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        return (self.run_key, self.task, self.language, self.split, self.attack, self.metric)


@dataclass
class RunManifest:
    """What a finished run wrote (``_runs/<run_key>.json``)."""

    run_key: str
    files: list[str]
    rows: int
    meta: dict[str, Any] = field(default_factory=dict)
    finished_at: float = field(default_factory=time.time)
    schema_version: int = SCHEMA_VERSION


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_done(results_dir: Path | str, run_key: str) -> bool:
    """Whether the run's rows are all written."""
    return (Path(results_dir) / RUNS_DIR / f"{run_key}.json").is_file()


def write_run(
    results_dir: Path | str, run_key: str, rows: Sequence[ResultRow], meta: Mapping[str, Any] | None = None
) -> RunManifest:
    """Writes a run's rows, then its manifest. Rows must share ``run_key``
    and be unique by :attr:`ResultRow.key`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(results_dir)
    keys = [row.key for row in rows]
    if any(row.run_key != run_key for row in rows):
        raise ValueError("every row of a run must carry its run_key")
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate result rows in run {run_key}")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        record = asdict(row)
        groups.setdefault((record.pop("task"), record.pop("language")), []).append(record)
    files: list[str] = []
    for (task, language), records in sorted(groups.items()):
        rel = Path(f"target={task}") / f"language={language}" / f"{run_key}.parquet"
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(records), sink)
        _atomic_write_bytes(root / rel, sink.getvalue().to_pybytes())
        files.append(rel.as_posix())
    manifest = RunManifest(run_key=run_key, files=files, rows=len(rows), meta=dict(meta or {}))
    _atomic_write_bytes(root / RUNS_DIR / f"{run_key}.json", (json.dumps(asdict(manifest), indent=2) + "\n").encode())
    return manifest


def read_rows(results_dir: Path | str, *, run_keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows of finished runs (those with a manifest), as dicts."""
    import pyarrow.parquet as pq

    root = Path(results_dir)
    wanted = set(run_keys) if run_keys is not None else None
    out: list[dict[str, Any]] = []
    for manifest_path in sorted((root / RUNS_DIR).glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        if wanted is not None and manifest["run_key"] not in wanted:
            continue
        for rel in manifest["files"]:
            parts = dict(p.split("=", 1) for p in Path(rel).parent.parts)
            for record in pq.read_table(root / rel).to_pylist():
                out.append({"task": parts["target"], "language": parts["language"], **record})
    return out
