"""Where task rows come from: explicit files, local folders, bundled fixtures, the hub.

:func:`load_rows` returns the canonical rows (see :mod:`raygrid.tasks.types`)
of one task, split and language. It looks, in this order, for:

1. an explicit file for ``(task, split, language)`` in ``DataSources.files``;
2. ``<dir>/<task>/<split>.<language>.{jsonl,csv,parquet}`` in each of
   ``DataSources.local_dirs``, in order;
3. with ``DataSources(bundled=True)``, the fixtures shipped in
   ``raygrid/data/fixtures`` (same layout); a missing fixture is an error,
   never a silent trip to the network;
4. the Hugging Face hub: ``datasets.load_dataset(path, config, split=...)``
   with the task's hub id, config and split names (no remote code).

Splits are raygrid's ``train``/``dev``/``test``. Files hold rows in the
dataset's *own hub column schema* (``premise``/``hypothesis``/``label`` for
MNLI, ``tokens``/``ner_tags`` for PAN-X, ...); the task's adapter turns them
into canonical rows, exactly as for hub rows. In csv files, list- and
dict-valued columns are JSON-encoded strings (``["Pierre", "Vinken"]``,
``{"text": ["Paris"], "answer_start": [12]}``) and labels may be ids or
names.

Targets trained or selected on another task's data do not redirect: ask for
the task whose data you want, e.g. ``load_rows(resolve_data_task("xnli",
"train"), "train", "en", sources)`` loads MNLI's train split.

Example:
    >>> rows = load_rows("xnli", "test", "de", DataSources(bundled=True), max_examples=4)
    >>> rows.column_names, len(rows)
    (['text_a', 'text_b', 'label'], 4)
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid.errors import ConfigError, DataError, one_of
from raygrid.tasks.adapters import RowError
from raygrid.tasks.registry import check_language, check_split, get_task, parse_split
from raygrid.tasks.schema import canonical_features
from raygrid.tasks.types import Split, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset

#: File formats a local file may have, by extension (also the search order).
FILE_EXTENSIONS: tuple[str, ...] = ("jsonl", "csv", "parquet")

#: The fixtures shipped with raygrid (``<task>/<split>.<language>.jsonl``).
FIXTURES_DIR = Path(__file__).resolve().parent.parent / "data" / "fixtures"

#: The revision holding the hub's own parquet export of a dataset; used when a
#: hub repository still only has a loading script, which ``datasets`` no
#: longer runs (see ``raygrid.tasks.sources._load_hub``).
PARQUET_EXPORT_REVISION = "refs/convert/parquet"

FileKey = tuple[str, str, str]


@dataclass(frozen=True)
class DataSources:
    """Where :func:`load_rows` looks for data, highest precedence first.

    Attributes:
        files: explicit files, ``(task, split, language) -> path``; the
            extension (``.jsonl``, ``.csv``, ``.parquet``) gives the format.
        local_dirs: folders searched in order, laid out as
            ``<dir>/<task>/<split>.<language>.<ext>``.
        bundled: use the fixtures in ``raygrid/data/fixtures`` instead of the
            hub (tests, the demo, offline runs).
        cache_dir: the ``datasets`` cache for hub downloads (default: the
            ``datasets`` default, ``~/.cache/huggingface/datasets``).

    Example:
        >>> DataSources(local_dirs=["/data/raygrid"], files={("mnli", "dev", "en"): "dev.jsonl"}).local_dirs
        (PosixPath('/data/raygrid'),)
    """

    files: Mapping[FileKey, Path] = field(default_factory=dict)
    local_dirs: tuple[Path, ...] = ()
    bundled: bool = False
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        dirs = (self.local_dirs,) if isinstance(self.local_dirs, (str, Path)) else self.local_dirs
        object.__setattr__(self, "local_dirs", tuple(Path(d).expanduser() for d in dirs))
        files: dict[FileKey, Path] = {}
        for key, path in dict(self.files).items():
            if not (isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, str) for k in key)):
                raise ConfigError(
                    f"DataSources.files: bad key {key!r}; allowed: a (task, split, language) tuple of strings"
                )
            task, split, language = key
            files[(get_task(task).name, parse_split(split).value, language)] = Path(path).expanduser()
        object.__setattr__(self, "files", files)  # a private copy; never mutated
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.files.items())), self.local_dirs, self.bundled, self.cache_dir))

    def locate(self, task: TaskSpec | str, split: Split | str, language: str) -> Path | None:
        """The file that supplies ``(task, split, language)``, or ``None`` for the hub.

        Raises:
            DataError: ``bundled`` is set and there is no fixture; or a folder
                holds the file in two formats, or only in an unsupported one.
        """
        spec = get_task(task)
        key = (spec.name, parse_split(split).value, language)
        if key in self.files:
            return self.files[key]
        for folder in self.local_dirs:
            found = _find_in(folder, *key)
            if found is not None:
                return found
        if self.bundled:
            found = _find_in(FIXTURES_DIR, *key)
            if found is None:
                raise DataError(
                    f"no bundled fixture for task {key[0]!r} split {key[1]!r} language {language!r}: "
                    f"expected {FIXTURES_DIR / key[0] / f'{key[1]}.{language}.jsonl'}"
                )
            return found
        return None


    def local_fingerprint(self, needed: Iterable[tuple[TaskSpec | str, Split | str, str]]) -> dict[str, str]:
        """``"task/split/language" -> sha256`` of the content of each user file
        (``files`` or ``local_dirs``) that supplies one of ``needed``.

        A key of work done on local data includes this, so a file edited in
        place (same path) is new data, never stale results. Bundled fixtures
        (versioned with the code) and hub data are left out, so keys of work
        on them do not change. Content, not size and mtime: an edit within
        the clock's resolution, or a copy that keeps the mtime, is seen.
        """
        out: dict[str, str] = {}
        for task, split, language in needed:
            path = self.locate(task, split, language)
            if path is None or _is_fixture(path):
                continue
            out[f"{get_task(task).name}/{parse_split(split).value}/{language}"] = file_digest(path)
        return dict(sorted(out.items()))


def _is_fixture(path: Path) -> bool:
    return path.resolve().is_relative_to(FIXTURES_DIR)


def file_digest(path: Path | str) -> str:
    """The sha256 of a file's bytes. Hashed once per process per version of
    the file (its path, size, mtime, ctime and inode): later calls are a stat.

    Raises:
        DataError: the file cannot be read.
    """
    try:
        stat = Path(path).stat()
        return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


@functools.lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_in(folder: Path, task: str, split: str, language: str) -> Path | None:
    stem = f"{split}.{language}"
    task_dir = folder / task
    found = [task_dir / f"{stem}.{ext}" for ext in FILE_EXTENSIONS if (task_dir / f"{stem}.{ext}").is_file()]
    if len(found) > 1:
        raise DataError(
            f"{task_dir}: {one_of(p.name for p in found)} all hold task {task!r} split {split!r} "
            f"language {language!r}; keep one"
        )
    if found:
        return found[0]
    others = sorted(p for p in task_dir.glob(f"{stem}.*") if p.is_file()) if task_dir.is_dir() else []
    if others:
        raise DataError(
            f"{others[0]}: unsupported file extension {others[0].suffix!r}; allowed: "
            f"{one_of('.' + ext for ext in FILE_EXTENSIONS)}"
        )
    return None


# ----------------------------------------------------------------- reading files


@dataclass
class _Table:
    """Raw rows of one file, with a location string per row for error messages."""

    rows: list[dict[str, Any]]
    where: list[str]
    columns: tuple[str, ...] | None  # header columns (csv, parquet); None: per row (jsonl)


def _read_file(path: Path) -> _Table:
    ext = path.suffix.lstrip(".").lower()
    if ext not in FILE_EXTENSIONS:
        allowed = one_of("." + e for e in FILE_EXTENSIONS)
        raise DataError(f"{path}: unsupported file extension {path.suffix!r}; allowed: {allowed}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if ext == "jsonl":
            return _read_jsonl(path)
        if ext == "csv":
            return _read_csv(path)
        return _read_parquet(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from e


def _read_jsonl(path: Path) -> _Table:
    rows: list[dict[str, Any]] = []
    where: list[str] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: malformed JSON line ({e.msg} at column {e.colno}); "
                    "allowed: one JSON object per line"
                ) from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}: line holds a JSON {type(row).__name__}; allowed: a JSON object")
            rows.append(row)
            where.append(f"{path}:{lineno}")
    return _Table(rows, where, None)


def _read_csv(path: Path) -> _Table:
    rows: list[dict[str, Any]] = []
    where: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        try:
            for row in reader:
                if None in row:  # more cells than header columns
                    raise DataError(f"{path}:{reader.line_num}: more cells than the header has columns")
                rows.append(dict(row))
                where.append(f"{path}:{reader.line_num}")
        except csv.Error as e:
            raise DataError(f"{path}:{reader.line_num}: malformed csv ({e})") from None
        columns = tuple(reader.fieldnames or ())
    return _Table(rows, where, columns)


def _read_parquet(path: Path) -> _Table:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: not a readable parquet file ({type(e).__name__}: {_first_line(e)})") from e
    rows = table.to_pylist()
    return _Table(rows, [f"{path} row {i}" for i in range(len(rows))], tuple(table.column_names))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# -------------------------------------------------------------------- load_rows


def _check_columns(task: TaskSpec, found: Iterable[str], where: str) -> None:
    found = list(found)
    missing = [c for c in task.columns if c not in found]
    if missing:
        raise DataError(
            f"{where}: missing column {missing[0]!r} required by task {task.name!r} "
            f"(needs {one_of(task.columns)}); found: {one_of(found)}"
        )


def _sample(n: int, max_examples: int | None, seed: int) -> list[int] | None:
    """Row indices to keep: ``max_examples`` of ``n``, drawn with ``seed``, in file order."""
    if max_examples is None or max_examples >= n:
        return None
    return sorted(random.Random(seed).sample(range(n), max_examples))


def _check_max_examples(max_examples: int | None) -> None:
    if max_examples is not None and (
        isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1
    ):
        raise ConfigError(f"max_examples has bad value {max_examples!r}; allowed: a positive integer or None")


def load_rows(
    task: TaskSpec | str,
    split: Split | str,
    language: str,
    sources: DataSources,
    *,
    max_examples: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Canonical rows of ``task`` for one split and language.

    Args:
        task: a catalogue name or TaskSpec.
        split: ``"train"``, ``"dev"`` or ``"test"``.
        language: ISO 639-1 code; must be one of ``task.languages``.
        sources: where to look (see the module docstring for the order).
        max_examples: keep at most this many rows, drawn without replacement
            with ``seed`` (the same rows for the same seed, in source order).
        seed: the subsampling seed.

    Returns:
        A ``datasets.Dataset`` with the canonical columns of the task's format.

    Raises:
        ConfigError: unknown task, language or split, bad ``max_examples``.
        DataError: a missing, malformed or empty source, a missing column, a
            bad value (the message names the file, row, field and value).
    """
    spec = get_task(task)
    check_language(spec, language)
    wanted = check_split(spec, split, language)
    _check_max_examples(max_examples)
    path = sources.locate(spec, wanted, language)
    if path is not None:
        return _rows_from_file(spec, wanted, language, path, max_examples, seed)
    if spec.hub is None:
        raise DataError(_no_hub_message(spec, wanted, language))
    return _rows_from_hub(spec, wanted, language, sources.cache_dir, max_examples, seed)


