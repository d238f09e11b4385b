"""The report: statistics per target, figures, a self-contained HTML page
(images embedded as base64 PNG, no external JS or CSS), a Markdown summary,
and machine-readable tables (CSV + ``findings.json``).

Example:
    >>> report = analyze("runs/sweep", "runs/sweep/report")  # doctest: +SKIP
    >>> report.targets["xnli"].cells.query("flagged")[["intermediate", "language"]]  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import functools
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import figures
from analysis.mixed import MixedResult, fit_mixed
from analysis.stats import BASELINE, correlation_tests, gain_tests
from analysis.tables import clean_per_seed, load_confirm, robust_per_seed, summary_table

METHOD_NOTES = """\
<p><b>Data.</b> Only confirm-stage runs count (each target cell's selected configuration retrained with
several seeds); HPO trial rows are ignored. Model selection inside the sweep saw English dev data only
(zero-shot protocol). Clean scores use each language's test split (dev where it has no test split).
Values are fractions in the tables and points (x100) in the figures.</p>
<p><b>Robustness gain.</b> Robust accuracy (accuracy under attack; the task's primary metric for QA/NER)
of an intermediate task minus that of standard fine-tuning (<code>none</code>), paired by language and
seed, averaged over attacks (per attack in the heatmaps).</p>
<p><b>Tests and flags.</b> Per language, seeds are blocks and intermediate tasks treatments of a complete
block design; the residual variance of the additive model (intermediate + seed) pools the
intermediates of that language, df = (I-1)(k-1), and gives a t test of each intermediate against the
baseline (exact under normal errors, valid with or without a seed effect shared across intermediates).
Holm's step-down correction over all (intermediate, language) cells of a target controls the
family-wise error rate at alpha; a cell is <i>flagged</i> when its Holm-adjusted p is below alpha.</p>
<p><b>Confidence intervals.</b> 95% percentile bootstrap over seeds and examples: seeds resampled with
replacement (the same draw for the intermediate and the baseline: paired), then each run's score
redrawn from the normal approximation of Binomial(n, v)/n for its n examples (exact for accuracy,
conservative for per-example scores in [0, 1] such as F1). CIs are per cell, not multiplicity-adjusted.</p>
<p><b>Correlation.</b> Per language, Spearman's rho across intermediate tasks between clean-transfer gain
and robustness gain. Its p-value comes from a permutation test that shuffles intermediate labels among
the runs of each seed, keeping each run's clean and robust scores together (noise shared by the two
scores of one run cannot pass for an effect). Holm over languages.</p>
<p><b>Mixed model.</b> statsmodels MixedLM: robust accuracy (points) ~ intermediate x attack (fixed,
treatment-coded against <code>none</code>), with a random intercept per language and a variance component
per training run (intermediate x seed) within language. Intermediate and attack are fixed because they
are the treatments in question; languages are random because they sample the population of target
languages the conclusions should generalise to; seed runs are random because they are exchangeable
replicates of training noise shared by all attacks evaluated on one run. Large tables are fitted on a
seeded sample of whole languages (noted below) to bound the fit time.</p>
"""


@dataclass
class TargetAnalysis:
    """Everything computed for one target."""

    target: str
    cells: pd.DataFrame  # per (intermediate, language): gain, CI, p, p_holm, flagged
    per_attack: pd.DataFrame  # per (intermediate, language, attack): gain, CI
    correlations: pd.DataFrame  # per language: rho, p, p_holm, flagged
    gains: pd.DataFrame  # per (intermediate, language): clean_gain, robust_gain
    mixed: MixedResult
    figures: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Report:
    html_path: Path
    markdown_path: Path
    targets: dict[str, TargetAnalysis]
    headlines: list[str]


def analyze_target(
    rows: pd.DataFrame, target: str, *, alpha: float = 0.05, n_boot: int = 1000, seed: int = 0, with_figures: bool = True
) -> TargetAnalysis | None:
    """Statistics (and figures) of one target; None without attacked confirm rows."""
    robust = robust_per_seed(rows, target)
    if robust.empty:
        return None
    clean = clean_per_seed(rows, target)
    rng = np.random.default_rng(seed)
    cells, per_attack = gain_tests(robust, alpha=alpha, n_boot=n_boot, rng=rng)
    correlations = correlation_tests(clean, robust, alpha=alpha, rng=rng)
    gains = _gains(clean, robust)
    mixed = fit_mixed(robust, rng=seed)
    result = TargetAnalysis(target, cells, per_attack, correlations, gains, mixed)
    if with_figures and not cells.empty:
        result.figures = {
            "heatmaps": figures.heatmaps(per_attack, f"{target}: robustness gain per attack"),
            "forest": figures.forest(cells, f"{target}: robustness gain (mean over attacks)"),
            "scatter": figures.clean_vs_robust(gains, f"{target}: clean vs robust gain"),
        }
    return result


def _analyze_targets(
    rows: pd.DataFrame, *, alpha: float, n_boot: int, seed: int, jobs: int | None
) -> dict[str, TargetAnalysis | None]:
    """``analyze_target`` for every target, in a process pool when there is
    more than one target and more than one CPU (the figures and the mixed
    model are CPU-bound, single-threaded work)."""
    import os

    targets = sorted(rows["task"].unique())
    workers = min(len(targets), jobs if jobs is not None else (os.cpu_count() or 1))
    analyze = functools.partial(analyze_target, alpha=alpha, n_boot=n_boot, seed=seed)
    if workers <= 1:
        return {t: analyze(rows, t) for t in targets}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the children already have pandas, statsmodels and matplotlib imported
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {t: pool.submit(analyze, rows[rows["task"] == t], t) for t in targets}
        return {t: f.result() for t, f in futures.items()}


def _gains(clean: pd.DataFrame, robust: pd.DataFrame) -> pd.DataFrame:
    def rel(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        means = frame.groupby(["intermediate", "language"])["value"].mean().unstack("language")
        if BASELINE not in means.index:
            return pd.DataFrame(columns=["intermediate", "language", name])
        diff = (means - means.loc[BASELINE]).drop(index=BASELINE)
        return diff.stack().rename(name).reset_index()

    return rel(clean, "clean_gain").merge(rel(robust, "robust_gain"), on=["intermediate", "language"], how="outer")


def analyze(
    sweep_dir: Path | str,
    out_dir: Path | str,
    *,
    targets: list[str] | None = None,
    alpha: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
    jobs: int | None = None,
) -> Report:
    """Analyses a sweep directory and writes ``report.html``, ``summary.md``,
    CSV tables and ``findings.json`` under ``out_dir``.

    Targets are analysed in up to ``jobs`` processes (default: one per CPU);
    each target's random streams are seeded from ``seed`` alone, so the
    report is the same for any ``jobs``.

    Raises:
        DataError: not a sweep directory, no confirm rows, or no attacked rows.
        ConfigError: an unknown target.
    """
    from raygrid.errors import DataError

    rows = load_confirm(sweep_dir, targets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        target: analysis
        for target, analysis in _analyze_targets(rows, alpha=alpha, n_boot=n_boot, seed=seed, jobs=jobs).items()
        if analysis is not None
    }
    if not results:
        raise DataError(f"no attacked confirm rows (metric 'robust_accuracy') in {str(sweep_dir)!r}")
    summary = summary_table(rows)
    summary.to_csv(out / "summary_table.csv", index=False)
    per_target: dict[str, object] = {}
    findings: dict[str, object] = {"alpha": alpha, "n_boot": n_boot, "seed": seed, "targets": per_target}
    headlines: list[str] = []
    for target, res in results.items():
        res.cells.assign(target=target).to_csv(out / f"{target}_gains.csv", index=False)
        res.per_attack.assign(target=target).to_csv(out / f"{target}_gains_per_attack.csv", index=False)
        res.correlations.assign(target=target).to_csv(out / f"{target}_correlations.csv", index=False)
        res.mixed.fixed.to_csv(out / f"{target}_mixed_fixed.csv", index=False)
        flagged = res.cells[res.cells["flagged"]]
        corr = res.correlations[res.correlations["flagged"]]
        per_target[target] = {
            "flagged_cells": [
                {"intermediate": r.intermediate, "language": r.language, "gain": float(r.gain), "p_holm": float(r.p_holm)}
                for r in flagged.itertuples()
            ],
            "flagged_correlations": [{"language": r.language, "rho": float(r.rho), "p_holm": float(r.p_holm)} for r in corr.itertuples()],
            "n_cells": int(len(res.cells)),
            "mixed_converged": res.mixed.converged,
        }
        headlines.append(
            f"{target}: {len(flagged)} of {len(res.cells)} (intermediate, language) cells with a robustness gain "
            f"different from standard fine-tuning (Holm, alpha={alpha}); {len(corr)} language(s) with a significant "
            "clean-vs-robust rank correlation"
        )
    (out / "findings.json").write_text(json.dumps(findings, indent=2) + "\n")
    html_path = out / "report.html"
    html_path.write_text(_html(results, summary, headlines, sweep_dir, alpha), encoding="utf-8")
    md_path = out / "summary.md"
    md_path.write_text(_markdown(results, headlines, sweep_dir, alpha), encoding="utf-8")
    return Report(html_path, md_path, results, headlines)


def _table(frame: pd.DataFrame, max_rows: int = 200) -> str:
    shown = frame.head(max_rows)
    body = shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes="t", na_rep="")
    more = f"<p class='note'>{len(frame) - max_rows} more rows in the CSV files.</p>" if len(frame) > max_rows else ""
    return body + more


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _html(results: dict[str, TargetAnalysis], summary: pd.DataFrame, headlines: list[str], sweep_dir: Path | str, alpha: float) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>raygrid robustness report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table.t{border-collapse:collapse;font-size:12px;margin:0.5em 0}table.t td,table.t th{padding:2px 6px;"
        "border-bottom:1px solid #ddd;text-align:right}img{max-width:100%;display:block;margin:1em 0}"
        ".note{color:#666;font-size:12px}h2{border-bottom:2px solid #ccc}</style></head><body>",
        "<h1>Intermediate-task training and adversarial robustness</h1>",
        f"<p class='note'>Sweep: {html.escape(str(sweep_dir))}. Flags: Holm-adjusted p &lt; {alpha}.</p>",
        "<ul>" + "".join(f"<li>{html.escape(h)}</li>" for h in headlines) + "</ul>",
    ]
    for target, res in results.items():
        flagged = res.cells[res.cells["flagged"]].sort_values("p_holm")
        parts.append(f"<h2 id='{html.escape(target)}'>{html.escape(target)}</h2>")
        parts.append("<h3>Flagged (intermediate, language) cells</h3>")
        parts.append(_table(flagged[["intermediate", "language", "gain", "ci_low", "ci_high", "p", "p_holm", "n_seeds"]]) if len(flagged) else "<p>None.</p>")
        for key, caption in (("heatmaps", "Heatmaps"), ("forest", "Forest plot"), ("scatter", "Clean vs robust gain")):
            if key in res.figures:
                parts.append(f"<h3>{caption}</h3>" + _img(res.figures[key], f"{target} {caption}"))
        parts.append("<h3>Rank correlation of clean-transfer gain with robustness gain, per language</h3>")
        parts.append(_table(res.correlations))
        parts.append("<h3>Mixed-effects model (robust accuracy, points)</h3>")
        var = ", ".join(f"{k}: {v:.3g}" for k, v in res.mixed.variances.items())
        parts.append(f"<p class='note'>n = {res.mixed.n_obs}; converged: {res.mixed.converged}; variances: {html.escape(var)}. {html.escape(res.mixed.note)}</p>")
        parts.append(_table(res.mixed.fixed))
        parts.append("<h3>All gains</h3>")
        parts.append(_table(res.cells.sort_values(["intermediate", "language"])))
    parts.append("<h2>Tidy table (mean over seeds)</h2>")
    parts.append(_table(summary))
    parts.append("<h2>Method notes</h2>" + METHOD_NOTES)
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(results: dict[str, TargetAnalysis], headlines: list[str], sweep_dir: Path | str, alpha: float) -> str:
    lines = [f"# Robustness report: {sweep_dir}", "", *[f"- {h}" for h in headlines], ""]
    for target, res in results.items():
        lines += [f"## {target}", "", f"Flagged cells (Holm-adjusted p < {alpha}):", ""]
        flagged = res.cells[res.cells["flagged"]].sort_values("p_holm")
        if flagged.empty:
            lines.append("none")
        else:
            lines += ["| intermediate | language | gain (points) | 95% CI | p (Holm) |", "|---|---|---|---|---|"]
            lines += [
                f"| {r.intermediate} | {r.language} | {r.gain * 100:+.2f} | [{r.ci_low * 100:+.2f}, {r.ci_high * 100:+.2f}] | {r.p_holm:.2g} |"
                for r in flagged.itertuples()
            ]
        corr = res.correlations[res.correlations["flagged"]]
        lines += ["", "Languages with a significant clean-vs-robust rank correlation: "
                  + (", ".join(f"{r.language} (rho={r.rho:.2f})" for r in corr.itertuples()) or "none"), ""]  # fmt: skip
    lines += ["See report.html for figures, all tables and the method notes.", ""]
    return "\n".join(lines)


__all__ = ["METHOD_NOTES", "Report", "TargetAnalysis", "analyze", "analyze_target"]
