"""Tokenise once per sweep: training features in memory-mapped Arrow files.

Every trial of a sweep that trains on the same data with the same tokenizer
and lengths needs the same features. :func:`cached_features` builds them
once into ``<cache_dir>/<key>.arrow`` (an Arrow IPC file, uncompressed) and
every trial, on any node that sees the folder, memory-maps it
(``pyarrow.memory_map`` + ``pyarrow.ipc.open_file``). :class:`MappedFeatures`
is a read-only ``Sequence`` of feature dicts backed by the mapped buffers:
nothing is converted to Python objects until a batch asks for its rows, so
concurrent trials on a node share the file's page cache and a trial holds
no private copy of the dataset.

The key hashes everything the features depend on: task, split, language,
the tokenizer's serialized files (:func:`tokenizer_fingerprint`, not just
its name), ``max_seq_length``, ``doc_stride``, where the rows came from
(:func:`data_fingerprint`), the row cap and sampling seed, and
:data:`CACHE_SCHEMA_VERSION`.

Writes are atomic: a temporary sibling is written, fsynced and renamed over
the final name. Trials racing to build one key both build; either rename
wins and both files are identical, and a reader never sees a partial file.
A file that cannot be opened (truncated, foreign) is rebuilt. Leftover
temporary files (a killed builder) are never read.

Column types: token lists are ``list<int32>`` (``list<list<int32>>`` for
multiple choice, one list per choice); masks and token type ids are
``list<int8>``; scalar labels ``int32``. These hold every value raygrid's
formats produce (token ids < 2^31, labels and -100).

Example:
    >>> from raygrid.tokencache import cache_key
    >>> len(cache_key({"task": "mnli"}))
    16
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from raygrid.keys import stable_key

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pyarrow as pa
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from raygrid.tasks.sources import DataSources
    from raygrid.tasks.types import Split, TaskSpec

#: Bump when the feature layout or the encoding code changes what a cached
#: file holds: every old entry becomes a miss.
CACHE_SCHEMA_VERSION = 1

#: Rows encoded and written per record batch while building (bounds the
#: builder's memory; a multiple of ``datasets.map``'s batch of 1000).
BUILD_CHUNK_ROWS = 10_000

_SUFFIX = ".arrow"
_META_KEY = b"raygrid.tokencache"
_SMALL_INT_COLUMNS = frozenset({"attention_mask", "token_type_ids", "special_tokens_mask"})
# tokenizer_config.json entries that say how a tokenizer was loaded, not how it tokenises
_VOLATILE_TOKENIZER_KEYS = frozenset(
    {"name_or_path", "is_local", "local_files_only", "_commit_hash", "cache_dir", "revision", "token"}
)


# -- keys --------------------------------------------------------------------------------------


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """SHA-256 of the tokenizer's serialized files (``save_pretrained``):
    vocabulary, merges/pieces, normalizer, special tokens, padding and
    truncation sides. Two tokenizers that tokenise alike, loaded from
    different places, get the same fingerprint; any change to the
    vocabulary or settings gives another."""
    digest = hashlib.sha256()
    digest.update(type(tokenizer).__name__.encode())
    with tempfile.TemporaryDirectory(prefix="raygrid-tokfp-") as tmp:
        tokenizer.save_pretrained(tmp)
        for path in sorted(Path(tmp).rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if path.name == "tokenizer_config.json":
                config = {k: v for k, v in json.loads(data).items() if k not in _VOLATILE_TOKENIZER_KEYS}
                data = json.dumps(config, sort_keys=True, default=str).encode()
            elif path.name == "tokenizer.json":
                # a call with truncation/padding leaves them set on the backend: per call, not the tokenizer's
                backend = json.loads(data)
                backend.pop("truncation", None)
                backend.pop("padding", None)
                data = json.dumps(backend, sort_keys=True, ensure_ascii=False).encode()
            digest.update(str(path.relative_to(tmp)).encode() + b"\0")
            digest.update(hashlib.sha256(data).digest())
    for side in ("padding_side", "truncation_side"):
        digest.update(f"{side}={getattr(tokenizer, side, None)}".encode())
    return digest.hexdigest()


def data_fingerprint(task: TaskSpec, split: Split, language: str, sources: DataSources) -> dict[str, Any]:
    """Where ``load_rows`` takes the rows from: a local file (its resolved
    path and the sha256 of its content: an edited file is a new entry, even
    one edited within the clock's resolution) or the hub (dataset id,
    config, split)."""
    from raygrid.tasks.sources import file_digest

    path = sources.locate(task, split, language)
    if path is not None:
        return {"file": str(Path(path).resolve()), "sha256": file_digest(path)}
    hub = task.hub
    return {
        "hub": hub.path if hub else None,
        "config": hub.configs.get(language) if hub else None,
        "split": hub.splits.get(split) if hub else None,
        "cache_dir": str(sources.cache_dir) if sources.cache_dir else None,
    }


def cache_key(fields: Mapping[str, Any]) -> str:
    """The file stem of an entry: a hash of ``fields`` plus the schema version."""
    return stable_key({**fields, "cache_schema": CACHE_SCHEMA_VERSION})


def cache_path(cache_dir: Path, fields: Mapping[str, Any]) -> Path:
    return Path(cache_dir) / f"{cache_key(fields)}{_SUFFIX}"


# -- writing -----------------------------------------------------------------------------------


def _target_type(name: str, type_: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return pa.list_(_target_type(name, type_.value_type))
    if pa.types.is_integer(type_) or pa.types.is_boolean(type_) or pa.types.is_null(type_):
        return pa.int8() if name in _SMALL_INT_COLUMNS else pa.int32()
    if pa.types.is_floating(type_):
        return pa.float32()
    raise ValueError(f"feature column {name!r} has type {type_}; allowed: integers, floats and (nested) lists of them")


def _normalise(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """Casts ``table`` to the cache's column types (``schema`` when given, so
    every record batch of one file has the same schema)."""
    import pyarrow as pa

    for column in table.column_names:
        if table.column(column).null_count:
            raise ValueError(f"feature column {column!r} has missing values; every feature needs every column")
    if schema is None:
        schema = pa.schema([pa.field(f.name, _target_type(f.name, f.type), nullable=False) for f in table.schema])
    if table.column_names != schema.names:
        raise ValueError(f"feature columns {table.column_names} differ from the first batch's {schema.names}")
    return table.cast(schema, safe=True)


def _as_table(features: Dataset | pa.Table | Sequence[Mapping[str, Any]]) -> pa.Table:
    import pyarrow as pa

    if isinstance(features, pa.Table):
        return features
    if hasattr(features, "with_format"):  # a datasets.Dataset (honours an indices mapping)
        table: pa.Table = features.with_format("arrow")[0 : len(features)]
        return table
    rows = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in row.items()} for row in features]
    return pa.Table.from_pylist(rows)


def write_features(path: Path, chunks: Iterable[Dataset | pa.Table | Sequence[Mapping[str, Any]]], meta: Mapping[str, Any]) -> int:
    """Writes feature chunks as one Arrow IPC file at ``path``, atomically
    (temporary sibling, fsync, rename; the folder is fsynced too).

    Returns:
        The number of rows written.

    Raises:
        ValueError: no rows, a column of another type, or missing values.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    rows = 0
    writer: Any = None
    schema: pa.Schema | None = None
    try:
        with open(tmp, "wb") as handle:
            sink = pa.PythonFile(handle, mode="w")
            for chunk in chunks:
                table = _as_table(chunk)
                if table.num_rows == 0:
                    continue
                table = _normalise(table, schema)
                if schema is None:
                    schema = table.schema.with_metadata({_META_KEY: json.dumps(dict(meta), sort_keys=True, default=str)})
                    table = table.replace_schema_metadata(schema.metadata)
                    writer = ipc.new_file(sink, schema)
                else:
                    table = table.replace_schema_metadata(schema.metadata)
                writer.write_table(table)
                rows += table.num_rows
            if writer is None:
                raise ValueError(f"{path}: no features to cache")
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return rows


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading -----------------------------------------------------------------------------------


