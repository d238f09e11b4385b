"""`raygrid cell` writes the clean per-example rows of its evaluation with its run."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygrid.cell import CellSpec, Overrides, run_cell
from raygrid.store import read_examples, read_results
from raygrid.tasks import DataSources

FAST = Overrides(learning_rate=5e-4, num_epochs=1.0, batch_size=8, max_seq_length=32)


def test_a_cell_writes_clean_per_example_rows(tiny_model_dir: Path, tmp_path: Path) -> None:
    spec = CellSpec(model=str(tiny_model_dir), intermediate="mnli", target="pawsx", languages=("de", "fr"), seed=2,
                    max_train_examples=8, max_eval_examples=4, overrides=FAST)  # fmt: skip
    cell = run_cell(spec, tmp_path, DataSources(bundled=True), device="cpu")
    assert cell.intermediate_checkpoint is not None
    df = read_examples(tmp_path / "results")
    assert len(df) == 8 and set(df["language"]) == {"de", "fr"} and set(df["task"]) == {"pawsx"}
    assert set(df["run_key"]) == {cell.run_key} and set(df["stage"]) == {"cell"} and set(df["attack"]) == {"none"}
    assert set(df["intermediate"]) == {"mnli"} and set(df["seed"]) == {2} and set(df["status"]) == {"clean"}
    assert set(df["intermediate_checkpoint"]) == {cell.intermediate_checkpoint.name}
    aggregate = read_results(tmp_path / "results")
    for language in ("de", "fr"):
        accuracy = aggregate[(aggregate["language"] == language) & (aggregate["metric"] == "accuracy")]["value"]
        assert float(accuracy.iloc[0]) == pytest.approx(df[df["language"] == language]["clean_score"].mean())
    # run again: the run is done, nothing is rewritten
    again = run_cell(spec, tmp_path, DataSources(bundled=True), device="cpu")
    assert again.run_key in again.reused and len(read_examples(tmp_path / "results")) == 8
