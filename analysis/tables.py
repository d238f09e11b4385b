"""Result rows -> tidy tables over seeds.

Input: rows in the contract of docs/results.md (only ``stage == "confirm"``
counts). Output, per target:

* :func:`load_examples` -- the per-example rows (:mod:`raygrid.outcomes`) the
  statistics use;
* :func:`summary_table` -- per (target, intermediate, language, attack, metric):
  mean, std, seeds, examples.

For reading (the report's HTML and Markdown; the CSV files keep fractions):

* :func:`effect_table` -- contrasts as "+3.2 [+0.8, +5.6]" (points, 95%
  interval), p as "0.003" or "<0.001", the same column names in every table;
* :func:`display_summary` -- the tidy table with rounded values and the same names.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from raygrid.query import CONFIRM_STAGE

def load_confirm(sweep_dir: Path | str, targets: list[str] | None = None) -> pd.DataFrame:
    """Every confirm row of a sweep directory (one DataFrame, all targets).

    Raises:
        DataError: not a sweep directory, or no confirm rows.
        ConfigError: an unknown target.
    """
    from raygrid.errors import ConfigError, DataError, unknown
    from raygrid.query import results_dir
    from raygrid.store import read_results, targets_in

    results = results_dir(sweep_dir)
    present = targets_in(results)
    for target in targets or []:
        if target not in present:
            raise ConfigError(unknown("target", target, present))
    rows = read_results(results, targets=targets or present, stages=[CONFIRM_STAGE])
    if rows.empty:
        raise DataError(f"no finished {CONFIRM_STAGE!r} runs in {str(results)!r}")
    return rows


#: The per-example columns the statistics read (predictions and gold are left on disk).
EXAMPLE_ANALYSIS_COLUMNS = [
    "task", "language", "split", "stage", "intermediate", "intermediate_checkpoint", "seed", "attack", "example_key",
    "clean_score", "clean_correct", "survived", "attacked_score",
]  # fmt: skip


def load_examples(sweep_dir: Path | str, targets: list[str]) -> pd.DataFrame:
    """The per-example confirm rows of ``targets`` (done runs only; an empty
    frame for a sweep written before per-example rows existed)."""
    from raygrid.query import results_dir
    from raygrid.store import read_examples

    return read_examples(
        results_dir(sweep_dir), targets=targets, stages=[CONFIRM_STAGE], columns=EXAMPLE_ANALYSIS_COLUMNS, categorical=True
    )


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, seeds and examples per (target, intermediate, language, attack, metric), confirm rows only."""
    conf = rows[rows["stage"] == CONFIRM_STAGE]
    keys = ["task", "intermediate", "language", "attack", "metric"]
    out = conf.groupby(keys, as_index=False).agg(
        mean=("value", "mean"), std=("value", "std"), n_seeds=("seed", "nunique"), n_examples=("n_examples", "mean")
    )
    return out.rename(columns={"task": "target"})


def points(x: float) -> str:
    """A fraction as signed points: 0.032 -> "+3.2" ("+0.0", never "-0.0"); "n/a" when not finite."""
    if x is None or not math.isfinite(x):
        return "n/a"
    text = f"{x * 100:+.1f}"
    return "+0.0" if text == "-0.0" else text


def effect(gain: float, low: float, high: float) -> str:
    """A contrast with its 95% interval, in points: "+3.2 [+0.8, +5.6]"."""
    return f"{points(gain)} [{points(low)}, {points(high)}]"


def p_value(p: float) -> str:
    """p for reading: "<0.001", "0.003" (3 decimals below 0.01), "0.27", "1.00"; "n/a" when not finite."""
    if p is None or not math.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


#: The endpoints are shares in [0, 1]: no gain can exceed 100 points.
ENDPOINT_RANGE_POINTS = 100.0


def mde_points(mde: float) -> str:
    """A minimum detectable effect for a table cell: points, or, when it is
    the endpoint's whole range or more, that nothing is detectable."""
    if mde is None or not math.isfinite(mde):
        return "n/a"
    pts = abs(mde) * 100
    return f"{pts:.1f}" if pts < ENDPOINT_RANGE_POINTS else f"none ({pts:.0f} >= 100)"


def mde_phrase(mde: float, where: str) -> str:
    """What a design detects, in words: "a change of about 4.2 points
    averaged over languages", or, at 100 points or more, that it detects
    no change of any size there."""
    pts = abs(mde) * 100
    if pts < ENDPOINT_RANGE_POINTS:
        return f"a change of about {pts:.1f} points {where}"
    return f"no change of any size {where} (it would take {pts:.0f} points; the endpoint spans 100)"


#: Display names of the endpoints.
ENDPOINT_NAMES = {
    "conditional_robust_accuracy": "conditional robust accuracy",
    "robust_accuracy": "robust accuracy",
    "clean": "clean score",
}
#: Column names shared by every displayed table, in display order.
EFFECT = "gain, points [95% interval]"
COLUMN_NAMES = {
    "intermediate": "intermediate", "language": "language", "attack": "attack", "endpoint": "endpoint",
    "effect": EFFECT, "p": "p", "p_holm": "p (Holm)", "flagged": "flagged", "mde": "MDE, points",
    "n_seeds": "seeds", "n_languages": "languages", "n_examples": "examples",
}  # fmt: skip


def effect_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Contrast rows (cells, headline or per-attack frames of
    :mod:`analysis.robustness`) for reading: the gain and its interval in
    points in one column, p formatted, the MDE in points, flags as "yes"."""
    out = frame.copy()
    out["effect"] = [effect(g, lo, hi) for g, lo, hi in zip(out["gain"], out["ci_low"], out["ci_high"])]
    for col in ("p", "p_holm"):
        if col in out:
            out[col] = out[col].map(p_value)
    if "mde" in out:
        out["mde"] = out["mde"].map(mde_points)
    if "flagged" in out:
        out["flagged"] = out["flagged"].map(lambda v: "yes" if bool(v) else "")
    if "endpoint" in out:
        out["endpoint"] = out["endpoint"].map(lambda e: ENDPOINT_NAMES.get(e, e))
    for col in ("n_examples", "n_seeds", "n_languages"):
        if col in out:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
    shown = [c for c in COLUMN_NAMES if c in out]
    return out[shown].rename(columns=COLUMN_NAMES)


def effect_pivot(frame: pd.DataFrame, column: str = "attack") -> pd.DataFrame:
    """Contrast rows of one endpoint as a wide table: a row per (intermediate,
    language), a column per value of ``column``, each cell "+3.2 [+0.8, +5.6]"."""
    out = frame.assign(effect=[effect(g, lo, hi) for g, lo, hi in zip(frame["gain"], frame["ci_low"], frame["ci_high"])])
    wide = out.pivot_table(index=["intermediate", "language"], columns=column, values="effect", aggfunc="first", observed=True)
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index().fillna("n/a")


def display_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`summary_table` for reading: values to 4 significant digits, the shared column names."""
    out = summary.copy()
    for col in ("mean", "std"):
        out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    out["n_examples"] = out["n_examples"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
    return out.rename(columns={"std": "sd over seeds", "n_seeds": "seeds", "n_examples": "examples"})


__all__ = [
    "COLUMN_NAMES", "EFFECT", "display_summary", "effect", "effect_pivot", "effect_table", "load_confirm", "load_examples", "p_value", "points",
    "summary_table",
]  # fmt: skip
