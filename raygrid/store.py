"""The results store: one Parquet file per (run, target, language), atomically.

Layout under a results directory::

    results/
      target=<task>/language=<lang>/<run_key>.parquet   rows of one run
      _runs/<run_key>.json                             written last: the run is done

A run is *done* when its manifest exists; row files are written first (each
to a temporary name, then ``os.replace``; on S3 each as one whole object),
so a reader never sees half a file and a killed writer leaves a run that is
simply not done and is redone. A results directory may be local or on S3
(:class:`raygrid.storage.Location`).
The layout is a hive-partitioned pyarrow dataset, readable by pandas, pyarrow
and DuckDB (see docs/results.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from raygrid import SCHEMA_VERSION
from raygrid.storage import Location

Where = Location | Path | str

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





def is_done(results_dir: Where, run_key: str) -> bool:
    """Whether the run's rows are all written."""
    return (Location.of(results_dir) / RUNS_DIR / f"{run_key}.json").is_file()


def write_run(
    results_dir: Where, run_key: str, rows: Sequence[ResultRow], meta: Mapping[str, Any] | None = None
) -> RunManifest:
    """Writes a run's rows, then its manifest. Rows must share ``run_key``
    and be unique by :attr:`ResultRow.key`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Location.of(results_dir)
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
        rel = f"target={task}/language={language}/{run_key}.parquet"
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(records), sink)
        (root / rel).write_bytes(sink.getvalue().to_pybytes())
        files.append(rel)
    manifest = RunManifest(run_key=run_key, files=files, rows=len(rows), meta=dict(meta or {}))
    (root / RUNS_DIR / f"{run_key}.json").write_bytes((json.dumps(asdict(manifest), indent=2) + "\n").encode())
    return manifest


def read_rows(results_dir: Where, *, run_keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows of finished runs (those with a manifest), as dicts."""
    root = Location.of(results_dir)
    wanted = set(run_keys) if run_keys is not None else None
    out: list[dict[str, Any]] = []
    for key in sorted(done_run_keys(root)):
        if wanted is not None and key not in wanted:
            continue
        manifest = json.loads((root / RUNS_DIR / f"{key}.json").read_bytes())
        for rel in manifest["files"]:
            parts = dict(p.split("=", 1) for p in Path(rel).parent.parts)
            for record in _read_table(root / rel).to_pylist():
                out.append({"task": parts["target"], "language": parts["language"], **record})
    return out


# --------------------------------------------------------------------------
# Queries: fast reads of finished runs, through a per-target index.
#
# A sweep writes one small file per (run, target, language); a store of a
# million rows holds tens of thousands of them, and opening each one costs
# more than reading its rows. Readers therefore keep a consolidated copy per
# target, ``_index/target=<task>.parquet`` (rows of the runs that were done
# when it was built, ``task`` and ``language`` as columns). It is a cache:
# written atomically like everything else, ignored by the hive dataset
# (``_``-prefixed), never trusted for a run whose manifest is gone, topped up
# by reading the files of runs finished since it was built. Only the writer
# builds it (:func:`refresh_index`, at the end of a sweep): a query never
# writes to the store it reads (tests/sweep/test_readonly.py).
# --------------------------------------------------------------------------

INDEX_DIR = "_index"
#: The columns of a result row, in order (partition columns included).
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))


def _read_table(where: Location, columns: Sequence[str] | None = None) -> Any:
    """A Parquet file, local or on S3, as a pyarrow table."""
    import pyarrow.parquet as pq

    filesystem, path = where.arrow()
    return pq.read_table(path, filesystem=filesystem, columns=None if columns is None else list(columns))


def done_run_keys(results_dir: Where) -> set[str]:
    """Keys of the finished runs (those with a manifest); cheap: lists names only."""
    names = (Location.of(results_dir) / RUNS_DIR).names()
    return {n[:-5] for n in names if n.endswith(".json") and not n.startswith(".")}


def targets_in(results_dir: Where) -> list[str]:
    """Target partitions present under ``results_dir`` (sorted)."""
    root = Location.of(results_dir)
    return sorted(n.split("=", 1)[1] for n in root.names() if n.startswith("target=") and (root / n).is_dir())


