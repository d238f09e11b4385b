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
    those every present run evaluated clean and under every attack; ``None``
    when no run is present or no example is shared. Vectorised (codes and
    fancy indexing, no pivots): millions of rows take seconds.
    """
    sub = rows[rows["language"] == language] if (rows["language"] != language).any() else rows
    wanted = [NO_ATTACK, *attacks]
    i = pd.Categorical(sub["intermediate"], categories=list(intermediates)).codes
    s = pd.Categorical(sub["seed"].astype("int64"), categories=[int(x) for x in seeds]).codes
    a = pd.Categorical(sub["attack"], categories=wanted).codes
    keep = (i >= 0) & (s >= 0) & (a >= 0)
    if not keep.any():
        return None
    sub, i, s, a = sub[keep], i[keep], s[keep], a[keep]
    codes, keys = pd.factorize(sub["example_key"].astype(str), sort=True)
    n_int, n_seed, n_att, n_ex = len(intermediates), len(seeds), len(wanted), len(keys)
    seen = np.zeros((n_int, n_seed, n_att, n_ex), dtype=bool)
    seen[i, s, a, codes] = True
    if not seen[:, :, 0].any() and attacks:  # no clean rows: the attack rows carry the clean outcome
        clean_from = 1
    else:
        clean_from = 0
    runs: np.ndarray = np.asarray(seen[:, :, clean_from].any(axis=-1))  # (I, k)
    if not runs.any():
        return None
    needed = [clean_from, *range(1, n_att)]
    shared: np.ndarray = np.asarray(seen[runs][:, needed].all(axis=(0, 1)))  # examples every present run has for every part
    if not shared.any():
        return None
    shape = (n_int, n_seed, n_att, n_ex)

    def cube(column: str) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[i, s, a, codes] = sub[column].to_numpy(dtype=float, na_value=np.nan)
        out[~runs] = np.nan
        return out[..., shared]

    clean_score, clean_correct = cube("clean_score")[:, :, clean_from], cube("clean_correct")[:, :, clean_from]
    survived, attacked = cube("survived")[:, :, 1:], cube("attacked_score")[:, :, 1:]
    return PairedArrays(
        language=language,
        intermediates=tuple(intermediates),
        seeds=tuple(int(x) for x in seeds),
        attacks=tuple(attacks),
        example_keys=tuple(str(k) for k in np.asarray(keys)[shared]),
        clean_score=clean_score,
        clean_correct=clean_correct,
        survived=np.where(np.isnan(survived) & runs[:, :, None, None], 0.0, survived),
        attacked_score=attacked,
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
