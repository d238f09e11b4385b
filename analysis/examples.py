"""Per-example confirm rows -> paired arrays for :mod:`analysis.inference`.

Input: the per-example rows of one target (the contract of
:mod:`raygrid.outcomes`, with ``task`` and ``language`` columns, as
:func:`raygrid.store.read_examples` returns them). Output, per language, for
a chosen set of intermediates (the baseline first), seeds and attacks:
arrays aligned on the examples that every one of those runs evaluated (the
same seeded subsample; an example a run lacks is dropped for all, so the
pairing holds), ``(I, k, n)`` clean and ``(I, k, A, n)`` attacked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

NO_ATTACK = "none"


@dataclass(frozen=True)
class PairedArrays:
    """One language's paired per-example outcomes (baseline first)."""

    language: str
    intermediates: tuple[str, ...]
    seeds: tuple[int, ...]
    attacks: tuple[str, ...]
    example_keys: tuple[str, ...]
    clean_score: np.ndarray  # (I, k, n)
    clean_correct: np.ndarray  # (I, k, n)
    survived: np.ndarray  # (I, k, A, n)
    attacked_score: np.ndarray  # (I, k, A, n)

    @property
    def n_examples(self) -> int:
        return len(self.example_keys)


def confirm_examples(examples: pd.DataFrame, target: str, split_of: dict[str, str] | None = None) -> pd.DataFrame:
    """The confirm-stage rows of ``target``, one scored split per language
    (test where the language has test rows, else dev; or ``split_of``)."""
    rows = examples[(examples["task"] == target) & (examples["stage"] == "confirm")]
    rows = rows.assign(intermediate=rows["intermediate"].fillna("none"))
    if rows.empty:
        return rows
    has_test = rows.groupby("language")["split"].transform(lambda s: (s == "test").any())
    chosen = np.where(has_test, "test", "dev")
    if split_of:
        chosen = rows["language"].map(split_of).fillna(pd.Series(chosen, index=rows.index)).to_numpy()
    return rows[rows["split"].to_numpy() == chosen]


def attacks_by_language(rows: pd.DataFrame) -> dict[str, set[str]]:
    """The attacks with rows in each language (clean rows excluded)."""
    att = rows[rows["attack"] != NO_ATTACK]
    return {str(lang): set(map(str, frame["attack"].unique())) for lang, frame in att.groupby("language")}


def runs_of(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (intermediate, seed, language) that has example rows."""
    return rows[["intermediate", "seed", "language"]].drop_duplicates().reset_index(drop=True)


def paired_arrays(
    rows: pd.DataFrame,
    language: str,
    intermediates: Sequence[str],
    seeds: Sequence[int],
    attacks: Sequence[str],
) -> PairedArrays | None:
    """The arrays of one language on the grid ``intermediates x seeds`` (the
    baseline first); a run without rows is NaN throughout. The examples are
    those every present run evaluated under every attack; ``None`` when no
    run is present or no example is shared.
    """
    sub = rows[(rows["language"] == language) & rows["intermediate"].isin(intermediates) & rows["seed"].isin(seeds)]
    sub = sub[sub["attack"].isin([NO_ATTACK, *attacks])]
    clean_rows = sub[sub["attack"] == NO_ATTACK]
    if clean_rows.empty and attacks:  # the attack rows carry the clean outcome too
        clean_rows = sub[sub["attack"] == attacks[0]]
    parts = [clean_rows, *[sub[sub["attack"] == a] for a in attacks]]
    present = set(clean_rows.groupby(["intermediate", "seed"]).groups)
    if not present:
        return None
    keys: set[str] | None = None
    for part in parts:
        per_run = {run: set(map(str, frame["example_key"])) for run, frame in part.groupby(["intermediate", "seed"])}
        for run in present:
            keys = per_run.get(run, set()) if keys is None else keys & per_run.get(run, set())
    if not keys:
        return None
    order = sorted(keys)
    runs = pd.MultiIndex.from_product([list(intermediates), [int(s) for s in seeds]], names=["intermediate", "seed"])
    shape = (len(intermediates), len(seeds), len(order))

    def cube(part: pd.DataFrame, column: str) -> np.ndarray:
        part = part[part["example_key"].astype(str).isin(keys)]
        wide = part.pivot_table(index=["intermediate", "seed"], columns="example_key", values=column, aggfunc="first")
        wide.columns = wide.columns.map(str)
        return wide.reindex(index=runs, columns=order).to_numpy(float).reshape(shape)

    survived = np.stack([cube(p, "survived") for p in parts[1:]], axis=2) if attacks else np.empty((*shape[:2], 0, shape[2]))
    scores = np.stack([cube(p, "attacked_score") for p in parts[1:]], axis=2) if attacks else np.empty(survived.shape)
    return PairedArrays(
        language=language,
        intermediates=tuple(intermediates),
        seeds=tuple(int(s) for s in seeds),
        attacks=tuple(attacks),
        example_keys=tuple(order),
        clean_score=cube(clean_rows, "clean_score"),
        clean_correct=cube(clean_rows, "clean_correct"),
        survived=survived,
        attacked_score=scores,
    )


def present(arrays: PairedArrays) -> np.ndarray:
    """(I, k) bool: the runs with rows."""
    return ~np.isnan(arrays.clean_score).all(axis=-1)


def select(arrays: PairedArrays, intermediates: Sequence[int], seeds: Sequence[int]) -> PairedArrays:
    """The sub-grid at these intermediate and seed positions."""
    i = np.asarray(intermediates, dtype=int)[:, None]
    s = np.asarray(seeds, dtype=int)[None, :]
    return PairedArrays(
        language=arrays.language,
        intermediates=tuple(arrays.intermediates[j] for j in intermediates),
        seeds=tuple(arrays.seeds[j] for j in seeds),
        attacks=arrays.attacks,
        example_keys=arrays.example_keys,
        clean_score=arrays.clean_score[i, s],
        clean_correct=arrays.clean_correct[i, s],
        survived=arrays.survived[i, s],
        attacked_score=arrays.attacked_score[i, s],
    )


__all__ = ["NO_ATTACK", "PairedArrays", "attacks_by_language", "confirm_examples", "paired_arrays", "present", "runs_of", "select"]