def _row_files(root: Location, target: str, done: set[str]) -> dict[str, list[tuple[str, Location]]]:
    """run_key -> [(language, file)] for the done runs' files of one target."""
    out: dict[str, list[tuple[str, Location]]] = {}
    tdir = root / f"target={target}"
    if root.remote:  # one listing of the whole target, not one per language
        rels = [rel.split("/") for rel in tdir.files()]
        entries = [(parts[0], parts[1]) for parts in rels if len(parts) == 2]
    else:
        entries = [(lang, name) for lang in tdir.names() for name in (tdir / lang).names()]
    for lang_dir, name in entries:
        if lang_dir.startswith("language=") and name.endswith(".parquet") and not name.startswith("."):
            key = name[: -len(".parquet")]
            if key in done:
                out.setdefault(key, []).append((lang_dir.split("=", 1)[1], tdir / lang_dir / name))
    return out


def _read_files(target: str, files: Sequence[tuple[str, Location]]) -> Any:
    """One pyarrow table with ``task`` and ``language`` columns, from row files."""
    import pyarrow as pa

    tables = []
    for language, path in files:
        table = _read_table(path)
        n = table.num_rows
        table = table.append_column("task", pa.array([target] * n, pa.string()))
        tables.append(table.append_column("language", pa.array([language] * n, pa.string())))
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.select([c for c in COLUMNS if c in table.column_names])


def _index_path(root: Location, target: str) -> Location:
    return root / INDEX_DIR / f"target={target}.parquet"


def _target_table(root: Location, target: str, done: set[str], *, use_index: bool, columns: Sequence[str] | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = _row_files(root, target, done)
    index_path = _index_path(root, target)
    indexed = None
    if use_index and index_path.is_file():
        wanted = None if columns is None else sorted({*columns, "run_key"})
        indexed = _read_table(index_path, columns=wanted)
        have = set(indexed.column("run_key").unique().to_pylist())
        if have - done:  # runs whose manifest is gone since the index was built
            indexed = indexed.filter(pc.is_in(indexed.column("run_key"), value_set=pa.array(sorted(done), pa.string())))
            have &= done
    else:
        have = set()
    missing = [item for key, items in files.items() if key not in have for item in items]
    extra = _read_files(target, missing)
    if extra is not None and indexed is not None:
        extra = extra.select([c for c in indexed.column_names if c in extra.column_names])
    parts = [t for t in (indexed, extra) if t is not None and t.num_rows]
    if not parts:
        return None
    return pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]


def read_results(
    results_dir: Where,
    *,
    targets: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    stages: Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    use_index: bool = True,
) -> Any:
    """Rows of finished runs as a pandas DataFrame (columns :data:`COLUMNS`).

    Only runs with a manifest count. ``targets``/``languages``/``stages``
    filter rows; ``columns`` selects columns. Reads go through the per-target
    index (see above) unless ``use_index`` is false.

    Example:
        >>> df = read_results("runs/sweep/results", targets=["xnli"], stages=["confirm"])  # doctest: +SKIP
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    root = Location.of(results_dir)
    done = done_run_keys(root)
    wanted = list(targets) if targets is not None else targets_in(root)
    tables = []
    for target in wanted:
        needed = None if columns is None else [*columns, *(c for c in ("language", "stage") if c not in columns)]
        table = _target_table(root, target, done, use_index=use_index, columns=needed) if done else None
        if table is None:
            continue
        for column, allowed in (("language", languages), ("stage", stages)):
            if allowed is not None:
                table = table.filter(pc.is_in(table.column(column), value_set=pa.array(list(allowed), pa.string())))
        if columns is not None:
            table = table.select(list(columns))
        tables.append(table)
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in (columns or COLUMNS)})
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def refresh_index(results_dir: Where, targets: Iterable[str] | None = None) -> None:
    """Brings the per-target query index up to date (e.g. at the end of a sweep,
    so that the first ``raygrid best`` is as fast as the later ones)."""
    root = Location.of(results_dir)
    done = done_run_keys(root)
    for target in targets if targets is not None else targets_in(root):
        files = _row_files(root, target, done)
        table = _read_files(target, [item for items in files.values() for item in items])
        if table is None:
            continue
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=64_000)
        _index_path(root, target).write_bytes(sink.getvalue().to_pybytes())