def _no_hub_message(task: TaskSpec, split: Split, language: str) -> str:
    return (
        f"task {task.name!r} has no copy on the Hugging Face hub ({task.citation}); "
        f"supply a local file <dir>/{task.name}/{split.value}.{language}.{{jsonl,csv,parquet}} "
        f"with columns {one_of(task.columns)} via DataSources(local_dirs=[<dir>]) or DataSources(files=...)"
    )


def _adapt(task: TaskSpec, row: Mapping[str, Any], where: str) -> dict[str, Any]:
    try:
        return task.adapter(row)
    except RowError as e:
        raise DataError(f"{where}: task {task.name!r}: {e}") from None


def _rows_from_file(
    task: TaskSpec, split: Split, language: str, path: Path, max_examples: int | None, seed: int
) -> Dataset:
    from datasets import Dataset

    table = _read_file(path)
    if table.columns is not None:
        _check_columns(task, table.columns, str(path))
    else:
        for row, where in zip(table.rows, table.where, strict=True):
            _check_columns(task, row, where)
    if not table.rows:
        raise DataError(f"{path}: no rows for task {task.name!r} split {split.value!r} language {language!r}")
    keep = _sample(len(table.rows), max_examples, seed)
    indices = range(len(table.rows)) if keep is None else keep
    canonical = [_adapt(task, table.rows[i], table.where[i]) for i in indices]
    return Dataset.from_list(canonical, features=canonical_features(task.format))


