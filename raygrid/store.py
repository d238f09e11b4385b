"""The results store: one Parquet file per (run, target, language), atomically.

Layout under a results directory::

    results/
      target=<task>/language=<lang>/<run_key>.parquet   rows of one run
      _runs/<run_key>.json                             written last: the run is done

Per-example outcome rows (:mod:`raygrid.outcomes`) of a run go to
``results/_examples/target=<task>/language=<lang>/<run_key>.parquet``, written
with its row files, before its manifest, which lists them too.

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
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from raygrid.errors import DataError
from raygrid.layout import INDEX_DIR, RUNS_DIR
from raygrid.outcomes import EXAMPLE_COLUMNS, EXAMPLE_FRAME_COLUMNS, EXAMPLES_DIR, example_schema
from raygrid.storage import Location
from raygrid.version import SCHEMA_VERSION

Where = Location | Path | str



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
    #: Its per-example files (``_examples/target=.../language=.../<run_key>.parquet``);
    #: absent from manifests written before they existed.
    examples: list[str] = field(default_factory=list)
    example_rows: int = 0





#: What a reader's error says to do about a damaged run.
REPAIR_HINT = "`raygrid resume DIR` redoes the run (a `raygrid cell` run: run the same command again)"


def is_done(results_dir: Where, run_key: str) -> bool:
    """Whether the run's rows are all written: its manifest is readable and
    every row file it lists exists. A run whose files were deleted or whose
    manifest is torn is not done, so the writer redoes it. An existence check
    only (one stat per file): a row file that exists but is damaged is found
    by the readers, which then say to redo the run."""
    root = Location.of(results_dir)
    try:
        manifest = _manifest(root, run_key)
        files = _manifest_files(root, run_key, manifest)
        examples = _manifest_examples(root, run_key, manifest)
    except DataError:
        return False
    return all((root / rel).is_file() for rel in [*files, *examples])


def _manifest_files(root: Location, run_key: str, manifest: Mapping[str, Any] | None = None) -> list[str]:
    """The row files a run's manifest (``manifest``: read already) lists.

    Raises:
        DataError: the manifest is missing, unreadable or not a manifest.
    """
    files = (manifest if manifest is not None else _manifest(root, run_key)).get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) and _is_row_file(f) for f in files):
        raise DataError(f"{root / RUNS_DIR / f'{run_key}.json'}: not a run manifest (no list of row files); {REPAIR_HINT}")
    return files


def _manifest_examples(root: Location, run_key: str, manifest: Mapping[str, Any] | None = None) -> list[str]:
    """The per-example files a run's manifest (``manifest``: read already)
    lists (none in a manifest written before they existed).

    Raises:
        DataError: the manifest is missing, unreadable or its ``examples``
            is not a list of example files.
    """
    examples = (manifest if manifest is not None else _manifest(root, run_key)).get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(f, str) and _is_example_file(f) for f in examples):
        raise DataError(f"{root / RUNS_DIR / f'{run_key}.json'}: `examples` is not a list of example files; {REPAIR_HINT}")
    return examples


def _manifest(root: Location, run_key: str) -> dict[str, Any]:
    """A run's manifest as a dict.

    Raises:
        DataError: the manifest is missing, unreadable or not a JSON object.
    """
    path = root / RUNS_DIR / f"{run_key}.json"
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise DataError(f"{path}: no such manifest; {REPAIR_HINT}") from None
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
        raise DataError(f"{path}: unreadable run manifest ({type(exc).__name__}); {REPAIR_HINT}") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: not a run manifest (no list of row files); {REPAIR_HINT}")
    return manifest


def _is_row_file(rel: str) -> bool:
    parts = rel.split("/")
    return (
        len(parts) == 3
        and parts[0].startswith("target=")
        and parts[1].startswith("language=")
        and parts[2].endswith(".parquet")
    )


def _is_example_file(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 4 and parts[0] == EXAMPLES_DIR and _is_row_file("/".join(parts[1:]))


def write_run(
    results_dir: Where,
    run_key: str,
    rows: Sequence[ResultRow],
    meta: Mapping[str, Any] | None = None,
    examples: Any = None,
) -> RunManifest:
    """Writes a run's rows and per-example rows, then its manifest. Rows must
    share ``run_key`` and be unique by :attr:`ResultRow.key`.

    ``examples`` (a pandas DataFrame: the columns of
    :data:`raygrid.outcomes.EXAMPLE_COLUMNS` plus ``task`` and ``language``;
    ``None``: none) is written one file per (task, language) under
    ``_examples/``, each atomically, before the manifest that lists them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Location.of(results_dir)
    example_files, example_rows = _write_examples(root, run_key, examples)
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
    manifest = RunManifest(
        run_key=run_key, files=files, rows=len(rows), meta=dict(meta or {}), examples=example_files, example_rows=example_rows
    )
    (root / RUNS_DIR / f"{run_key}.json").write_bytes((json.dumps(asdict(manifest), indent=2) + "\n").encode())
    return manifest


