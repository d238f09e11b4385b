"""``raygrid analyze`` on sweep directories written through the store: a
planted robustness effect in per-example rows is found and nothing else, the
report opens with the answer and states the design, an old folder (aggregate
rows only) still opens, and the HTML renders in headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.synthetic import (
    ExampleDesign,
    Planted,
    aggregate_rows,
    confirm_rows,
    example_rows,
    simulate_examples,
    trial_rows,
    write_sweep_dir,
)
from raygrid.testing.sweepdir import check_best_and_analyze, run_cli

CHROMIUM = "/usr/bin/chromium"
ARABIC_SCRIPT = ("ar", "ur")
LANGUAGES = ("ar", "ur", "bg", "ru", "hi", "sw")
INTERMEDIATES = ("none", "mnli", "squad", "hellaswag", "anli", "qqp")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A synthetic sweep: hellaswag +15 points conditional robust accuracy in
    the Arabic-script languages, mnli +5 points clean transfer everywhere (no
    robustness effect), 5 seeds; analysed through the CLI."""
    root = tmp_path_factory.mktemp("sweep")
    design = ExampleDesign(
        languages=LANGUAGES, intermediates=INTERMEDIATES, seeds=5, n_examples=300, seed_sd=0.5,
        planted=(Planted("hellaswag", ARABIC_SCRIPT, robust_gain=0.15), Planted("mnli", LANGUAGES, clean_gain=0.05)),
    )  # fmt: skip
    examples = example_rows(simulate_examples(design, 1, rng=7))
    rows = pd.concat([aggregate_rows(examples), trial_rows(intermediates=INTERMEDIATES)], ignore_index=True)
    sweep = write_sweep_dir(root / "sweep", rows, examples=examples)
    out = root / "report"
    checked = check_best_and_analyze(sweep, target="xnli", out_dir=out, seeds=5)
    return {**checked, "out": out, "sweep": sweep}


def test_report_flags_exactly_the_planted_cells(report: dict) -> None:
    target = report["findings"]["targets"]["xnli"]
    flagged = {(c["intermediate"], c["language"]) for c in target["flagged_cells"]}
    assert flagged == {("hellaswag", lang) for lang in ARABIC_SCRIPT}
    assert all(0.05 < c["gain"] < 0.25 and c["ci_low"] > 0 for c in target["flagged_cells"])
    cells = pd.read_csv(report["out"] / "xnli_cells.csv")
    primary = cells[cells["family"] == "cells"]
    assert len(primary) == 5 * len(LANGUAGES) and primary["flagged"].sum() == 2
    # mnli's clean-transfer gain is seen as such, and not as robustness
    clean = cells[(cells["endpoint"] == "clean") & (cells["intermediate"] == "mnli")]
    assert (clean["gain"] > 0.02).all() and not primary[primary["intermediate"] == "mnli"]["flagged"].any()


def test_the_summary_opens_with_the_answer_and_states_the_design(report: dict) -> None:
    summary = (report["out"] / "summary.md").read_text()
    answer = summary.split("## Answer", 1)[1].split("## xnli", 1)[0]
    assert "conditional robust accuracy" in answer
    assert "hellaswag in ar" in answer and "hellaswag in ur" in answer
    assert "detects (80% power" in answer and "nan" not in answer.lower()
    assert "no change of any size" not in answer  # 5 seeds, 300 examples: every MDE is a few points
    design = report["findings"]["targets"]["xnli"]["design"]
    assert design["seeds"] == [0, 1, 2, 3, 4] and design["english_reported_apart"] is True
    assert set(design["zero_shot_languages"]) == set(LANGUAGES)
    assert report["findings"]["targets"]["xnli"]["correlation"]["testable"] is True
    mde = report["findings"]["targets"]["xnli"]["mde"]
    assert 0 < mde["headline_median"] < mde["cells_median"] < 0.3


