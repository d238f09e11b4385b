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
    (test where the language has test rows, else dev; or ``split_of``).
    Copies nothing when every row qualifies (the common case: a read
    filtered by target and stage)."""
    keep = ((examples["task"] == target) & (examples["stage"] == "confirm")).to_numpy()
    rows = examples if keep.all() else examples[keep]
    if rows.empty:
        return rows
    if rows["intermediate"].isna().any():
        rows = rows.assign(intermediate=rows["intermediate"].astype(object).fillna("none"))
    is_test = (rows["split"] == "test").to_numpy()
    with_test = set(rows.loc[is_test, "language"].unique())
    if split_of:
        with_test = {lang for lang in set(rows["language"].unique()) if split_of.get(str(lang), "test" if lang in with_test else "dev") == "test"}
    wants_test = rows["language"].isin(with_test).to_numpy()
    scored = np.where(wants_test, is_test, (rows["split"] == "dev").to_numpy())
    return rows if scored.all() else rows[scored]


@dataclass(frozen=True)
class CodedRows:
    """Per-example rows as integer codes and float columns (numpy), built
    once per target so that each language's arrays are a mask and a few
    fancy-indexing assignments away (no per-language DataFrame copies)."""

    languages: tuple[str, ...]
    language: np.ndarray
    intermediates: tuple[str, ...]
    intermediate: np.ndarray
    seeds: tuple[int, ...]
    seed: np.ndarray
    attacks: tuple[str, ...]
    attack: np.ndarray
    example_keys: np.ndarray
    example: np.ndarray
    values: dict[str, np.ndarray]
    checkpoints: tuple[str, ...] = ()
    checkpoint: np.ndarray | None = None

    def combos(self, *columns: str) -> list[tuple[object, ...]]:
        """The distinct combinations of these coded columns (``language``,
        ``intermediate``, ``seed``, ``attack``, ``checkpoint``) as names."""
        names = {"language": self.languages, "intermediate": self.intermediates, "seed": self.seeds,
                 "attack": self.attacks, "checkpoint": self.checkpoints}  # fmt: skip
        arrays = [np.asarray(getattr(self, c)) for c in columns]
        sizes = [len(names[c]) + 1 for c in columns]
        flat = np.ravel_multi_index(tuple(a.astype(np.int64) for a in arrays), tuple(sizes))
        out = []
        for packed in np.unique(flat):
            idx = np.unravel_index(int(packed), tuple(sizes))
            out.append(tuple(names[c][int(k)] for c, k in zip(columns, idx, strict=True)))
        return out


def _codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes and names of a column; a missing value is the name ``""``."""
    codes, uniques = pd.factorize(series, sort=True)
    codes, names = np.asarray(codes, dtype=np.int32), np.asarray(uniques, dtype=object)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(names), codes).astype(np.int32)
        names = np.append(names, "")
    return codes, names


def coded(rows: pd.DataFrame) -> CodedRows:
    """:class:`CodedRows` of per-example rows (any subset of targets or languages)."""
    language, languages = _codes(rows["language"].astype(str) if rows["language"].dtype == object else rows["language"])
    intermediate, intermediates = _codes(rows["intermediate"])
    seed, seeds = _codes(rows["seed"].astype("int64"))
    attack, attacks = _codes(rows["attack"])
    example, keys = _codes(rows["example_key"])
    checkpoint, checkpoints = _codes(rows["intermediate_checkpoint"]) if "intermediate_checkpoint" in rows else (None, np.array([]))
    values = {
        column: rows[column].to_numpy(dtype=np.float32, na_value=np.nan)  # 0/1 and scores: float32 is exact enough
        for column in ("clean_score", "clean_correct", "survived", "attacked_score")
    }
    return CodedRows(
        languages=tuple(map(str, languages)), language=language,
        intermediates=tuple(map(str, intermediates)), intermediate=intermediate,
        seeds=tuple(int(x) for x in seeds), seed=seed,
        attacks=tuple(map(str, attacks)), attack=attack,
        example_keys=keys.astype(str), example=example, values=values,
        checkpoints=tuple(map(str, checkpoints)), checkpoint=checkpoint,
    )  # fmt: skip