def _write_examples(root: Location, run_key: str, examples: Any) -> tuple[list[str], int]:
    """Writes a run's per-example rows, one zstd Parquet file per (task,
    language); returns the files (relative to ``root``) and the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if examples is None or len(examples) == 0:
        return [], 0
    missing = [c for c in (*EXAMPLE_COLUMNS, "task", "language") if c not in examples.columns]
    if missing:
        raise ValueError(f"per-example rows of run {run_key} lack column(s) {', '.join(missing)}")
    if (examples["run_key"] != run_key).any():
        raise ValueError("every per-example row of a run must carry its run_key")
    schema = example_schema()
    files: list[str] = []
    for (task, language), group in sorted(examples.groupby(["task", "language"], sort=False), key=lambda g: g[0]):
        rel = f"{EXAMPLES_DIR}/target={task}/language={language}/{run_key}.parquet"
        table = pa.Table.from_pandas(group[list(EXAMPLE_COLUMNS)], schema=schema, preserve_index=False)
        table = table.replace_schema_metadata(None)  # the schema is the contract's: no pandas metadata
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        (root / rel).write_bytes(sink.getvalue().to_pybytes())
        files.append(rel)
    return files, len(examples)


def has_examples(results_dir: Where) -> bool:
    """Whether any finished run of ``results_dir`` wrote per-example rows
    (a sweep folder from before them has none)."""
    root = Location.of(results_dir)
    if not (root / EXAMPLES_DIR).names():
        return False
    return any(_manifest_examples_or_none(root, key) for key in sorted(done_run_keys(root)))


def _manifest_examples_or_none(root: Location, run_key: str) -> list[str]:
    try:
        return _manifest_examples(root, run_key)
    except DataError:
        return []


def read_examples(
    results_dir: Where,
    targets: Iterable[str] | None = None,
    stages: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    categorical: bool = False,
) -> Any:
    """Per-example rows of finished runs as a pandas DataFrame (columns
    :data:`raygrid.outcomes.EXAMPLE_FRAME_COLUMNS`, or ``columns``).

    Only the example files that the manifests of done runs list are read (a
    run without its manifest is invisible, as in :func:`read_results`);
    ``targets``/``languages``/``stages`` filter rows. Never writes. An empty
    frame with the right columns when there are none (a sweep folder from
    before per-example rows). ``categorical``: text columns as pandas
    categoricals (dictionary-encoded as in the files), for reads of millions
    of rows: less than half the memory (docs/results.md, "Sizes").

    Raises:
        DataError: a manifest is unreadable, or a file it lists is missing
            or damaged.

    Example:
        >>> df = read_examples("runs/sweep/results", targets=["xnli"], languages=["de"])  # doctest: +SKIP
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    root = Location.of(results_dir)
    wanted_columns = list(columns) if columns is not None else list(EXAMPLE_FRAME_COLUMNS)
    unknown_columns = [c for c in wanted_columns if c not in EXAMPLE_FRAME_COLUMNS]
    if unknown_columns:
        raise ValueError(f"unknown per-example column(s) {', '.join(unknown_columns)}; allowed: {', '.join(EXAMPLE_FRAME_COLUMNS)}")
    target_set = None if targets is None else set(targets)
    language_set = None if languages is None else set(languages)
    paths: list[Location] = []
    for key in sorted(done_run_keys(root)):
        for rel in _manifest_examples(root, key):
            _, target, language, _ = (p.split("=", 1)[-1] for p in rel.split("/"))
            if (target_set is None or target in target_set) and (language_set is None or language in language_set):
                paths.append(root / rel)
    schema = example_schema(partitions=True)
    text = [c for c in wanted_columns if schema.field(c).type == pa.string()]
    if not paths:
        empty = schema.empty_table().select(wanted_columns)
        return _to_pandas(_dictionary_encoded(empty, text) if categorical else empty)
    filesystem, base = (root / EXAMPLES_DIR).arrow()
    partitioning = ds.partitioning(pa.schema([("target", pa.string()), ("language", pa.string())]), flavor="hive")
    read_columns = [{"task": "target"}.get(c, c) for c in wanted_columns]
    fmt = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=[c for c in text if c in EXAMPLE_COLUMNS] if categorical else [])
    )
    try:
        dataset = ds.dataset(
            [p.arrow()[1] for p in paths], format=fmt, filesystem=filesystem,
            partitioning=partitioning, partition_base_dir=base,
        )  # fmt: skip
        condition = None if stages is None else ds.field("stage").isin(list(stages))
        table = dataset.to_table(columns=read_columns, filter=condition)
    except FileNotFoundError:
        gone = next((p for p in paths if not p.is_file()), paths[0])
        raise DataError(f"{gone}: example file of a finished run is missing; {REPAIR_HINT}") from None
    except (pa.ArrowException, OSError) as exc:
        problem = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{root / EXAMPLES_DIR}: damaged example file ({problem}); {REPAIR_HINT}") from None
    table = table.rename_columns(wanted_columns)
    if categorical:  # the partition keys come as plain text
        table = _dictionary_encoded(table, [c for c in ("task", "language") if c in text])
    return _to_pandas(table)


