"""Per-example rows on S3 (a local moto server) read back as they do locally."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygrid.storage import Location
from raygrid.store import has_examples, is_done, read_examples, write_run
from tests.test_example_store import _examples, _rows

BUCKET = "raygrid-test"  # the bucket of the s3_env fixture (tests/sweep/conftest.py)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_example_rows_round_trip(where: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if where == "s3":
        request.getfixturevalue("s3_env")
        root = Location.of(f"s3://{BUCKET}/examples-{tmp_path.name}")
    else:
        root = Location.of(tmp_path / "results")
    write_run(root, "r1", _rows("r1"), examples=_examples("r1", "xnli", "de"))
    write_run(root, "r2", _rows("r2", "pawsx"), examples=_examples("r2", "pawsx", "de"))
    assert is_done(root, "r1") and has_examples(root)
    assert (root / "_examples" / "target=xnli" / "language=de" / "r1.parquet").is_file()
    assert set(read_examples(root)["run_key"]) == {"r1", "r2"}
    only = read_examples(root, targets=["pawsx"], columns=["run_key", "task", "language"], categorical=True)
    assert set(only["run_key"]) == {"r2"} and set(only["task"]) == {"pawsx"} and len(only) == 6
    (root / "_runs" / "r1.json").remove()  # not done: invisible
    assert set(read_examples(root)["run_key"]) == {"r2"}