def _recode(codes: np.ndarray, names: Sequence[object], wanted: Sequence[object]) -> np.ndarray:
    """Codes over ``names`` -> positions in ``wanted`` (-1: not wanted)."""
    lookup = np.full(len(names) + 1, -1, dtype=np.int64)
    position = {name: k for k, name in enumerate(wanted)}
    for k, name in enumerate(names):
        lookup[k] = position.get(name, -1)
    return lookup[codes]


def paired_arrays(
    rows: pd.DataFrame | CodedRows,
    language: str,
    intermediates: Sequence[str],
    seeds: Sequence[int],
    attacks: Sequence[str],
) -> PairedArrays | None:
    """The arrays of one language on the grid ``intermediates x seeds`` (the
    baseline first); a run without rows is NaN throughout. The examples are
    those every present run evaluated clean and under every attack; ``None``
    when no run is present or no example is shared. Vectorised (codes and
    fancy indexing, no pivots): millions of rows take seconds; pass
    :func:`coded` rows to build several languages from one coding.
    """
    c = rows if isinstance(rows, CodedRows) else coded(rows)
    if language not in c.languages:
        return None
    wanted = [NO_ATTACK, *attacks]
    idx = np.flatnonzero(c.language == c.languages.index(language))
    i = _recode(c.intermediate[idx], c.intermediates, list(intermediates))
    s = _recode(c.seed[idx], c.seeds, [int(x) for x in seeds])
    a = _recode(c.attack[idx], c.attacks, wanted)
    keep = (i >= 0) & (s >= 0) & (a >= 0)
    if not keep.any():
        return None
    idx, i, s, a = idx[keep], i[keep], s[keep], a[keep]
    uniq, codes = np.unique(c.example[idx], return_inverse=True)
    keys = c.example_keys[uniq]
    n_int, n_seed, n_att, n_ex = len(intermediates), len(seeds), len(wanted), len(keys)
    seen = np.zeros((n_int, n_seed, n_att, n_ex), dtype=bool)
    seen[i, s, a, codes] = True
    clean_from = 1 if not seen[:, :, 0].any() and attacks else 0  # no clean rows: the attack rows carry the clean outcome
    runs: np.ndarray = np.asarray(seen[:, :, clean_from].any(axis=-1))  # (I, k)
    if not runs.any():
        return None
    needed = [clean_from, *range(1, n_att)]
    shared: np.ndarray = np.asarray(seen[runs][:, needed].all(axis=(0, 1)))  # examples every present run has for every part
    if not shared.any():
        return None
    shape = (n_int, n_seed, n_att, n_ex)

    def cube(column: str, parts: slice | int) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[i, s, a, codes] = c.values[column][idx].astype(float)
        out[~runs] = np.nan
        return out[:, :, parts][..., shared]

    survived = cube("survived", slice(1, None))
    return PairedArrays(
        language=language,
        intermediates=tuple(intermediates),
        seeds=tuple(int(x) for x in seeds),
        attacks=tuple(attacks),
        example_keys=tuple(str(k) for k in keys[shared]),
        clean_score=cube("clean_score", clean_from),
        clean_correct=cube("clean_correct", clean_from),
        survived=np.where(np.isnan(survived) & runs[:, :, None, None], 0.0, survived),
        attacked_score=cube("attacked_score", slice(1, None)),
    )


def with_attacks(arrays: PairedArrays, attacks: Sequence[str]) -> PairedArrays:
    """The same arrays restricted to ``attacks`` (a subset of theirs, in that order)."""
    index = [arrays.attacks.index(a) for a in attacks]
    return PairedArrays(
        language=arrays.language,
        intermediates=arrays.intermediates,
        seeds=arrays.seeds,
        attacks=tuple(attacks),
        example_keys=arrays.example_keys,
        clean_score=arrays.clean_score,
        clean_correct=arrays.clean_correct,
        survived=arrays.survived[:, :, index],
        attacked_score=arrays.attacked_score[:, :, index],
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


__all__ = ["NO_ATTACK", "CodedRows", "PairedArrays", "coded", "confirm_examples", "paired_arrays", "present", "select", "with_attacks"]