def _dictionary_encoded(table: Any, columns: Sequence[str]) -> Any:
    for name in columns:
        column = table.column(name)
        if not str(column.type).startswith("dictionary"):
            table = table.set_column(table.schema.get_field_index(name), name, column.dictionary_encode())
    return table


def _to_pandas(table: Any) -> Any:
    """A pyarrow table as a DataFrame, freeing each column as it converts
    (the peak is about the frame, not the frame plus the table)."""
    return table.to_pandas(self_destruct=True, split_blocks=True)


def read_rows(results_dir: Where, *, run_keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows of finished runs (those with a manifest), as dicts."""
    root = Location.of(results_dir)
    wanted = set(run_keys) if run_keys is not None else None
    out: list[dict[str, Any]] = []
    for key in sorted(done_run_keys(root)):
        if wanted is not None and key not in wanted:
            continue
        for rel in _manifest_files(root, key):
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
# by reading the files of runs finished since it was built, and never trusted
# for a run whose row files changed since (a redone or damaged run: the
# files' mtimes against the build time it records) or are gone (a DataError,
# as without the index). Only the writer
# builds it (:func:`refresh_index`, at the end of a sweep): a query never
# writes to the store it reads (tests/sweep/test_readonly.py).
# --------------------------------------------------------------------------

#: The columns of a result row, in order (partition columns included).
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))


def _read_table(where: Location, columns: Sequence[str] | None = None) -> Any:
    """A Parquet file, local or on S3, as a pyarrow table.

    Raises:
        DataError: the file is missing, truncated or not Parquet (a row file
            of a finished run: the message says how to redo the run).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    filesystem, path = where.arrow()
    try:
        return pq.read_table(path, filesystem=filesystem, columns=None if columns is None else list(columns))
    except FileNotFoundError:
        raise DataError(f"{where}: row file of a finished run is missing; {REPAIR_HINT}") from None
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid: truncated, zero bytes, not Parquet
        problem = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{where}: damaged row file ({problem}); {REPAIR_HINT}") from None


def done_run_keys(results_dir: Where) -> set[str]:
    """Keys of the finished runs (those with a manifest); cheap: lists names only."""
    names = (Location.of(results_dir) / RUNS_DIR).names()
    return {n[:-5] for n in names if n.endswith(".json") and not n.startswith(".")}


def targets_in(results_dir: Where) -> list[str]:
    """Target partitions present under ``results_dir`` (sorted)."""
    root = Location.of(results_dir)
    return sorted(n.split("=", 1)[1] for n in root.names() if n.startswith("target=") and (root / n).is_dir())


#: (language, file, its mtime in ns or None where the listing has none).
RowFile = tuple[str, Location, int | None]


def _row_files(root: Location, target: str, done: set[str]) -> dict[str, list[RowFile]]:
    """run_key -> [(language, file, mtime_ns)] for the done runs' files of one target.

    The mtime is the index's trust check. Locally it comes with the listing
    (``os.scandir``: one stat per file, no path objects); on S3 the listing
    is not asked for it (``None``): there an index row is trusted unless its
    file is gone or its run was redone under a new manifest.
    """
    out: dict[str, list[RowFile]] = {}
    tdir = root / f"target={target}"
    entries: list[tuple[str, str, int | None]]
    if root.remote:  # one listing of the whole target, not one per language
        rels = [rel.split("/") for rel in tdir.files()]
        entries = [(parts[0], parts[1], None) for parts in rels if len(parts) == 2]
    else:
        entries = [entry for lang in tdir.names() for entry in _scan(tdir.local / lang, lang)]
    for lang_dir, name, mtime_ns in entries:
        if lang_dir.startswith("language=") and name.endswith(".parquet") and not name.startswith("."):
            key = name[: -len(".parquet")]
            if key in done:
                out.setdefault(key, []).append((lang_dir.split("=", 1)[1], tdir / lang_dir / name, mtime_ns))
    return out


def _scan(folder: Path, lang_dir: str) -> list[tuple[str, str, int | None]]:
    try:
        with os.scandir(folder) as entries:
            return [(lang_dir, entry.name, _entry_mtime(entry)) for entry in entries]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _entry_mtime(entry: os.DirEntry[str]) -> int | None:
    try:
        return entry.stat().st_mtime_ns
    except OSError:  # gone since the listing: found missing by the readers
        return None


def _mtime_ns(path: Location) -> int | None:
    """A local file's mtime; ``None`` on S3 or for a file gone."""
    if path.remote:
        return None
    try:
        return path.local.stat().st_mtime_ns
    except OSError:
        return None


def _read_files(target: str, files: Sequence[RowFile]) -> Any:
    """One pyarrow table with ``task`` and ``language`` columns, from row files."""
    import pyarrow as pa

    tables = []
    for language, path, _ in files:
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


#: Index metadata: when the listing it was built from was taken (ns since the epoch).
_INDEX_BUILT = b"raygrid.index_built_ns"
#: File systems stamp mtimes from a coarse clock (a few ms behind
#: ``time.time_ns()``, whole seconds on some): the build time is taken this
#: much early, so a file rewritten just after a build still counts as newer.
_CLOCK_SLACK_NS = 2_000_000_000


def _listing_time_ns() -> int:
    """The build time an index records: taken before its listing (a file
    written after the listing is newer than the index), less the slack."""
    return time.time_ns() - _CLOCK_SLACK_NS


def _read_index(index_path: Location, columns: Sequence[str] | None) -> tuple[Any, int] | None:
    """The index table and its build time; ``None`` for a damaged index (a
    cache: the query reads the row files instead)."""
    try:
        table = _read_table(index_path, columns=columns)
    except DataError:
        return None
    built = (table.schema.metadata or {}).get(_INDEX_BUILT)
    if built is not None and built.isdigit():
        return table, int(built)
    # An index written before the build time was recorded: the writer wrote
    # it at the end of a sweep, after the listing; its own mtime stands in.
    mtime = _mtime_ns(index_path)
    return table, (0 if mtime is None else mtime - _CLOCK_SLACK_NS)


def _write_index(index_path: Location, table: Any, built_ns: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _INDEX_BUILT: str(built_ns).encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=64_000)
        index_path.write_bytes(sink.getvalue().to_pybytes())
    except OSError:  # a read-only copy of a sweep: query without the cache
        pass


def _check_complete(root: Location, target: str, keys: Iterable[str], files: Mapping[str, list[RowFile]]) -> None:
    """Every row file of this target that the manifests of ``keys`` list is
    present (a run with a manifest but a missing file is damaged: refused,
    never silently read as fewer rows)."""
    for key in sorted(keys):
        present = {language for language, _, _ in files.get(key, [])}
        for rel in _manifest_files(root, key):
            parts = rel.split("/")
            if parts[0] == f"target={target}" and parts[1].split("=", 1)[1] not in present:
                raise DataError(f"{root / rel}: row file of a finished run is missing; {REPAIR_HINT}")


def _target_table(root: Location, target: str, done: set[str], *, use_index: bool, columns: Sequence[str] | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    files = _row_files(root, target, done)
    index_path = _index_path(root, target)
    indexed = None
    have: set[str] = set()
    index = None
    if use_index and index_path.is_file():
        wanted = None if columns is None else sorted({*columns, "run_key", "language"})
        index = _read_index(index_path, wanted)
    if index is not None:
        indexed, index_built = index
        have = set(indexed.column("run_key").unique().to_pylist()) & done  # a run whose manifest is gone: dropped
        pairs = indexed.select(["run_key", "language"]).group_by(["run_key", "language"]).aggregate([]).to_pylist()
        for pair in pairs:
            key = pair["run_key"]
            if key in have and pair["language"] not in {lang for lang, _, _ in files.get(key, [])}:
                rel = f"target={target}/language={pair['language']}/{key}.parquet"
                raise DataError(f"{root / rel}: row file of a finished run is missing; {REPAIR_HINT}")
        # A run whose files changed since the index was built (redone, or
        # damaged in place) is read from its files, never from the index.
        changed = {key for key in have for _, _, mtime in files.get(key, []) if mtime is not None and mtime >= index_built}
        have -= changed
        indexed = indexed.filter(pc.is_in(indexed.column("run_key"), value_set=pa.array(sorted(have), pa.string())))
    unindexed = [key for key in files if key not in have]
    _check_complete(root, target, unindexed, files)
    missing = [item for key in unindexed for item in files[key]]
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
        built_ns = _listing_time_ns()
        files = _row_files(root, target, done)
        _check_complete(root, target, files, files)
        table = _read_files(target, [item for items in files.values() for item in items])
        if table is None:
            continue
        _write_index(_index_path(root, target), table, built_ns)
