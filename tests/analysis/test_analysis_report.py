"""``raygrid analyze`` on a sweep directory written through the store: planted
effects in the report, the sweep-dir contract checks, and the HTML in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.synthetic import Planted, confirm_rows, trial_rows, write_sweep_dir
from raygrid.testing.sweepdir import check_best_and_analyze

CHROMIUM = "/usr/bin/chromium"
ARABIC_SCRIPT = ("ar", "ur")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A synthetic sweep (hellaswag +3 points robust accuracy in Arabic-script
    languages only) analysed through the CLI."""
    root = tmp_path_factory.mktemp("sweep")
    rows = confirm_rows(
        languages=("ar", "de", "en", "hi", "ru", "th", "ur", "zh"),
        planted=[Planted("hellaswag", ARABIC_SCRIPT, robust_gain=0.03)],
        seeds=8,
        n_attacked=2000,
        rng=1,
    )
    sweep = write_sweep_dir(root / "sweep", pd.concat([rows, trial_rows()]))
    out = root / "report"
    checked = check_best_and_analyze(sweep, target="xnli", out_dir=out)
    return {**checked, "out": out, "sweep": sweep}


def test_report_flags_exactly_the_planted_cells(report: dict) -> None:
    flagged = {(c["intermediate"], c["language"]) for c in report["findings"]["targets"]["xnli"]["flagged_cells"]}
    assert flagged == {("hellaswag", lang) for lang in ARABIC_SCRIPT}
    assert all(c["gain"] > 0 for c in report["findings"]["targets"]["xnli"]["flagged_cells"])
    summary = (report["out"] / "summary.md").read_text()
    assert "| hellaswag | ar |" in summary and "| hellaswag | ur |" in summary
    gains = pd.read_csv(report["out"] / "xnli_gains.csv")
    assert len(gains) == 7 * 8 and gains["flagged"].sum() == 2


def test_oracle_best_picks_the_planted_intermediate(report: dict) -> None:
    by = {(b["language"], b["attack"]): b["intermediate"] for b in report["oracle"]}
    assert by[("ar", "polygloss")] == "hellaswag" or by[("ur", "polygloss")] == "hellaswag"


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


@pytest.mark.skipif(shutil.which("duckdb") is None, reason="duckdb CLI not installed")
def test_store_is_readable_by_duckdb(report: dict) -> None:  # pragma: no cover - optional tool
    results = report["sweep"] / "results"
    q = f"select count(*) from read_parquet('{results}/target=*/language=*/*.parquet', hive_partitioning=true)"
    assert subprocess.run(["duckdb", "-c", q], capture_output=True, text=True).returncode == 0


def test_parallel_analysis_gives_the_same_report(tmp_path: Path) -> None:
    from analysis.report import analyze

    frames = [
        confirm_rows(target=t, languages=("ar", "de", "en", "ur"), planted=[Planted("mnli", ("de",), robust_gain=0.05)], seeds=4, rng=k)
        for k, t in enumerate(("xnli", "pawsx"))
    ]
    sweep = write_sweep_dir(tmp_path / "sweep", pd.concat(frames))
    one = analyze(sweep, tmp_path / "one", n_boot=100, jobs=1)
    two = analyze(sweep, tmp_path / "two", n_boot=100, jobs=2)
    assert set(one.targets) == set(two.targets) == {"xnli", "pawsx"}
    assert (tmp_path / "one" / "findings.json").read_text() == (tmp_path / "two" / "findings.json").read_text()
    for target in one.targets:
        name = f"{target}_gains.csv"
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()
