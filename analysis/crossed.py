"""Intervals and tests for a paired contrast in a crossed seeds x examples design.

Every run of a target (an intermediate task x a training seed) is evaluated
on the same examples of each language, so the difference between an
intermediate and the baseline, per seed ``s`` and example ``e`` of language
``l``, is a two-way crossed table ``D_l[s, e]``. The contrast is its mean::

    gain = mean_l mean_s mean_e D_l[s, e]

and its variance has three sources, each estimated from the table itself
(method of moments, the random-effects two-way ANOVA of Searle, Casella and
McCulloch 1992, ch. 4): training seeds (shared by every language of a run:
the seed term is computed on the language-averaged seed means, so a run
effect common to all languages is counted once, not L times), examples
(per language) and their interaction::

    V = var_s(m_s) / k + sum_l (var_e(c_le) - MS_SE,l / k) / (n_l L^2)

where ``m_s`` is the seed mean averaged over languages, ``c_le`` the
example mean over seeds and ``MS_SE,l`` the interaction mean square. For
one language this is the classical ``(MS_S + MS_E - MS_SE) / (k n)``.

The interval scales each term by the critical value of its own degrees of
freedom: ``half^2 = t_{k-1}^2 * V_seed + z^2 * V_example`` (the conservative
combination of Banerjee 1960 for sums of variance components with unequal
df). At two or three seeds, where the seed term dominates, it is Student's
t with k - 1 df and widens as it must, instead of trusting a bootstrap over
two values; Satterthwaite's df, tried first, raised the df above k - 1 on
noise in the small example term and under-covered (0.90 at two seeds and
four languages). p is the level at which the interval touches zero, so
test and interval agree. Each contrast gets its own variance (nothing is
pooled across intermediates, so a noisy intermediate cannot borrow a quiet
one's precision).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps


@dataclass(frozen=True)
class Contrast:
    """A contrast's estimate, standard error, the seed term's df (k - 1),
    t = gain / se, two-sided p, ``1 - alpha`` interval and the two variance
    terms (arrays over the leading axes; NaN where the design cannot
    estimate the seed variance: fewer than two seeds)."""

    gain: np.ndarray
    se: np.ndarray
    df: np.ndarray
    t: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    seed_var: np.ndarray
    example_var: np.ndarray


def crossed_contrast(diffs: Sequence[np.ndarray], *, alpha: float = 0.05) -> Contrast:
    """The mean of paired differences over languages, seeds and examples.

    Args:
        diffs: one array per language, shape ``(..., k, n_l)``: the paired
            difference (intermediate minus baseline) per seed and example,
            with the same ``k`` seeds in every language (no NaNs).
        alpha: the interval's level is ``1 - alpha``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = rng.normal(0.0, 1.0, size=(3, 200)) + rng.normal(0.0, 0.02, size=(3, 1))
        >>> c = crossed_contrast([d])
        >>> bool(c.ci_low < 0 < c.ci_high)
        True
    """
    if not diffs:
        raise ValueError("crossed_contrast needs at least one language")
    arrays = [np.asarray(d, dtype=float) for d in diffs]
    k = arrays[0].shape[-2]
    n_lang = len(arrays)
    seed_means = np.mean([d.mean(axis=-1) for d in arrays], axis=0)  # (..., k)
    gain = seed_means.mean(axis=-1)
    if k < 2:
        nan = np.full(gain.shape, np.nan)
        return Contrast(gain, nan, nan, nan, nan, nan, nan, nan, nan)
    # Scores on a lattice (accuracy: multiples of 1/n) can give two seeds the
    # very same mean, a seed term of exactly zero and a z interval on the
    # example term alone: flooring it at the rounding variance of the mean,
    # (h/2)^2 / (2k) for a lattice step h, keeps that atom from producing tiny
    # p-values (without it, 2% of clean-accuracy nulls at two seeds had
    # p < 0.0014 and Holm families erred 25% of the time; benchmarks/stats_calibration.py).
    floor = sum((_lattice_step(d) / d.shape[-1] / 2) ** 2 for d in arrays) / (2 * k * n_lang**2)
    seed_term = np.maximum(seed_means.var(axis=-1, ddof=1) / k, floor)
    example_term = np.zeros_like(seed_term)
    for d in arrays:
        n = d.shape[-1]
        if n < 2:
            continue
        col = d.mean(axis=-2)  # (..., n): example means over seeds
        ms_e = col.var(axis=-1, ddof=1)  # sigma_E^2 + sigma_SE^2 / k
        grand = d.mean(axis=(-2, -1), keepdims=True)
        resid = d - d.mean(axis=-1, keepdims=True) - col[..., None, :] + grand
        ms_se = (resid**2).sum(axis=(-2, -1)) / ((k - 1) * (n - 1))  # sigma_SE^2
        example_term = example_term + np.maximum(ms_e - ms_se / k, 0.0) / (n * n_lang**2)
    variance = seed_term + example_term
    se = np.sqrt(variance)
    df = np.full(gain.shape, float(k - 1))
    p = _p_value(np.abs(gain), seed_term, example_term, k - 1)
    half = np.sqrt(sps.t.ppf(1 - alpha / 2, k - 1) ** 2 * seed_term + sps.norm.ppf(1 - alpha / 2) ** 2 * example_term)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, gain / np.where(se > 0, se, 1.0), 0.0)
    return Contrast(gain, se, df, t, p, gain - half, gain + half, seed_term, example_term)


def _lattice_step(d: np.ndarray) -> float:
    """The step of the lattice the per-example differences lie on (1 for
    0/1 scores, 1/A for scores averaged over A attacks), or 0 when they are
    not on a coarse lattice (ratio endpoints, F1)."""
    values = np.unique(np.round(d[np.isfinite(d)], 9))
    if values.size < 2 or values.size > 512:
        return 0.0
    gaps = np.diff(values)
    return float(gaps.min())


def _half_width(p: np.ndarray, seed_term: np.ndarray, example_term: np.ndarray, df: int) -> np.ndarray:
    # scipy.special's quantiles directly: sps.t.ppf's argument checks cost 10x
    seed_part = np.where(seed_term > 0, special.stdtrit(df, 1 - p / 2) ** 2 * np.where(seed_term > 0, seed_term, 1.0), 0.0)
    example_part = np.where(example_term > 0, special.ndtri(1 - p / 2) ** 2 * np.where(example_term > 0, example_term, 1.0), 0.0)
    return np.sqrt(seed_part + example_part)


def _p_value(effect: np.ndarray, seed_term: np.ndarray, example_term: np.ndarray, df: int) -> np.ndarray:
    """The two-sided p at which the interval's bound reaches zero (bisection
    on log p; the half-width falls as p grows)."""
    lo = np.full(effect.shape, np.log(1e-300))
    hi = np.zeros(effect.shape)
    for _ in range(44):  # log p to ~4e-11 of its range: far below any reported digit
        mid = (lo + hi) / 2
        inside = _half_width(np.exp(mid), seed_term, example_term, df) >= effect
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    out = np.exp(hi)
    return np.where(seed_term + example_term > 0, out, np.where(effect > 0, 0.0, 1.0))


def min_detectable(contrast: Contrast, *, alpha: float, power: float = 0.8) -> np.ndarray:
    """The smallest true contrast that the level-``alpha`` test of
    :func:`crossed_contrast` detects with probability about ``power``: each
    variance term scaled by ``(q_{1-alpha/2} + q_{power})`` of its own df,
    as the interval is (NaN below two seeds)."""
    k_minus_1 = np.asarray(contrast.df, dtype=float)
    seed_q = sps.t.ppf(1 - alpha / 2, k_minus_1) + sps.t.ppf(power, k_minus_1)
    example_q = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return np.sqrt(seed_q**2 * contrast.seed_var + example_q**2 * contrast.example_var)


__all__ = ["Contrast", "crossed_contrast", "min_detectable"]