class _Column:
    """One column's buffers, chunk by chunk, as NumPy views of the mapping."""

    def __init__(self, chunks: Sequence[pa.Array]) -> None:
        import pyarrow as pa

        self.depth = 0
        type_ = chunks[0].type if chunks else pa.int32()
        while pa.types.is_list(type_):
            self.depth += 1
            type_ = type_.value_type
        if self.depth > 2:
            raise ValueError(f"feature columns nest at most two lists deep, got {chunks[0].type}")
        self.parts: list[tuple[np.ndarray, ...]] = []
        for chunk in chunks:
            if self.depth == 0:
                self.parts.append((chunk.to_numpy(zero_copy_only=True),))
            elif self.depth == 1:
                self.parts.append((chunk.offsets.to_numpy(), chunk.values.to_numpy(zero_copy_only=True)))
            else:
                inner = chunk.values
                self.parts.append(
                    (chunk.offsets.to_numpy(), inner.offsets.to_numpy(), inner.values.to_numpy(zero_copy_only=True))
                )

    def value(self, chunk: int, row: int) -> Any:
        part = self.parts[chunk]
        if self.depth == 0:
            return part[0][row].item()
        if self.depth == 1:
            offsets, values = part
            return values[offsets[row] : offsets[row + 1]].tolist()
        outer, inner, values = part
        return [values[inner[j] : inner[j + 1]].tolist() for j in range(outer[row], outer[row + 1])]

    def lengths(self) -> np.ndarray:
        """Tokens per row (for two levels: of the row's longest inner list)."""
        import numpy as np

        out = []
        for part in self.parts:
            if self.depth == 1:
                out.append(np.diff(part[0]))
            elif self.depth == 2:
                outer, inner, _ = part
                per_inner = np.diff(inner)
                # rows are never empty (a choice list per row), so reduceat is exact
                out.append(np.maximum.reduceat(per_inner, outer[:-1]) if len(outer) > 1 else per_inner[:0])
            else:
                raise ValueError("a scalar column has no lengths")
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class MappedFeatures(Sequence[dict[str, Any]]):
    """A read-only sequence of feature dicts over a memory-mapped Arrow file.

    ``features[i]`` builds row ``i``'s dict (Python ints and lists) from the
    mapped buffers; :meth:`rows` does so for a batch and :meth:`lengths`
    gives every row's token count without touching the tokens.
    """

    def __init__(self, table: pa.Table, path: Path | None = None) -> None:
        self.path = path
        self.table = table
        self.columns = list(table.column_names)
        self._cols = {name: _Column(table.column(name).chunks) for name in self.columns}
        first = table.column(self.columns[0]).chunks if self.columns else []
        self._starts: list[int] = []
        total = 0
        for chunk in first:
            self._starts.append(total)
            total += len(chunk)
        self._len = table.num_rows

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return self.rows(range(*index.indices(self._len)))
        position = index + self._len if index < 0 else index
        if not 0 <= position < self._len:
            raise IndexError(f"feature index {index} out of range for {self._len} rows")
        chunk = bisect.bisect_right(self._starts, position) - 1
        row = position - self._starts[chunk]
        return {name: self._cols[name].value(chunk, row) for name in self.columns}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(self._len):
            yield self[i]

    def rows(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        return [self[i] for i in indices]

    def lengths(self, column: str = "input_ids") -> list[int]:
        """Tokens of each row (multiple choice: of its longest choice)."""
        return self._cols[column].lengths().tolist()

    @property
    def meta(self) -> dict[str, Any]:
        raw = (self.table.schema.metadata or {}).get(_META_KEY)
        return json.loads(raw) if raw else {}


def open_features(path: Path) -> MappedFeatures:
    """Memory-maps a cached file.

    Raises:
        OSError, pyarrow.ArrowInvalid: not a complete Arrow IPC file.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    source = pa.memory_map(str(path), "r")
    table = ipc.open_file(source).read_all()
    table.validate()
    return MappedFeatures(table, Path(path))


def _try_open(path: Path, fields: Mapping[str, Any]) -> MappedFeatures | None:
    import pyarrow as pa

    if not path.is_file():
        return None
    try:
        features = open_features(path)
    except (OSError, pa.ArrowException, ValueError):
        return None
    if features.meta.get("fields") != json.loads(json.dumps(dict(fields), sort_keys=True, default=str)):
        return None
    return features


def cached_features(
    cache_dir: Path,
    fields: Mapping[str, Any],
    build: Callable[[], Iterable[Dataset | pa.Table | Sequence[Mapping[str, Any]]]],
    *,
    log: Callable[[str], None] = lambda message: None,
) -> MappedFeatures:
    """The mapped features of ``fields``' entry, built with ``build`` (an
    iterable of feature chunks) when the entry is missing or unreadable."""
    path = cache_path(cache_dir, fields)
    found = _try_open(path, fields)
    if found is not None:
        log(f"token cache hit: {path}")
        return found
    reason = "unreadable, rebuilding" if path.exists() else "miss, tokenising"
    log(f"token cache {reason}: {path}")
    canonical = json.loads(json.dumps(dict(fields), sort_keys=True, default=str))
    write_features(path, build(), {"fields": canonical, "cache_schema": CACHE_SCHEMA_VERSION})
    return open_features(path)


def chunked(rows: Dataset, size: int = BUILD_CHUNK_ROWS) -> Iterator[Dataset]:
    """``rows`` in consecutive slices of ``size`` rows."""
    for start in range(0, len(rows), size):
        yield rows.select(range(start, min(start + size, len(rows))))


__all__ = [
    "CACHE_SCHEMA_VERSION",
    "MappedFeatures",
    "cache_key",
    "cache_path",
    "cached_features",
    "chunked",
    "data_fingerprint",
    "open_features",
    "tokenizer_fingerprint",
    "write_features",
]
