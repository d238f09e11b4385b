"""The report: per target, the robustness analysis on per-example paired
outcomes (:mod:`analysis.robustness`), figures, a self-contained HTML page
(images embedded as base64 PNG, no external JS or CSS), a Markdown summary
that opens with the answer, and machine-readable tables (CSV +
``findings.json``).

A sweep folder written before per-example rows existed (aggregate rows
only) still gets a report: the per-seed means, and a statement of which
analyses need per-example rows.

Example:
    >>> report = analyze("runs/sweep", "runs/sweep-report")  # doctest: +SKIP
    >>> report.targets["xnli"].headline  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import functools
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis import figure_checks, figures
from analysis.robustness import PRIMARY, TargetRobustness, analyze_examples
from analysis.runs import confirm_runs
from analysis.stats import holm
from analysis.tables import (
    EFFECT,
    ENDPOINT_RANGE_POINTS,
    ENDPOINT_NAMES,
    display_summary,
    effect,
    effect_pivot,
    effect_table,
    load_confirm,
    load_examples,
    mde_phrase,
    mde_points,
    p_value,
    summary_table,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ENDPOINT_LABEL = {
    "conditional_robust_accuracy": "conditional robust accuracy (1 - attack success rate on the examples right clean)",
    "robust_accuracy": "robust accuracy (accuracy under attack; mixes transfer and robustness)",
    "clean": "clean score (transfer)",
}
#: What needs per-example rows, said when a sweep has none.
NEEDS_EXAMPLES = (
    "the paired robustness endpoint (conditional robust accuracy), its intervals and tests, the headline per "
    "intermediate, the correlation test and the minimum detectable effects"
)

METHOD_NOTES = """\
<p><b>Data.</b> Only confirm-stage runs count: each target cell's selected configuration retrained with
several seeds (model selection saw English dev data only: the zero-shot protocol). Every run of a target
is evaluated on the same seeded example subsample per language, clean and under each attack, and writes
one row per example (<code>results/_examples</code>, docs/results.md). Contrasts pair an intermediate task's
runs with standard fine-tuning (<code>none</code>) on the same examples and the same seed numbers.</p>
<p><b>Endpoints.</b> Primary: <i>conditional robust accuracy</i> = 1 - attack success rate = the share of the
examples a model gets right clean that it still gets right under attack, averaged over the attacks that
every zero-shot language of the target supports (attacks some language cannot take are reported per attack
only). Clean transfer changes which examples are attacked, not this share, so an intermediate task that only
improves clean accuracy does not move it. Secondary, reported as such and never flagged: the clean-transfer
gain and the gain in robust accuracy (accuracy under attack = clean accuracy x conditional robust accuracy,
which mixes the two). For span QA and tagging, "right" is the attack goal's criterion (F1 above its threshold;
a word tagged right) and scores are the task's per-example scores.</p>
<p><b>Uncertainty.</b> The contrast is the mean over seeds and examples (and zero-shot languages for the
headline) of the paired per-example differences; a ratio endpoint enters through its delta-method
linearisation. Its variance has a seed term (the spread of the per-seed contrasts, language-averaged, so a
run effect shared by the languages of one trained model is counted once) and an example term (the
persistent per-example differences, by the method of moments of the crossed two-way random-effects model),
each estimated per contrast, never pooled. The 95% interval is
sqrt(t<sub>k-1</sub><sup>2</sup> V<sub>seed</sub> + z<sup>2</sup> V<sub>example</sub>) wide on each side
(each variance term scaled by the critical value of its own degrees of freedom; Banerjee 1960); with 2-3
seeds the seed term has 1-2 df, so intervals are wide: that is the honest price of few seeds. p is the
level at which the interval touches zero. The cluster structure (seeds, then examples) follows the
recommendations of Dror et al. (2018, 2019) and Koehn's (2004) paired comparison on the same test examples;
benchmarks/stats_calibration.py measures coverage and false-positive rates by simulation at 2, 3 and 5
seeds (docs/benchmarks.md).</p>
<p><b>Families.</b> Confirmatory: per target, every (intermediate, zero-shot language) cell, Holm at alpha; the
headline per intermediate (averaged over the target's zero-shot languages), Holm over all (target,
intermediate) pairs of the report. English, the training language, is a family of its own. Per-attack
contrasts are exploratory: unadjusted, for reading, not for claims. The minimum detectable effect (MDE) is
the true contrast the family's test detects with 80% power at its Bonferroni level alpha/m (a bound on
Holm's first step).</p>
<p><b>Correlation.</b> Per target: Spearman's rho across intermediate tasks between clean-transfer gain and
robustness gain, cross-fitted (clean gains from one half of the seeds, robustness gains from the other, and
back) so noise shared by the two scores of one run cannot pass for an association, averaged over zero-shot
languages; p from permuting the intermediate labels (exact when (I-1)! is small), one permutation for all
languages. With I-1 intermediates the smallest reachable p is 2/(I-1)!; below 5 intermediates the test
cannot reach 0.05 and the report says so.</p>
<p><b>Replication.</b> When the sweep retrains the intermediate phase for every confirm seed
(<code>confirm.replicate_intermediate</code>), the seed term covers intermediate-training variance; when it
does not, inference is conditional on one intermediate checkpoint, and the report says so.</p>
"""


@dataclass
class Report:
    html_path: Path
    markdown_path: Path
    targets: dict[str, TargetRobustness]
    headlines: list[str]
    answer: list[str] = field(default_factory=list)


def _pts(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x * 100:+.1f}"


def _p_is(p: float) -> str:
    """The p-value phrase: "p=0.27" or "p<0.001"."""
    text = p_value(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _ci(lo: float, hi: float) -> str:
    return f"[{_pts(lo)}, {_pts(hi)}]"


def _analyze_target(sweep_dir: Path | str, target: str, *, alpha: float, n_perm: int, seed: int) -> TargetRobustness | None:
    """One target: its per-example rows read here (in the worker: the parent
    never holds every target's rows), then :func:`analyze_examples`."""
    examples = load_examples(sweep_dir, [target])
    return analyze_examples(examples, target, alpha=alpha, n_perm=n_perm, rng=seed) if len(examples) else None


def _analyze_targets(sweep_dir: Path | str, targets: list[str], *, alpha: float, n_perm: int, seed: int, jobs: int | None) -> dict[str, TargetRobustness | None]:
    """:func:`_analyze_target` per target, in a process pool when there is
    more than one target and more than one CPU; each target's permutations
    are seeded from ``seed`` alone, so the report is the same for any ``jobs``."""
    import os

    run = functools.partial(_analyze_target, sweep_dir, alpha=alpha, n_perm=n_perm, seed=seed)
    workers = min(len(targets), jobs if jobs is not None else (os.cpu_count() or 1))
    if workers <= 1:
        return {t: run(t) for t in targets}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {t: pool.submit(run, t) for t in targets}
        return {t: f.result() for t, f in futures.items()}


def _apply_headline_holm(results: dict[str, TargetRobustness], alpha: float) -> None:
    """Holm over every (target, intermediate) headline contrast of the report."""
    frames = [(t, r.headline) for t, r in results.items() if not r.headline.empty]
    p = np.concatenate([h["p"].to_numpy(float) for _, h in frames]) if frames else np.array([])
    adjusted = holm(p)
    m = len(p)
    start = 0
    for _, h in frames:
        h["p_holm"] = adjusted[start : start + len(h)]
        h["flagged"] = h["p_holm"] < alpha
        start += len(h)
    for r in results.values():
        if r.headline.empty:
            r.headline["p_holm"] = pd.Series(dtype=float)
            r.headline["flagged"] = pd.Series(dtype=bool)
        r.headline.attrs["family_size"] = m


def answer_lines(
    results: dict[str, TargetRobustness], alpha: float, chance: dict[str, str] | None = None
) -> list[str]:
    """The summary's opening: which intermediates changed robustness where, by
    how much, and what the design could not detect; ``chance``: per target,
    the sentence saying where its models are no better than guessing
    (:mod:`analysis.chance`), after that target's findings."""
    lines = [
        "Endpoint tested: conditional robust accuracy (1 - attack success rate on the examples each model gets "
        "right clean), intermediate-task training minus standard fine-tuning, paired on examples and seeds; "
        f"gains in points with 95% intervals; flags at Holm-adjusted p < {alpha}."
    ]
    for target, r in results.items():
        d = r.design
        h = r.headline
        flagged_h = h[h["flagged"].astype(bool)] if len(h) else h
        cells = r.cells[(r.cells["family"] == "cells")]
        flagged_c = cells[cells["flagged"].astype(bool)]
        if not d.attacks:
            lines.append(f"{target}: no attack is supported by every zero-shot language; see the per-attack table.")
            continue
        if len(flagged_h):
            parts = [f"{x.intermediate} {_pts(x.gain)} {_ci(x.ci_low, x.ci_high)}" for x in flagged_h.itertuples()]
            lines.append(f"{target}: averaged over {len(d.zero_shot)} zero-shot languages, robustness changed with " + "; ".join(parts) + ".")
        if len(flagged_c):
            parts = [f"{x.intermediate} in {x.language} {_pts(x.gain)} {_ci(x.ci_low, x.ci_high)}" for x in flagged_c.sort_values("p").itertuples()]
            lines.append(f"{target}: per language, {len(flagged_c)} of {len(cells)} cells changed: " + "; ".join(parts[:8]) + (" ..." if len(parts) > 8 else "") + ".")
        if not len(flagged_h) and not len(flagged_c):
            lines.append(f"{target}: no intermediate task changed robustness detectably, averaged over languages or in any one language.")
        mde_h = float(np.nanmedian(h["mde"])) if len(h) and h["mde"].notna().any() else float("nan")
        mde_c = float(np.nanmedian(cells["mde"])) if len(cells) and cells["mde"].notna().any() else float("nan")
        if np.isfinite(mde_h) or np.isfinite(mde_c):
            finite = [(m, where) for m, where in ((mde_h, "averaged over languages"), (mde_c, "in one language")) if np.isfinite(m)]
            some = any(abs(m) * 100 < ENDPOINT_RANGE_POINTS for m, _ in finite)
            lines.append(
                f"{target}: with {len(d.seeds)} seeds and about {_median_examples(d)} examples per language, this design detects "
                "(80% power; medians over contrasts) " + " and ".join(mde_phrase(m, where) for m, where in finite)
                + ("; smaller effects may exist undetected." if some else "; an effect of any size may exist undetected.")
            )
        else:
            lines.append(f"{target}: with {len(d.seeds)} seed(s) the seed variance cannot be estimated: no interval or test is possible; run >= 2 (better 3-5) confirm seeds.")
        if chance and chance.get(target):
            lines.append(chance[target])
        conditional = [name for name, rep in d.replicated.items() if rep is False]
        if conditional:
            lines.append(f"{target}: the intermediate phase of {', '.join(conditional)} was not retrained per seed: inference is conditional on one intermediate checkpoint.")
    return lines


def _median_examples(d: Any) -> int:
    values = [d.n_examples[lang] for lang in d.zero_shot if lang in d.n_examples]
    return int(np.median(values)) if values else 0


def _headline_text(target: str, r: TargetRobustness) -> str:
    cells = r.cells[r.cells["family"] == "cells"]
    n_flag = int(cells["flagged"].astype(bool).sum())
    n_h = int(r.headline["flagged"].astype(bool).sum()) if len(r.headline) else 0
    corr = r.correlation
    corr_text = (
        f"correlation of clean-transfer and robustness gains: rho={corr['statistic']:+.2f}, {_p_is(corr['p'])}"
        if corr.get("testable")
        else f"correlation not tested: {corr.get('reason')}"
    )
    return (
        f"{target}: {n_h} of {len(r.headline)} intermediate(s) changed conditional robust accuracy averaged over "
        f"{len(r.design.zero_shot)} zero-shot languages; {n_flag} of {len(cells)} (intermediate, language) cells; {corr_text}"
    )


def analyze(
    sweep_dir: Path | str,
    out_dir: Path | str,
    *,
    targets: list[str] | None = None,
    alpha: float = 0.05,
    n_perm: int = 2000,
    seed: int = 0,
    jobs: int | None = None,
) -> Report:
    """Analyses a sweep directory and writes ``report.html``, ``summary.md``,
    CSV tables and ``findings.json`` under ``out_dir``.

    Raises:
        DataError: not a sweep directory or no confirm rows.
        ConfigError: an unknown target.
    """
    rows = load_confirm(sweep_dir, targets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_table(rows)
    summary.to_csv(out / "summary_table.csv", index=False)
    names = sorted(map(str, rows["task"].unique()))
    from raygrid.query import results_dir
    from raygrid.store import has_examples

    computed = _analyze_targets(sweep_dir, names, alpha=alpha, n_perm=n_perm, seed=seed, jobs=jobs) if has_examples(results_dir(sweep_dir)) else {}
    results = {t: r for t, r in computed.items() if r is not None}
    without = [t for t in names if t not in results]
    _apply_headline_holm(results, alpha)
    planned = confirm_runs(sweep_dir)
    for target, r in results.items():
        r.notes.extend(run_status_lines(planned, target))
    headlines = [_headline_text(t, r) for t, r in results.items()]
    headlines += [f"{t}: no per-example confirm rows with a baseline: {NEEDS_EXAMPLES} need them" for t in without]
    answer = answer_lines(results, alpha, chance=_chance_lines(summary, results))
    if without:
        answer.append(
            f"{', '.join(without)}: no per-example confirm rows with a baseline (a sweep run before raygrid wrote them, "
            f"or no `none` intermediate): {NEEDS_EXAMPLES} need them; the tidy table of per-seed means is in the report"
        )
    findings: dict[str, Any] = {"alpha": alpha, "n_perm": n_perm, "seed": seed, "primary_endpoint": PRIMARY, "targets": {}}
    for target, r in results.items():
        _write_tables(out, target, r)
        findings["targets"][target] = _findings(r)
        r.figures = _figures(target, r, alpha)
    for target in without:
        findings["targets"][target] = {"needs_per_example_rows": NEEDS_EXAMPLES}
    findings["answer"] = answer
    (out / "findings.json").write_text(json.dumps(findings, indent=2, default=_json_default) + "\n")
    html_path = out / "report.html"
    html_path.write_text(_html(results, without, summary, answer, sweep_dir, alpha), encoding="utf-8")
    md_path = out / "summary.md"
    md_path.write_text(_markdown(results, without, answer, sweep_dir, alpha), encoding="utf-8")
    return Report(html_path, md_path, results, headlines, answer)


def _chance_lines(summary: pd.DataFrame, results: dict[str, TargetRobustness]) -> dict[str, str]:
    from analysis.chance import at_chance, chance_level, chance_line

    out: dict[str, str] = {}
    for target, r in results.items():
        level = chance_level(target)
        if level is None:
            continue
        line = chance_line(target, level, at_chance(summary, target, r.design.zero_shot, level), len(r.design.zero_shot))
        if line is not None:
            out[target] = line
    return out


def run_status_lines(planned: pd.DataFrame | None, target: str) -> list[str]:
    """The planned confirm runs of ``target`` that failed or are missing, in words."""
    if planned is None:
        return ["planned runs: unknown (no readable sweep.json); holes are judged from the rows alone"]
    runs = planned[planned["target"] == target]
    lines = [f"planned confirm runs: {len(runs)}, done {int((runs['status'] == 'done').sum())}"]
    for status in ("failed", "missing"):
        bad = runs[runs["status"] == status]
        if len(bad):
            listed = "; ".join(
                f"{x.intermediate} seed {x.seed}" + (f" ({str(x.error).splitlines()[0][:120]})" if x.error else "")
                for x in bad.itertuples()
            )
            lines.append(f"{status} confirm runs ({len(bad)}): {listed}")
    return lines


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _findings(r: TargetRobustness) -> dict[str, Any]:
    d = r.design
    cells = r.cells
    primary = cells[cells["family"] == "cells"]
    return {
        "design": {
            "intermediates": d.intermediates, "seeds": d.seeds, "zero_shot_languages": d.zero_shot,
            "english_reported_apart": d.english, "examples_per_language": d.n_examples, "attacks_averaged": d.attacks,
            "attacks_reported_per_attack_only": d.attacks_dropped, "intermediate_replicated_per_seed": d.replicated,
        },
        "headline": _records(r.headline),
        "flagged_cells": _records(primary[primary["flagged"].astype(bool)][["intermediate", "language", "gain", "ci_low", "ci_high", "p_holm"]]),
        "n_cells": int(len(primary)),
        "mde": {
            "headline_median": _median(r.headline["mde"]) if len(r.headline) else None,
            "cells_median": _median(primary["mde"]),
            "english_median": _median(cells[cells["family"] == "english"]["mde"]),
        },
        "correlation": r.correlation,
        "missing_runs": r.missing,
        "notes": r.notes,
    }  # fmt: skip


def _median(values: pd.Series) -> float | None:
    v = values.to_numpy(float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


def _write_tables(out: Path, target: str, r: TargetRobustness) -> None:
    r.cells.assign(target=target).to_csv(out / f"{target}_cells.csv", index=False)
    r.headline.assign(target=target).to_csv(out / f"{target}_headline.csv", index=False)
    r.per_attack.assign(target=target).to_csv(out / f"{target}_per_attack.csv", index=False)


def figure_set(target: str, r: TargetRobustness, alpha: float = 0.05) -> dict[str, Figure]:
    """The report's figures of one target, as matplotlib Figures (none without the primary endpoint)."""
    primary = r.cells[r.cells["endpoint"] == PRIMARY]
    if primary.empty:
        return {}
    zero = primary[primary["family"] == "cells"]
    clean = r.cells[r.cells["endpoint"] == "clean"][["intermediate", "language", "gain"]].rename(columns={"gain": "clean_gain"})
    gains = clean.merge(zero[["intermediate", "language", "gain"]].rename(columns={"gain": "robust_gain"}), on=["intermediate", "language"])
    per_attack = r.per_attack[r.per_attack["endpoint"] == PRIMARY]
    out = {
        "headline": figures.headline_heatmap(zero, f"{target}: conditional robust accuracy, gain over standard fine-tuning", r.headline, alpha),
        "forest": figures.forest(zero, f"{target}: conditional robust accuracy gain per language"),
        "scatter": figures.clean_vs_robust(gains, f"{target}: clean-transfer gain vs robustness gain"),
    }
    if not per_attack.empty:
        out["heatmaps"] = figures.heatmaps(per_attack, f"{target}: conditional robust accuracy gain per attack (exploratory)")
    return out


def _figures(target: str, r: TargetRobustness, alpha: float) -> dict[str, bytes]:
    """:func:`figure_set` as PNGs; a figure the legibility check
    (:mod:`analysis.figure_checks`) finds fault with gets a note."""
    out = {}
    for key, fig in figure_set(target, r, alpha).items():
        found = figure_checks.problems(fig, max_css_width=figures.MAX_CSS_WIDTH)
        if found:
            r.notes.append(f"figure {key!r} is not fully legible: " + "; ".join(found[:3]) + (" ..." if len(found) > 3 else ""))
        out[key] = figures.png(fig)
    return out


#: Columns that hold names, not numbers: left-aligned.
TEXT_COLUMNS = {"target", "intermediate", "language", "attack", "endpoint", "metric", "flagged"}
#: A table of class ``leadK`` has its first K columns (names) left-aligned.
_LEAD_CSS = "".join(f"table.lead{k} td:nth-child(-n+{k}),table.lead{k} th:nth-child(-n+{k}){{text-align:left}}" for k in range(1, 6))


def _table(frame: pd.DataFrame, max_rows: int = 200) -> str:
    shown = frame.head(max_rows)
    lead = next((k for k, c in enumerate(shown.columns) if c not in TEXT_COLUMNS), len(shown.columns))
    body = shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes=f"t lead{min(lead, 5)}", na_rep="")
    more = f"<p class='note'>{len(frame) - max_rows} more rows in the CSV files.</p>" if len(frame) > max_rows else ""
    return body + more


def _img(png: bytes, alt: str) -> str:
    """The PNG embedded at its natural size (its fonts at their point size; see :mod:`analysis.figures`)."""
    width, height = figures.css_size(png)
    return f'<img alt="{html.escape(alt)}" width="{width}" height="{height}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _headline_caption(r: TargetRobustness, alpha: float) -> str:
    attacks = ", ".join(r.design.attacks) or "none"
    return (
        "<p class='caption'>Change in conditional robust accuracy (the share of the examples a model gets right clean that it "
        "still gets right under attack), intermediate-task training minus standard fine-tuning, in points, paired on examples "
        f"and seeds ({len(r.design.seeds)} seeds), averaged over the attacks {html.escape(attacks)}; under each value its 95% "
        f"interval. Blue: more robust than the baseline; red: less. * and a frame: Holm-adjusted p &lt; {alpha:g} (cells: Holm "
        "over the target's (intermediate, language) cells; the last row, the mean over zero-shot languages: Holm over every "
        "(target, intermediate) pair of the report).</p>"
    )


def _design_items(r: TargetRobustness) -> list[str]:
    d = r.design
    n = [d.n_examples[lang] for lang in d.zero_shot if lang in d.n_examples]
    items = [
        f"baseline (standard fine-tuning) and {len(d.intermediates)} intermediate task(s): {', '.join(d.intermediates) or 'none'}",
        f"{len(d.seeds)} confirm seed(s): {', '.join(map(str, d.seeds))}",
        f"{len(d.zero_shot)} zero-shot language(s): {', '.join(d.zero_shot)}" + ("; English reported apart" if d.english else ""),
        f"examples per language: {min(n) if n else 0}-{max(n) if n else 0} (the same subsample for every run, clean and attacked)",
        f"attacks averaged: {', '.join(d.attacks) or 'none'}",
    ]
    for attack, langs in d.attacks_dropped.items():
        items.append(f"{attack}: not available in {', '.join(langs)}; reported per attack only")
    reps = {v for v in d.replicated.values()}
    if reps == {True}:
        items.append("the intermediate phase was retrained for every seed: intervals cover intermediate-training variance")
    elif False in reps:
        items.append("the intermediate phase was NOT retrained per seed: inference is conditional on one intermediate checkpoint")
    items.append(_mde_text(r))
    if r.missing:
        items.append("missing runs: " + "; ".join(f"{m['intermediate']} seed {m['seed']} ({', '.join(m['languages'])})" for m in r.missing))
    else:
        items.append("missing runs: none (every intermediate x seed has rows in every language)")
    return items + list(r.notes)


def _mde_text(r: TargetRobustness) -> str:
    cells = r.cells[r.cells["family"] == "cells"]
    h, c = (_median(r.headline["mde"]) if len(r.headline) else None), _median(cells["mde"])
    if h is None and c is None:
        return "minimum detectable effect: none can be estimated (fewer than 2 seeds)"
    return (
        "minimum detectable effect at 80% power (median over contrasts, at the family's Bonferroni level), in points: "
        f"headline {mde_points(h if h is not None else float('nan'))}, per cell {mde_points(c if c is not None else float('nan'))}"
    )


def _html(results: dict[str, TargetRobustness], without: list[str], summary: pd.DataFrame, answer: list[str], sweep_dir: Path | str, alpha: float) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>raygrid robustness report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;font-size:15px}"
        "table.t{border-collapse:collapse;font-size:13px;margin:0.5em 0;font-variant-numeric:tabular-nums}table.t td,table.t th{padding:2px 6px;"
        "border-bottom:1px solid #ddd;text-align:right}" + _LEAD_CSS + "img{max-width:100%;height:auto;display:block;margin:1em 0}"
        ".note{color:#555;font-size:13px}.caption{color:#333;font-size:14px;max-width:60em;margin-top:-0.5em}h2{border-bottom:2px solid #ccc}.answer{background:#f4f7fb;padding:0.6em 1em}</style></head><body>",
        "<h1>Intermediate-task training and adversarial robustness</h1>",
        f"<p class='note'>Sweep: {html.escape(str(sweep_dir))}. Flags: Holm-adjusted p &lt; {alpha}.</p>",
        "<div class='answer'><h2>Answer</h2>" + "".join(f"<p>{html.escape(a)}</p>" for a in answer) + "</div>",
    ]
    for target in without:
        parts.append(f"<h2>{html.escape(target)}</h2><p>This sweep has no per-example confirm rows with a baseline for "
                     f"{html.escape(target)} (sweeps run before raygrid wrote them): {NEEDS_EXAMPLES} need them. "
                     "Per-seed means are in the tidy table below.</p>")  # fmt: skip
    for target, r in results.items():
        parts.append(f"<h2 id='{html.escape(target)}'>{html.escape(target)}</h2>")
        figs = r.figures
        if "headline" in figs:
            parts.append("<h3>Headline figure</h3>" + _img(figs["headline"], f"{target} headline") + _headline_caption(r, alpha))
        parts.append("<h3>Design</h3><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in _design_items(r)) + "</ul>")
        parts.append("<h3>Per intermediate, averaged over zero-shot languages (confirmatory, Holm across targets)</h3>")
        parts.append(_table(effect_table(r.headline)) if len(r.headline) else "<p>Not formed (see the design).</p>")
        primary = r.cells[r.cells["family"] == "cells"]
        parts.append("<h3>Per (intermediate, language) cells, conditional robust accuracy (confirmatory, Holm per target)</h3>")
        parts.append(_table(effect_table(primary.drop(columns=["endpoint", "family"]))) if len(primary) else "<p>None.</p>")
        for key, caption in (("forest", "Forest plot"), ("scatter", "Clean-transfer gain vs robustness gain")):
            if key in figs:
                parts.append(f"<h3>{caption}</h3>" + _img(figs[key], f"{target} {caption}"))
        corr = r.correlation
        parts.append("<h3>Correlation of clean-transfer gain with robustness gain</h3>")
        if corr.get("testable"):
            parts.append(f"<p>Cross-fitted Spearman rho averaged over {len(r.design.zero_shot)} languages: {corr['statistic']:+.3f}, "
                         f"permutation {_p_is(corr['p'])} (smallest reachable p {corr['min_p']:.3g}; {corr['n_seeds']} seeds).</p>")  # fmt: skip
        else:
            parts.append(f"<p>Not tested: {html.escape(str(corr.get('reason')))}.</p>")
        secondary = r.cells[r.cells["family"] == "secondary"]
        parts.append("<h3>Secondary endpoints (reported, not flagged)</h3>")
        parts.append(_table(effect_table(secondary.drop(columns=["p_holm", "flagged", "family"]))) if len(secondary) else "<p>None.</p>")
        english = r.cells[r.cells["family"] == "english"]
        if len(english):
            parts.append("<h3>English (the training language; its own family)</h3>" + _table(effect_table(english.drop(columns=["family"]))))
        if "heatmaps" in figs:
            parts.append("<h3>Per attack (exploratory, unadjusted)</h3>" + _img(figs["heatmaps"], f"{target} per attack"))
        for endpoint, rows in r.per_attack.groupby("endpoint", sort=False):
            parts.append(f"<p class='note'>{html.escape(ENDPOINT_NAMES.get(str(endpoint), str(endpoint)))} per attack: {EFFECT}, "
                         f"unadjusted (p and MDE in {html.escape(target)}_per_attack.csv)</p>" + _table(effect_pivot(rows)))  # fmt: skip
    parts.append("<h2>Tidy table (mean over seeds, aggregate rows)</h2>")
    parts.append(_table(display_summary(summary)))
    parts.append("<h2>Method notes</h2>" + METHOD_NOTES)
    parts.append("</body></html>")
    return "\n".join(parts)


def _markdown(results: dict[str, TargetRobustness], without: list[str], answer: list[str], sweep_dir: Path | str, alpha: float) -> str:
    lines = [f"# Robustness report: {sweep_dir}", "", "## Answer", "", *[x for a in answer for x in (a, "")]]
    for target in without:
        lines += [f"## {target}", "", f"No per-example confirm rows with a baseline: {NEEDS_EXAMPLES} need them.", ""]
    for target, r in results.items():
        lines += [f"## {target}", "", "Design:", "", *[f"- {i}" for i in _design_items(r)], ""]
        lines += ["Per intermediate, averaged over zero-shot languages (points, 95% interval, Holm p):", ""]
        lines += [f"| intermediate | {EFFECT} | p (Holm) | MDE, points | seeds |", "|---|---|---|---|---|"]
        lines += [
            f"| {x.intermediate} | {effect(x.gain, x.ci_low, x.ci_high)} | {p_value(x.p_holm)} | {mde_points(x.mde)} | {x.n_seeds} |"
            for x in r.headline.itertuples()
        ]
        flagged = r.cells[(r.cells["family"] == "cells") & r.cells["flagged"].astype(bool)].sort_values("p_holm")
        lines += ["", f"Flagged (intermediate, language) cells (Holm-adjusted p < {alpha}):", ""]
        if flagged.empty:
            lines.append("none")
        else:
            lines += [f"| intermediate | language | {EFFECT} | p (Holm) |", "|---|---|---|---|"]
            lines += [f"| {x.intermediate} | {x.language} | {effect(x.gain, x.ci_low, x.ci_high)} | {p_value(x.p_holm)} |" for x in flagged.itertuples()]
        corr = r.correlation
        lines += ["", ("Correlation (clean-transfer vs robustness gain): " + (f"rho={corr['statistic']:+.2f}, {_p_is(corr['p'])}" if corr.get("testable") else f"not tested: {corr.get('reason')}")), ""]
    lines += ["See report.html for figures, all tables and the method notes.", ""]
    return "\n".join(lines)


__all__ = ["METHOD_NOTES", "NEEDS_EXAMPLES", "Report", "analyze", "answer_lines", "figure_set"]
