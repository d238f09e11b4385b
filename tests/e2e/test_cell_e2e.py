"""`raygrid cell` end to end on the tiny model and the bundled fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raygrid.cell import CellSpec, Overrides, run_cell
from raygrid.cli import main
from raygrid.store import read_rows
from raygrid.tasks import DataSources

pytestmark = pytest.mark.e2e

SOURCES = DataSources(bundled=True)
FAST = Overrides(learning_rate=5e-4, num_epochs=1, batch_size=16, max_seq_length=48)


def _checkpoints(out: Path) -> dict[str, dict]:
    return {
        p.name: json.loads((p / "raygrid.json").read_text()) for p in sorted((out / "checkpoints").iterdir())
    }


def test_baseline_and_intermediate_cells_via_cli(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    common = [
        "--model", str(tiny_model_dir), "--target", "xnli", "--data", "bundled", "--languages", "de,ar,zh",
        "--output", str(out), "--epochs", "1", "--batch-size", "16", "--max-seq-length", "48",
    ]  # fmt: skip
    assert main(["cell", "--intermediate", "none", *common]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[1].split()[:3] == ["language", "split", "n"]
    assert main(["cell", "--intermediate", "mnli", *common]) == 0

    kinds = sorted(meta["kind"] for meta in _checkpoints(out).values())
    assert kinds == ["intermediate", "target", "target"]  # baseline has no phase 2
    rows = read_rows(out / "results")
    by_cell = {(r["intermediate"], r["language"], r["metric"]) for r in rows}
    for inter in ("none", "mnli"):
        for lang in ("de", "ar", "zh"):
            assert (inter, lang, "accuracy") in by_cell
    assert all(r["split"] == "test" and r["task"] == "xnli" and 0 <= r["value"] <= 1 for r in rows)
    for path in (out / "checkpoints").iterdir():
        assert (path / "model.safetensors").is_file() and not list(path.glob("*.bin"))


def test_intermediate_checkpoint_is_trained_once_and_results_are_reused(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    logs: list[str] = []
    first = run_cell(
        CellSpec(model=str(tiny_model_dir), intermediate="mnli", target="xnli", languages=("de",), overrides=FAST,
                 max_train_examples=32),
        out, SOURCES, log=logs.append,
    )  # fmt: skip
    second = run_cell(
        CellSpec(model=str(tiny_model_dir), intermediate="mnli", target="pawsx", languages=("de",), overrides=FAST,
                 max_train_examples=32),
        out, SOURCES, log=logs.append,
    )  # fmt: skip
    assert first.intermediate_checkpoint == second.intermediate_checkpoint
    assert sum("intermediate mnli: training" in line for line in logs) == 1
    assert any("intermediate mnli: reusing" in line for line in logs)
    # the same cell again: nothing is retrained or re-evaluated, the rows are the same
    again = run_cell(
        CellSpec(model=str(tiny_model_dir), intermediate="mnli", target="xnli", languages=("de",), overrides=FAST,
                 max_train_examples=32),
        out, SOURCES, log=logs.append,
    )  # fmt: skip
    assert again.run_key == first.run_key and again.rows == first.rows
    assert sum("training" in line for line in logs) == 3  # mnli once, xnli once, pawsx once


def test_same_seed_same_numbers_other_seed_other_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    def cell(out: Path, seed: int):  # type: ignore[no-untyped-def]
        return run_cell(
            CellSpec(model=str(tiny_model_dir), intermediate="none", target="panx", languages=("de", "hi"),
                     overrides=FAST, seed=seed),
            out, SOURCES,
        )  # fmt: skip

    a, b, c = cell(tmp_path / "a", 0), cell(tmp_path / "b", 0), cell(tmp_path / "c", 1)
    assert a.run_key == b.run_key and [r.metrics for r in a.languages] == [r.metrics for r in b.languages]
    assert c.run_key != a.run_key


def test_multitask_intermediate_then_qa_and_retrieval_targets(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    spec = CellSpec(
        model=str(tiny_model_dir), intermediate="mnli+squad", target="xquad", languages=("de", "th"),
        overrides=Overrides(learning_rate=5e-4, num_epochs=1, batch_size=8, max_seq_length=96),
        max_train_examples=16, max_eval_examples=8,
    )  # fmt: skip
    qa = run_cell(spec, out, SOURCES)
    meta = json.loads((qa.intermediate_checkpoint / "raygrid.json").read_text())  # type: ignore[operator]
    assert meta["tasks"] == ["mnli", "squad"] and (qa.intermediate_checkpoint / "heads.safetensors").is_file()  # type: ignore[operator]
    assert {r.language for r in qa.languages} == {"de", "th"} and all("f1" in r.metrics for r in qa.languages)
    # BUCC and Tatoeba use the phase-2 encoder directly: no target training
    bucc = run_cell(CellSpec(**{**spec.__dict__, "target": "bucc", "languages": ("de", "zh")}), out, SOURCES)
    assert bucc.target_checkpoint is None
    assert all({"f1", "precision", "recall", "threshold"} <= set(r.metrics) for r in bucc.languages)
    tatoeba = run_cell(CellSpec(**{**spec.__dict__, "target": "tatoeba", "languages": ("ar",)}), out, SOURCES)
    assert tatoeba.languages[0].metrics["accuracy"] >= 0.0