def test_a_design_that_cannot_detect_any_change_says_so_in_words(tmp_path: Path) -> None:
    """2 seeds, 60 examples, a large seed spread: the per-language MDE is over
    100 points, more than a share can move. The report says no change of
    any size is detectable there, never "a change of about 117 points"."""
    design = ExampleDesign(languages=("ar", "de"), intermediates=("none", "qqp"), seeds=2, n_examples=60, seed_sd=2.0)
    examples = example_rows(simulate_examples(design, 1, rng=3))
    rows = pd.concat([aggregate_rows(examples), trial_rows(intermediates=("none", "qqp"))], ignore_index=True)
    sweep = write_sweep_dir(tmp_path / "sweep", rows, examples=examples)
    proc = run_cli(["analyze", str(sweep), "--out", str(tmp_path / "report"), "--jobs", "1"])
    assert proc.returncode == 0, proc.stderr
    findings = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert findings["targets"]["xnli"]["mde"]["cells_median"] >= 1.0  # the design, as planted
    summary = (tmp_path / "report" / "summary.md").read_text()
    answer = summary.split("## Answer", 1)[1].split("## xnli", 1)[0]
    assert "no change of any size in one language" in answer and "the endpoint spans 100" in answer
    assert "a change in one language of about" not in answer
    design_items = summary.split("## xnli", 1)[1]
    assert "per cell none (" in design_items  # the design list: no MDE over 100 printed as if detectable
    # intervals end where a share's gain must: within [-100, +100] points (this design reaches the edge)
    cells = pd.read_csv(tmp_path / "report" / "xnli_cells.csv")
    assert cells["ci_low"].min() >= -1.0 and cells["ci_high"].max() <= 1.0
    assert ((cells["ci_low"] == -1.0) | (cells["ci_high"] == 1.0)).any()


def test_models_at_chance_in_a_language_are_named_in_the_answer(tmp_path: Path) -> None:
    """XNLI (3 classes) at 0.34 clean in ar and 0.75 in de: the answer says ar
    is indistinguishable from chance (what the robustness endpoint then
    means), and names no other language."""
    design = ExampleDesign(languages=("ar", "de"), intermediates=("none", "qqp"), seeds=2, n_examples=300,
                           clean_accuracy=(0.34, 0.75))  # fmt: skip
    examples = example_rows(simulate_examples(design, 1, rng=5))
    rows = pd.concat([aggregate_rows(examples), trial_rows(intermediates=("none", "qqp"))], ignore_index=True)
    sweep = write_sweep_dir(tmp_path / "sweep", rows, examples=examples)
    proc = run_cli(["analyze", str(sweep), "--out", str(tmp_path / "report"), "--jobs", "1"])
    assert proc.returncode == 0, proc.stderr
    answer = (tmp_path / "report" / "summary.md").read_text().split("## Answer", 1)[1].split("## xnli", 1)[0]
    assert "xnli: in zero-shot ar, clean accuracy is indistinguishable from chance (0.33)" in answer, answer
    assert "right by luck" in answer and "zero-shot ar, de" not in answer


def test_an_old_sweep_with_aggregate_rows_only_still_opens(tmp_path: Path) -> None:
    sweep = write_sweep_dir(tmp_path / "old", pd.concat([confirm_rows(languages=("ar", "de", "en"), seeds=2), trial_rows()]))
    best = run_cli(["best", str(sweep), "--target", "xnli", "--metric", "attack_success_rate", "--attack", "typo", "--json"])
    assert best.returncode == 0, best.stderr
    assert {b["language"] for b in json.loads(best.stdout)} == {"ar", "de", "en"}
    proc = run_cli(["analyze", str(sweep), "--out", str(tmp_path / "report"), "--jobs", "1"])
    assert proc.returncode == 0, proc.stderr
    assert "need them" in proc.stdout and "per-example" in proc.stdout
    findings = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert "conditional robust accuracy" in findings["targets"]["xnli"]["needs_per_example_rows"]


def _chromium_console(url: str, shot: Path, tmp: Path) -> str:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--window-size=1280,2400", f"--screenshot={shot}",
    ]  # fmt: skip
    proc = subprocess.run([CHROMIUM, *flags, url], capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp)})
    return proc.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (CI installs it)")
def test_html_report_renders_in_headless_chromium_without_console_errors(report: dict, tmp_path: Path) -> None:
    # The detector works: a page with a script error is caught.
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>throw new Error('planted-error')</script></body></html>")
    assert any("planted-error" in line for line in _console_errors(_chromium_console(bad.as_uri(), tmp_path / "bad.png", tmp_path)))
    shot = tmp_path / "report.png"
    log = _chromium_console((report["out"] / "report.html").as_uri(), shot, tmp_path)
    assert shot.is_file() and shot.stat().st_size > 20_000, log[-2000:]
    assert _console_errors(log) == []
    assert "net::ERR" not in log  # self-contained: nothing fetched