def _load_hub(task: TaskSpec, split: Split, language: str, cache_dir: Path | None) -> tuple[Any, str]:
    """``datasets.load_dataset`` for one hub split, and a description for messages."""
    import datasets

    assert task.hub is not None
    path, config, hub_split = task.hub.path, task.hub.configs[language], task.hub.splits[split]
    where = f"hub dataset {path!r} config {config!r} split {hub_split!r}"
    kwargs: dict[str, Any] = {"split": hub_split}
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    try:
        return datasets.load_dataset(path, config, **kwargs), where
    except RuntimeError as e:
        if "scripts are no longer supported" not in str(e):
            raise DataError(f"cannot load {where}: {type(e).__name__}: {_first_line(e)}") from e
        # The repository still holds only a loading script (datasets >= 4 runs
        # none): read the hub's own parquet export of it instead, where each
        # config is a folder (``default`` for single-config datasets).
        where += f" (parquet export {PARQUET_EXPORT_REVISION!r})"
        try:
            data = datasets.load_dataset(
                path, data_dir=config or "default", revision=PARQUET_EXPORT_REVISION, **kwargs
            )
        except Exception as e2:
            raise DataError(f"cannot load {where}: {type(e2).__name__}: {_first_line(e2)}") from e2
        return data, where
    except Exception as e:
        raise DataError(f"cannot load {where}: {type(e).__name__}: {_first_line(e)}") from e


