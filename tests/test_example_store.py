"""Per-example outcome rows in the results store (raygrid.outcomes, raygrid.store):
written with the run, before its manifest; read back for done runs only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from raygrid.errors import DataError
from raygrid.outcomes import EXAMPLE_COLUMNS, EXAMPLE_FRAME_COLUMNS, EXAMPLES_DIR
from raygrid.store import ResultRow, has_examples, is_done, read_examples, read_results, read_rows, write_run


def _examples(run_key: str, task: str, language: str, n: int = 3, *, stage: str = "confirm", seed: int = 0) -> pd.DataFrame:
    records = []
    for attack in ("none", "char_noise"):
        clean = attack == "none"
        for i in range(n):
            records.append({
                "run_key": run_key, "task": task, "language": language, "split": "test", "attack": attack,
                "example_key": str(i), "stage": stage, "intermediate": "none", "intermediate_checkpoint": "",
                "seed": seed, "cell_key": "c1", "gold": "1", "clean_prediction": json.dumps(i % 2),
                "clean_score": float(i % 2), "clean_correct": bool(i % 2),
                "attacked_prediction": None if clean else "0", "attacked_score": math.nan if clean else 0.0,
                "survived": None if clean else False, "status": "clean" if clean else ("successful" if i % 2 else "skipped"),
                "perturbation_rate": math.nan if clean else 0.25, "queries": 1 if clean else 2, "schema_version": 1,
            })  # fmt: skip
    return pd.DataFrame(records)


def _rows(run_key: str, task: str = "xnli", languages: tuple[str, ...] = ("de",)) -> list[ResultRow]:
    return [ResultRow(run_key=run_key, task=task, language=lang, split="test", metric="accuracy", value=0.5, stage="confirm")
            for lang in languages]  # fmt: skip


def test_examples_are_written_per_target_and_language_and_listed_by_the_manifest(tmp_path: Path) -> None:
    examples = pd.concat([_examples("r1", "xnli", "de"), _examples("r1", "xnli", "fr")])
    manifest = write_run(tmp_path, "r1", _rows("r1", languages=("de", "fr")), examples=examples)
    assert manifest.examples == [f"{EXAMPLES_DIR}/target=xnli/language=de/r1.parquet", f"{EXAMPLES_DIR}/target=xnli/language=fr/r1.parquet"]
    assert manifest.example_rows == 12
    assert json.loads((tmp_path / "_runs" / "r1.json").read_text())["examples"] == manifest.examples
    assert is_done(tmp_path, "r1") and has_examples(tmp_path)
    df = read_examples(tmp_path)
    assert list(df.columns) == list(EXAMPLE_FRAME_COLUMNS) and len(df) == 12
    assert set(df["language"]) == {"de", "fr"} and set(df["task"]) == {"xnli"}
    clean = df[df["attack"] == "none"]
    assert clean["survived"].isna().all() and clean["attacked_prediction"].isna().all()
    assert clean["perturbation_rate"].isna().all() and (clean["status"] == "clean").all()
    # the aggregate readers never see the example files
    assert len(read_results(tmp_path)) == 2 and len(read_rows(tmp_path)) == 2
    import pyarrow.dataset as ds

    assert ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table().num_rows == 2
    # a file's columns are the contract's, in order (the partition keys are directories)
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / manifest.examples[0]).names == list(EXAMPLE_COLUMNS)


def test_filters_and_columns(tmp_path: Path) -> None:
    write_run(tmp_path, "a", _rows("a"), examples=_examples("a", "xnli", "de"))
    write_run(tmp_path, "b", _rows("b", "pawsx"), examples=_examples("b", "pawsx", "de", stage="cell"))
    write_run(tmp_path, "c", _rows("c", languages=("fr",)), examples=_examples("c", "xnli", "fr", seed=1))
    assert set(read_examples(tmp_path, targets=["xnli"])["run_key"]) == {"a", "c"}
    assert set(read_examples(tmp_path, targets=["xnli"], languages=["fr"])["run_key"]) == {"c"}
    assert set(read_examples(tmp_path, stages=["cell"])["run_key"]) == {"b"}
    picked = read_examples(tmp_path, targets=["pawsx", "xnli"], languages=["de"], stages=["confirm"], columns=["task", "survived"])
    assert list(picked.columns) == ["task", "survived"] and set(picked["task"]) == {"xnli"} and len(picked) == 6
    assert read_examples(tmp_path, targets=["udpos"]).empty
    # categoricals: the same rows and values, text columns as categories
    order = ["run_key", "attack", "example_key"]
    plain = read_examples(tmp_path)
    compact = read_examples(tmp_path, categorical=True)
    assert {c for c in compact.columns if isinstance(compact[c].dtype, pd.CategoricalDtype)} == {
        "run_key", "task", "language", "split", "attack", "example_key", "stage", "intermediate",
        "intermediate_checkpoint", "cell_key", "gold", "clean_prediction", "attacked_prediction", "status",
    }  # fmt: skip
    pd.testing.assert_frame_equal(
        compact.astype({c: plain[c].dtype for c in plain.columns}).sort_values(order).reset_index(drop=True),
        plain.sort_values(order).reset_index(drop=True),
    )
    assert list(read_examples(tmp_path, targets=["udpos"], categorical=True, columns=["task", "seed"]).columns) == ["task", "seed"]
    with pytest.raises(ValueError, match="unknown per-example column"):
        read_examples(tmp_path, columns=["nope"])


def test_a_run_without_its_manifest_is_invisible(tmp_path: Path) -> None:
    write_run(tmp_path, "done", _rows("done"), examples=_examples("done", "xnli", "de"))
    write_run(tmp_path, "killed", _rows("killed"), examples=_examples("killed", "xnli", "de"))
    (tmp_path / "_runs" / "killed.json").unlink()  # killed between its files and its manifest
    assert (tmp_path / EXAMPLES_DIR / "target=xnli" / "language=de" / "killed.parquet").is_file()
    assert set(read_examples(tmp_path)["run_key"]) == {"done"}
    assert not is_done(tmp_path, "killed")


def test_a_redone_run_overwrites_its_example_files(tmp_path: Path) -> None:
    write_run(tmp_path, "r", _rows("r"), examples=_examples("r", "xnli", "de", n=5))
    write_run(tmp_path, "r", _rows("r"), examples=_examples("r", "xnli", "de", n=2))
    assert len(read_examples(tmp_path)) == 4
    assert [p.name for p in (tmp_path / EXAMPLES_DIR / "target=xnli" / "language=de").iterdir()] == ["r.parquet"]  # no temp left


def test_a_missing_or_damaged_example_file_is_an_error_and_the_run_not_done(tmp_path: Path) -> None:
    write_run(tmp_path, "r", _rows("r"), examples=_examples("r", "xnli", "de"))
    path = tmp_path / EXAMPLES_DIR / "target=xnli" / "language=de" / "r.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="damaged example file"):
        read_examples(tmp_path)
    path.unlink()
    assert not is_done(tmp_path, "r")
    with pytest.raises(DataError, match=r"r\.parquet: example file of a finished run is missing"):
        read_examples(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / EXAMPLES_DIR)  # the whole folder gone: still refused, never read as no rows
    with pytest.raises(DataError, match="example file of a finished run is missing"):
        read_examples(tmp_path)


def test_a_folder_from_before_per_example_rows_reads_empty(tmp_path: Path) -> None:
    write_run(tmp_path, "old", _rows("old"))
    manifest = json.loads((tmp_path / "_runs" / "old.json").read_text())
    del manifest["examples"], manifest["example_rows"]  # as written before they existed
    (tmp_path / "_runs" / "old.json").write_text(json.dumps(manifest))
    assert is_done(tmp_path, "old") and not has_examples(tmp_path)
    empty = read_examples(tmp_path)
    assert empty.empty and list(empty.columns) == list(EXAMPLE_FRAME_COLUMNS)
    assert str(empty["seed"].dtype) == "int64" and str(empty["clean_score"].dtype) == "float64"
    assert len(read_results(tmp_path)) == 1


def test_bad_example_frames_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lack column"):
        write_run(tmp_path, "r", _rows("r"), examples=_examples("r", "xnli", "de").drop(columns=["gold"]))
    with pytest.raises(ValueError, match="its run_key"):
        write_run(tmp_path, "r", _rows("r"), examples=_examples("other", "xnli", "de"))
    assert not (tmp_path / "_runs" / "r.json").exists()
