"""Calibration and power of the tests of :mod:`analysis.inference` on simulated per-example outcomes.

Usage:
    PYTHONPATH=. .venv/bin/python benchmarks/stats_calibration.py [--quick] [--sims 1000] [--power-sims 500]
        [--examples 300] [--attacks 3] [--json runs/stats_calibration.json]

The design is one target of the robustness sweep: the baseline and 6
intermediates, 6 zero-shot languages of four scripts (ar, ur | bg, ru | hi |
sw), 3 attacks, ``--examples`` examples per language shared by every run
(:class:`analysis.synthetic.ExampleDesign`). Per setting (2 / 3 / 5 seeds x
a seed sd of 0.5 / 1 / 2 accuracy points) it draws ``--sims`` simulations
with clean-transfer effects planted and no robustness effect (mnli +5 points
clean in every language, squad +3, anli -2, hellaswag +4 in ar and ur; qqp
and cosmosqa none), and measures, per endpoint (conditional robust accuracy:
primary; robust accuracy and clean: secondary):

* the coverage of the 95% intervals against the exact population contrasts
  (:func:`analysis.synthetic.true_contrasts`), per (intermediate, language)
  cell and per intermediate averaged over languages (headline): mean over
  contrasts and the worst contrast;
* the false-positive rate at 0.05 over the contrasts whose true value is 0:
  unadjusted per cell, Holm family-wise per target (the cells of one
  endpoint), the headline (unadjusted and Holm over intermediates);
* for the robustness endpoints, how often a cell without a robustness
  effect is flagged (robust accuracy: the clean effect leaking in, what the
  old endpoint got wrong) and the correlation test's flag rate (clean gain vs
  robustness gain; no robustness effect, so every flag is false).

Then the power of the primary endpoint at a seed sd of 1 point for 1 / 2 /
3 / 5-point robustness effects (mnli in the two Arabic-script languages:
cells; squad in every language: headline) with the median minimum
detectable effect at 80% power (:func:`analysis.crossed.min_detectable`).
Prints markdown tables and writes the numbers as JSON. Targets (issue 17):
coverage >= 0.93 and false-positive rate <= 0.06 for every reported test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.crossed import Contrast, min_detectable  # noqa: E402
from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ENDPOINTS, ROBUST_ACCURACY  # noqa: E402
from analysis.inference import cell_contrasts, correlation_test, endpoint_values, headline_contrasts  # noqa: E402
from analysis.stats import holm_rows  # noqa: E402
from analysis.synthetic import EXAMPLE_LANGUAGES, ExampleDesign, Planted, simulate_examples, true_contrasts  # noqa: E402

ALPHA = 0.05
SEEDS = (2, 3, 5)
SEED_SDS = (0.5, 1.0, 2.0)
EFFECTS = (0.01, 0.02, 0.03, 0.05)
ARABIC = ("ar", "ur")
#: Clean-transfer effects of the null designs (no robustness effect anywhere).
CLEAN_EFFECTS = (
    Planted("mnli", EXAMPLE_LANGUAGES, clean_gain=0.05),
    Planted("squad", EXAMPLE_LANGUAGES, clean_gain=0.03),
    Planted("hellaswag", ARABIC, clean_gain=0.04),
    Planted("anli", EXAMPLE_LANGUAGES, clean_gain=-0.02),
)
CELL_EFFECT, HEADLINE_EFFECT = "mnli", "squad"
TARGET_COVERAGE, TARGET_FPR = 0.93, 0.06


@dataclass
class Draws:
    """Per-simulation results of one endpoint: cells ``(sims, I-1, L)``,
    headline ``(sims, I-1)``, correlation p ``(sims,)`` (robustness endpoints)."""

    cell: dict[str, np.ndarray]
    headline: dict[str, np.ndarray]
    correlation_p: np.ndarray | None


def _fields(c: Contrast) -> dict[str, np.ndarray]:
    return {"gain": c.gain, "low": c.ci_low, "high": c.ci_high, "p": c.p, "mde": min_detectable(c, alpha=ALPHA)}


def simulate(design: ExampleDesign, sims: int, *, rng: int = 0, batch: int = 50, n_perm: int = 2000) -> dict[str, Draws]:
    """Runs the tests of :mod:`analysis.inference` on ``sims`` simulations of ``design``."""
    parts: dict[str, list[tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None]]] = {e: [] for e in ENDPOINTS}
    gen = np.random.default_rng(rng)
    done = 0
    while done < sims:
        size = min(batch, sims - done)
        out = simulate_examples(design, size, gen)
        values = {e: [endpoint_values(*out.language(j), e) for j in range(len(design.languages))] for e in ENDPOINTS}
        for endpoint, per_lang in values.items():
            cells = [_fields(cell_contrasts(v, alpha=ALPHA)) for v in per_lang]
            cell = {key: np.stack([c[key] for c in cells], axis=-1) for key in cells[0]}
            head = _fields(headline_contrasts(per_lang, alpha=ALPHA))
            corr = None
            if endpoint != CLEAN:
                corr = correlation_test(values[CLEAN], per_lang, n_perm=n_perm, rng=gen)[1]
            parts[endpoint].append((cell, head, corr))
        done += size
    draws = {}
    for endpoint, chunks in parts.items():
        cell = {key: np.concatenate([c[0][key] for c in chunks]) for key in chunks[0][0]}
        head = {key: np.concatenate([c[1][key] for c in chunks]) for key in chunks[0][1]}
        corr = None if chunks[0][2] is None else np.concatenate([np.asarray(c[2]) for c in chunks])
        draws[endpoint] = Draws(cell, head, corr)
    return draws


def _rate(x: Any) -> float:
    x = np.asarray(x)
    return float(np.mean(x)) if x.size else float("nan")


def summarise(design: ExampleDesign, draws: dict[str, Draws]) -> dict[str, dict[str, Any]]:
    """Coverage and false-positive rates per endpoint (see the module doc)."""
    truth = true_contrasts(design)
    _, robust_gain = design.gains()
    no_robust_effect = robust_gain[1:] == 0  # (I-1, L)
    out: dict[str, dict[str, Any]] = {}
    for endpoint, d in draws.items():
        t_cell = truth[endpoint]  # (I-1, L)
        t_head = t_cell.mean(axis=1)
        null_cell = np.abs(t_cell) < 1e-9
        null_head = np.abs(t_head) < 1e-9
        cov_cell = (d.cell["low"] <= t_cell) & (t_cell <= d.cell["high"])
        cov_head = (d.headline["low"] <= t_head) & (t_head <= d.headline["high"])
        rej_cell = d.cell["p"] < ALPHA
        rej_head = d.headline["p"] < ALPHA
        sims = rej_cell.shape[0]
        holm_cell = holm_rows(d.cell["p"].reshape(sims, -1)).reshape(rej_cell.shape) < ALPHA
        holm_head = holm_rows(d.headline["p"]) < ALPHA
        row: dict[str, Any] = {
            "cell_coverage": _rate(cov_cell),
            "cell_coverage_min": float(cov_cell.mean(axis=0).min()),
            "cell_fpr": _rate(rej_cell[:, null_cell]),
            "cell_fpr_max": float(rej_cell[:, null_cell].mean(axis=0).max()) if null_cell.any() else float("nan"),
            "cell_fwer_holm": _rate(holm_cell[:, null_cell].any(axis=1)) if null_cell.any() else float("nan"),
            "headline_coverage": _rate(cov_head),
            "headline_coverage_min": float(cov_head.mean(axis=0).min()),
            "headline_fpr": _rate(rej_head[:, null_head]),
            "headline_fwer_holm": _rate(holm_head[:, null_head].any(axis=1)) if null_head.any() else float("nan"),
            "cell_reject": rej_cell.mean(axis=0).tolist(),
            "cell_reject_holm": holm_cell.mean(axis=0).tolist(),
            "cell_coverage_each": cov_cell.mean(axis=0).tolist(),
            "cell_mde": np.median(d.cell["mde"], axis=0).tolist(),
            "headline_reject": rej_head.mean(axis=0).tolist(),
            "headline_reject_holm": holm_head.mean(axis=0).tolist(),
            "headline_coverage_each": cov_head.mean(axis=0).tolist(),
            "headline_mde": np.median(d.headline["mde"], axis=0).tolist(),
        }
        if endpoint != CLEAN:
            row["cell_flag_no_robust_effect"] = _rate(rej_cell[:, no_robust_effect])
            assert d.correlation_p is not None
            row["correlation_flag"] = _rate(d.correlation_p < ALPHA)
        out[endpoint] = row
    return out


def null_design(seeds: int, seed_sd: float, *, examples: int, attacks: int) -> ExampleDesign:
    from analysis.synthetic import ATTACKS

    return ExampleDesign(seeds=seeds, seed_sd=seed_sd, n_examples=examples, attacks=ATTACKS[:attacks], planted=CLEAN_EFFECTS)


def power_design(base: ExampleDesign, effect: float) -> ExampleDesign:
    """``base`` plus a robustness-only effect: ``effect`` in the Arabic-script
    cells of :data:`CELL_EFFECT`, in every language for :data:`HEADLINE_EFFECT`."""
    planted = (*base.planted, Planted(CELL_EFFECT, ARABIC, robust_gain=effect),
               Planted(HEADLINE_EFFECT, base.languages, robust_gain=effect))  # fmt: skip
    return replace(base, planted=planted)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def null_tables(null: list[dict[str, Any]]) -> str:
    """Markdown: one table per endpoint, one row per (seeds, seed sd)."""
    lines: list[str] = []
    titles = {CONDITIONAL_ROBUST: "Primary: conditional robust accuracy (1 - attack success rate)",
              ROBUST_ACCURACY: "Secondary: robust accuracy (the old endpoint: clean x conditional)",
              CLEAN: "Secondary: clean accuracy (clean-transfer gain)"}  # fmt: skip
    for endpoint in (CONDITIONAL_ROBUST, ROBUST_ACCURACY, CLEAN):
        lines += [f"\n### {titles[endpoint]}\n"]
        head = "| seeds | seed sd (pts) | cell cov (mean / min) | cell FPR (mean / max) | cell Holm FWER | headline cov (mean / min) | headline FPR | headline Holm FWER |"
        extra = " cells flagged w/o robustness effect | correlation flag rate |" if endpoint != CLEAN else ""
        lines += [head + extra, "|" + "---|" * (head.count("|") - 1 + extra.count("|"))]
        for entry in null:
            r = entry["endpoints"][endpoint]
            cells = (f"| {entry['seeds']} | {entry['seed_sd']} | {_pct(r['cell_coverage'])} / {_pct(r['cell_coverage_min'])} "
                     f"| {_pct(r['cell_fpr'])} / {_pct(r['cell_fpr_max'])} | {_pct(r['cell_fwer_holm'])} "
                     f"| {_pct(r['headline_coverage'])} / {_pct(r['headline_coverage_min'])} | {_pct(r['headline_fpr'])} "
                     f"| {_pct(r['headline_fwer_holm'])} |")  # fmt: skip
            if endpoint != CLEAN:
                cells += f" {_pct(r['cell_flag_no_robust_effect'])} | {_pct(r['correlation_flag'])} |"
            lines.append(cells)
    return "\n".join(lines)


def power_table(power: list[dict[str, Any]], languages: tuple[str, ...], intermediates: tuple[str, ...]) -> str:
    """Markdown: power of the primary endpoint per (seeds, effect)."""
    ci = intermediates.index(CELL_EFFECT) - 1
    hi = intermediates.index(HEADLINE_EFFECT) - 1
    cols = [languages.index(lang) for lang in ARABIC]
    lines = ["| seeds | effect (pts) | cell power | cell power (Holm) | cell MDE80 (pts) | cell cov | headline power | headline power (Holm) | headline MDE80 (pts) | headline cov |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for entry in power:
        r = entry["endpoints"][CONDITIONAL_ROBUST]
        pick = lambda key: float(np.mean([r[key][ci][c] for c in cols]))  # noqa: E731
        lines.append(
            f"| {entry['seeds']} | {entry['effect'] * 100:g} | {pick('cell_reject'):.3f} | {pick('cell_reject_holm'):.3f} "
            f"| {100 * pick('cell_mde'):.2f} | {pick('cell_coverage_each'):.3f} | {r['headline_reject'][hi]:.3f} "
            f"| {r['headline_reject_holm'][hi]:.3f} | {100 * r['headline_mde'][hi]:.2f} | {r['headline_coverage_each'][hi]:.3f} |"
        )
    return "\n".join(lines)


def verdict(null: list[dict[str, Any]]) -> list[str]:
    """The reported tests that miss the issue's targets (coverage >= 0.93, FPR <= 0.06)."""
    misses = []
    for entry in null:
        for endpoint, r in entry["endpoints"].items():
            checks = {"cell_coverage": r["cell_coverage"], "headline_coverage": r["headline_coverage"]}
            fprs = {"cell_fpr": r["cell_fpr"], "cell_fwer_holm": r["cell_fwer_holm"], "headline_fpr": r["headline_fpr"],
                    "headline_fwer_holm": r["headline_fwer_holm"]}  # fmt: skip
            if endpoint == CONDITIONAL_ROBUST:
                fprs["correlation_flag"] = r["correlation_flag"]
            where = f"{endpoint} at {entry['seeds']} seeds, seed sd {entry['seed_sd']}"
            misses += [f"{where}: {k} = {v:.3f} < {TARGET_COVERAGE}" for k, v in checks.items() if v < TARGET_COVERAGE]
            misses += [f"{where}: {k} = {v:.3f} > {TARGET_FPR}" for k, v in fprs.items() if v == v and v > TARGET_FPR]
    return misses


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=1000, help="null simulations per setting")
    parser.add_argument("--power-sims", type=int, default=500, help="simulations per power setting")
    parser.add_argument("--examples", type=int, default=300, help="examples per language")
    parser.add_argument("--attacks", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--power-sd", type=float, default=1.0, help="seed sd (points) of the power table")
    parser.add_argument("--quick", action="store_true", help="100 null and 100 power simulations, 3 seeds only")
    parser.add_argument("--json", default="runs/stats_calibration.json")
    parser.add_argument("--rng", type=int, default=17)
    args = parser.parse_args(argv)
    seeds_list = (3,) if args.quick else SEEDS
    sims, power_sims = (100, 100) if args.quick else (args.sims, args.power_sims)
    started = time.perf_counter()
    null, power = [], []
    for k in seeds_list:
        for sd in SEED_SDS:
            design = null_design(k, sd, examples=args.examples, attacks=args.attacks)
            t = time.perf_counter()
            result = summarise(design, simulate(design, sims, rng=args.rng + 1000 * k + int(10 * sd)))
            null.append({"seeds": k, "seed_sd": sd, "sims": sims, "seconds": time.perf_counter() - t, "endpoints": result})
            print(f"null seeds={k} sd={sd}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    for k in seeds_list:
        for effect in EFFECTS:
            design = power_design(null_design(k, args.power_sd, examples=args.examples, attacks=args.attacks), effect)
            t = time.perf_counter()
            result = summarise(design, simulate(design, power_sims, rng=args.rng + 7 + 1000 * k + int(1000 * effect)))
            power.append({"seeds": k, "effect": effect, "seed_sd": args.power_sd, "sims": power_sims, "endpoints": result})
            print(f"power seeds={k} effect={effect}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    design = null_design(seeds_list[0], 1.0, examples=args.examples, attacks=args.attacks)
    misses = verdict(null)
    print(f"## Calibration under the null (clean effects planted, no robustness effect): {sims} simulations per setting\n")
    print(f"Design: {len(design.intermediates) - 1} intermediates + baseline, languages {', '.join(design.languages)}, "
          f"attacks {', '.join(design.attacks)}, {args.examples} examples per language; alpha {ALPHA}.")  # fmt: skip
    print(null_tables(null))
    print(f"\n## Power of the primary endpoint (seed sd {args.power_sd} points, {power_sims} simulations per row)\n")
    print(f"Cells: {CELL_EFFECT} in {', '.join(ARABIC)} (Holm over the target's {6 * len(design.languages)} cells); "
          f"headline: {HEADLINE_EFFECT} in every language (Holm over 6 intermediates). MDE80: median minimum detectable effect at 80% power, unadjusted alpha 0.05.\n")  # fmt: skip
    print(power_table(power, design.languages, design.intermediates))
    print(f"\nMonte Carlo standard error of a rate near 0.05 (or a coverage near 0.95): {np.sqrt(0.05 * 0.95 / sims):.4f} "
          f"over {sims} simulations{' (quick mode: misses below are within noise, not verdicts)' if args.quick else ''}; "
          "the worst of 36 cells (min / max columns) sits about 2 standard errors out by chance.")  # fmt: skip
    print(f"\nTargets: coverage >= {TARGET_COVERAGE}, FPR <= {TARGET_FPR}. "
          + ("All met." if not misses else f"Missed ({len(misses)}):\n- " + "\n- ".join(misses)))
    print(f"\nWall time: {wall:.0f} s")
    report = {"design": {"intermediates": list(design.intermediates), "languages": list(design.languages),
                         "attacks": list(design.attacks), "examples": args.examples, "clean_effects": [vars(p) for p in CLEAN_EFFECTS]},
              "alpha": ALPHA, "null": null, "power": power, "misses": misses, "wall_s": wall, "quick": args.quick}  # fmt: skip
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=list) + "\n")
    return report


if __name__ == "__main__":
    main()
