"""Result rows -> tidy tables over seeds.

Input: rows in the contract of docs/results.md (only ``stage == "confirm"``
counts). Output, per target:

* :func:`load_examples` -- the per-example rows (:mod:`raygrid.outcomes`) the
  statistics use;
* :func:`summary_table` -- per (target, intermediate, language, attack, metric):
  mean, std, seeds, examples.
"""

from __future__ import annotations

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


__all__ = ["load_confirm", "load_examples", "summary_table"]