def _rows_from_hub(
    task: TaskSpec, split: Split, language: str, cache_dir: Path | None, max_examples: int | None, seed: int
) -> Dataset:
    assert task.hub is not None
    data, where = _load_hub(task, split, language, cache_dir)
    _check_columns(task, data.column_names, where)
    if task.hub.language_filter is not None:
        data = data.filter(task.hub.language_filter(language), desc=f"{task.name}: {language} rows")
    if len(data) == 0:
        raise DataError(f"{where}: no rows for task {task.name!r} split {split.value!r} language {language!r}")
    keep = _sample(len(data), max_examples, seed)
    if keep is not None:
        data = data.select(keep)

    def adapt(row: Mapping[str, Any], index: int) -> dict[str, Any]:
        return _adapt(task, row, f"{where} row {index}")

    return data.map(
        adapt,
        with_indices=True,
        remove_columns=data.column_names,
        features=canonical_features(task.format),
        desc=f"{task.name}: canonical rows",
    )


def fixture_path(task: TaskSpec | str, split: Split | str, language: str) -> Path:
    """Where the bundled fixture for ``(task, split, language)`` lives (it may not exist)."""
    return FIXTURES_DIR / get_task(task).name / f"{parse_split(split).value}.{language}.jsonl"


__all__ = [
    "FILE_EXTENSIONS",
    "FIXTURES_DIR",
    "PARQUET_EXPORT_REVISION",
    "DataSources",
    "file_digest",
    "fixture_path",
    "load_rows",
]
