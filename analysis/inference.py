"""The tests the report makes, on per-example arrays (vectorised).

Arrays of one target language, with the baseline (standard fine-tuning) at
intermediate index 0 and the same examples and seeds for every
intermediate (paired):

* ``clean_score``, ``clean_correct``: ``(..., I, k, n)``;
* ``survived``, ``attacked_score``: ``(..., I, k, A, n)`` over the attacks
  averaged (the attacks every compared language supports).

Leading axes are independent problems (simulations in
``benchmarks/stats_calibration.py``); the report calls these with none.

Tests:

* **cells** -- per (intermediate, language), the paired contrast with the
  baseline (:func:`cell_contrasts`, :mod:`analysis.crossed`);
* **headline** -- per intermediate, the contrast averaged over the
  zero-shot languages (:func:`headline_contrasts`): a run effect shared by
  the languages of one trained model is counted once;
* **correlation** -- does the intermediate that helps clean transfer more
  also change robustness more? (:func:`correlation_test`): Spearman's rho
  across intermediates between clean gain and robustness gain, cross-fitted
  (clean gains from one half of the seeds, robustness gains from the other,
  and back, so noise shared by the two scores of one run cannot correlate
  them), averaged over languages, with an exact (or Monte Carlo) permutation
  p over intermediate labels, one permutation applied to every language.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from analysis.crossed import Contrast, crossed_contrast
from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ROBUST_ACCURACY, ratio_values


def endpoint_values(
    clean_score: np.ndarray,
    clean_correct: np.ndarray,
    survived: np.ndarray,
    attacked_score: np.ndarray,
    endpoint: str,
) -> np.ndarray:
    """Per-example values ``(..., I, k, n)`` of ``endpoint``, averaged over
    attacks; each run's mean over examples is its score.

    Raises:
        ValueError: an unknown endpoint.
    """
    if endpoint == CLEAN:
        return np.asarray(clean_score, dtype=float)
    if endpoint == ROBUST_ACCURACY:
        return np.asarray(attacked_score, dtype=float).mean(axis=-2)
    if endpoint == CONDITIONAL_ROBUST:
        correct = np.broadcast_to(np.asarray(clean_correct, dtype=float)[..., None, :], np.shape(survived))
        return ratio_values(np.asarray(survived, dtype=float), correct).mean(axis=-2)
    raise ValueError(f"unknown endpoint {endpoint!r}; known: {CLEAN}, {ROBUST_ACCURACY}, {CONDITIONAL_ROBUST}")


def _diffs(values: np.ndarray) -> np.ndarray:
    """(..., I, k, n) -> (..., I-1, k, n): each intermediate minus the baseline, paired."""
    return values[..., 1:, :, :] - values[..., :1, :, :]


def cell_contrasts(values: np.ndarray, *, alpha: float = 0.05) -> Contrast:
    """Each intermediate against the baseline in one language: leading axes
    ``(..., I-1)``."""
    return crossed_contrast([_diffs(np.asarray(values, dtype=float))], alpha=alpha)


def headline_contrasts(values_per_language: Sequence[np.ndarray], *, alpha: float = 0.05) -> Contrast:
    """Each intermediate against the baseline, averaged over languages (the
    same seeds in every language): leading axes ``(..., I-1)``."""
    return crossed_contrast([_diffs(np.asarray(v, dtype=float)) for v in values_per_language], alpha=alpha)


def min_correlation_p(n_intermediates: int) -> float:
    """The smallest p the exact permutation test can reach with this many
    intermediates besides the baseline (both signs of the perfect ranking)."""
    return min(1.0, 2.0 / math.factorial(n_intermediates)) if n_intermediates >= 1 else 1.0


def correlation_test(
    clean_values: Sequence[np.ndarray],
    robust_values: Sequence[np.ndarray],
    *,
    n_perm: int = 2000,
    rng: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-fitted Spearman correlation across intermediates of clean gain
    and robustness gain, averaged over languages, and its permutation p.

    Args:
        clean_values, robust_values: per language, ``(..., I, k, n)`` values
            of the clean and the robustness endpoint (baseline first).
        n_perm: permutations when ``(I-1)!`` exceeds it (else exact).

    Returns:
        ``(statistic, p)`` over the leading axes; NaN where it cannot be
        computed (fewer than 3 intermediates or 2 seeds).
    """
    gen = np.random.default_rng(rng)
    first = np.asarray(clean_values[0])
    lead = first.shape[:-3]
    n_int, k = first.shape[-3], first.shape[-2]
    m = n_int - 1
    if m < 3 or k < 2:
        nan = np.full(lead, np.nan)
        return nan, nan
    half_a, half_b = np.arange(0, k, 2), np.arange(1, k, 2)

    def gains(values: np.ndarray, half: np.ndarray) -> np.ndarray:
        run = np.asarray(values, dtype=float)[..., half, :].mean(axis=(-2, -1))  # (..., I)
        return run[..., 1:] - run[..., :1]

    # (..., L, m) ranks of each half's gains
    ranks = [
        np.stack([sps.rankdata(gains(v, h), axis=-1) for v in vals], axis=-2)
        for vals, h in ((clean_values, half_a), (robust_values, half_b), (clean_values, half_b), (robust_values, half_a))
    ]
    exact = math.factorial(m) <= n_perm
    perms = np.array(list(itertools.permutations(range(m)))) if exact else np.argsort(gen.random((n_perm, m)), axis=1)

    def statistic(perm: np.ndarray | None) -> np.ndarray:
        total = np.zeros(lead + ((len(perm),) if perm is not None else ()))
        for x, y in ((ranks[0], ranks[1]), (ranks[2], ranks[3])):
            yy = y if perm is None else y[..., perm]  # (..., L, P, m) when permuted
            xx = x if perm is None else x[..., None, :]
            total = total + _pearson(xx, yy).mean(axis=-2 if perm is not None else -1)
        return total / 2

    observed = statistic(None)
    null = statistic(perms)  # (..., P)
    exceed = (np.abs(null) >= np.abs(observed)[..., None] - 1e-12).sum(axis=-1)
    p = exceed / len(perms) if exact else (1 + exceed) / (1 + n_perm)
    return observed, p


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis (0 where a side is constant)."""
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((x**2).sum(axis=-1) * (y**2).sum(axis=-1))
    num = (x * y).sum(axis=-1)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


__all__ = ["cell_contrasts", "correlation_test", "endpoint_values", "headline_contrasts", "min_correlation_p"]
