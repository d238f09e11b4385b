"""Result rows -> tidy tables over seeds.

Input: rows in the contract of docs/results.md (only ``stage == "confirm"``
counts). Output, per target:

* :func:`robust_per_seed` -- one row per (intermediate, language, attack, seed)
  with every attack metric as a column (``value`` = robust accuracy);
* :func:`clean_per_seed` -- one row per (intermediate, language, seed) with the
  target's primary clean metric (test split where the language has one, else
  dev);
* :func:`summary_table` -- per (target, intermediate, language, attack, metric):
  mean, std, seeds, examples.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from raygrid.query import ATTACK_METRICS, CONFIRM_STAGE, NO_ATTACK, primary_metric

GROUP = ["intermediate", "language", "attack", "seed"]


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


def _confirm(rows: pd.DataFrame, target: str) -> pd.DataFrame:
    out = rows[(rows["task"] == target) & (rows["stage"] == CONFIRM_STAGE)]
    return out.assign(intermediate=out["intermediate"].fillna("none"))


def robust_per_seed(rows: pd.DataFrame, target: str) -> pd.DataFrame:
    """Attack metrics per (intermediate, language, attack, seed); ``value`` is robust accuracy."""
    att = _confirm(rows, target)
    att = att[(att["attack"] != NO_ATTACK) & att["metric"].isin(ATTACK_METRICS)]
    if att.empty:
        return pd.DataFrame(columns=[*GROUP, "value", "n_examples"])
    wide = att.pivot_table(index=GROUP, columns="metric", values="value", aggfunc="mean")
    n = att.groupby(GROUP)["n_examples"].max()
    wide = wide.join(n).reset_index()
    wide.columns.name = None
    if "robust_accuracy" not in wide:
        return pd.DataFrame(columns=[*GROUP, "value", "n_examples"])
    return wide.assign(value=wide["robust_accuracy"]).dropna(subset=["value"])


def clean_per_seed(rows: pd.DataFrame, target: str, metric: str | None = None) -> pd.DataFrame:
    """The primary clean metric per (intermediate, language, seed)."""
    metric = metric or primary_metric(target) or "accuracy"
    clean = _confirm(rows, target)
    clean = clean[(clean["attack"] == NO_ATTACK) & (clean["metric"] == metric)]
    has_test = clean.groupby("language")["split"].transform(lambda s: (s == "test").any())
    clean = clean[(clean["split"] == "test") | (~has_test & (clean["split"] == "dev"))]
    keys = ["intermediate", "language", "seed"]
    out = clean.groupby(keys, as_index=False).agg(value=("value", "mean"), n_examples=("n_examples", "max"))
    return out.assign(metric=metric)


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, seeds and examples per (target, intermediate, language, attack, metric), confirm rows only."""
    conf = rows[rows["stage"] == CONFIRM_STAGE]
    keys = ["task", "intermediate", "language", "attack", "metric"]
    out = conf.groupby(keys, as_index=False).agg(
        mean=("value", "mean"), std=("value", "std"), n_seeds=("seed", "nunique"), n_examples=("n_examples", "mean")
    )
    return out.rename(columns={"task": "target"})


__all__ = ["clean_per_seed", "load_confirm", "robust_per_seed", "summary_table"]
