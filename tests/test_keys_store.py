from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from raygrid.keys import stable_key
from raygrid.store import ResultRow, is_done, read_rows, write_run


def test_keys_are_stable_and_sensitive() -> None:
    a = stable_key({"model": "m", "train": {"lr": 1e-5, "epochs": 2}, "seed": 0})
    assert a == stable_key({"seed": 0, "train": {"epochs": 2, "lr": 1e-5}, "model": "m"})
    assert a != stable_key({"model": "m", "train": {"lr": 2e-5, "epochs": 2}, "seed": 0})
    assert a != stable_key({"model": "m", "train": {"lr": 1e-5, "epochs": 2}, "seed": 1})
    assert len(a) == 16 and int(a, 16) >= 0
    # pinned: a key must not change between Python versions or machines
    assert stable_key({"a": 1}) == "015abd7f5cc57a2d"


def _rows(run: str) -> list[ResultRow]:
    return [
        ResultRow(run_key=run, task="xnli", language=lang, split="test", metric="accuracy", value=v, n_examples=10)
        for lang, v in (("de", 0.5), ("sw", 0.25))
    ]


def test_write_then_read_round_trip_and_done_marker(tmp_path: Path) -> None:
    assert not is_done(tmp_path, "r1")
    manifest = write_run(tmp_path, "r1", _rows("r1"), meta={"cell": "x"})
    assert is_done(tmp_path, "r1") and manifest.rows == 2
    rows = read_rows(tmp_path)
    assert {(r["language"], r["value"]) for r in rows} == {("de", 0.5), ("sw", 0.25)}
    # a hive-partitioned pyarrow dataset that filters by target and language
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive", exclude_invalid_files=True).to_table(
        filter=(ds.field("language") == "sw")
    )
    assert table.column("value").to_pylist() == [0.25]


def test_rows_without_manifest_are_not_results(tmp_path: Path) -> None:
    write_run(tmp_path, "r1", _rows("r1"))
    (tmp_path / "_runs" / "r1.json").unlink()  # a writer killed before the manifest
    assert read_rows(tmp_path) == [] and not is_done(tmp_path, "r1")


def test_duplicate_keys_and_foreign_rows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        write_run(tmp_path, "r1", _rows("r1") + _rows("r1")[:1])
    with pytest.raises(ValueError, match="run_key"):
        write_run(tmp_path, "r1", _rows("r2"))
    assert not (tmp_path / "_runs").exists()
