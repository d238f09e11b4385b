"""The statistics: robustness gains, their tests and CIs, correlations.

All functions take per-seed tables (see :mod:`analysis.tables`) and return
tidy DataFrames. Randomness (bootstrap, permutations) comes from a seeded
``numpy.random.Generator``, so a report is reproducible.

Method (the report's method notes repeat this in prose):

* **Robustness gain** of intermediate ``i`` in language ``l`` = robust accuracy
  of ``i`` minus that of the baseline ``none`` (standard fine-tuning), averaged
  over attacks, paired by seed.
* **Test** per (i, l): seeds are blocks and intermediates treatments of a
  randomised complete-block design per language; the residual variance of the
  additive model ``x[i,s] = mu[i] + b[s] + e`` (df = (I-1)(k-1), pooling the
  intermediates of that language) gives a t statistic per contrast with the
  baseline, exact under normal errors and valid with or without a shared seed
  effect. Holm's step-down correction over all (i, l) cells controls the
  family-wise error rate.
* **CIs**: a two-level percentile bootstrap, seeds resampled with replacement
  (the same draw for ``i`` and the baseline: paired), then examples
  (parametric: each run's value redrawn as Binomial(n, v)/n by its normal
  approximation; exact for accuracy, conservative for per-example scores in
  [0, 1] such as F1).
* **Correlation** per language: Spearman's rho across intermediates between
  clean-transfer gain and robustness gain (``rho``, all seeds, descriptive).
  The test uses ``rho_cross``: clean gains from one half of the seeds, robust
  gains from the other half and back, averaged, so noise shared by the clean
  and robust score of one training run cannot pass for an association; its p
  comes from permuting intermediate labels (exact when (I-1)! <= n_perm);
  Holm over languages.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

BASELINE = "none"


def holm_rows(pvalues: np.ndarray) -> np.ndarray:
    """Holm adjustment along the last axis of a 2-D array without NaNs (vectorised over rows)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked, axis=-1))
    out = np.empty_like(p)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN stays NaN).

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adjusted
    out[ok] = res
    return out


def block_contrasts(x: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """t, df and two-sided p of each treatment against treatment 0.

    ``x`` is (..., I, S): I treatments (the baseline first) by S complete
    blocks (seeds); the leading axes are independent problems (vectorised,
    e.g. over simulations and languages). The error variance is the residual
    of the additive two-way model, df = (I-1)(S-1).

    Example:
        >>> t, df, p = block_contrasts(np.array([[0.5, 0.52, 0.49], [0.55, 0.58, 0.54]]))
        >>> df, bool(p[0] < 0.05)
        (2, True)
    """
    x = np.asarray(x, dtype=float)
    n_int, k = x.shape[-2:]
    gains = x[..., 1:, :].mean(axis=-1) - x[..., :1, :].mean(axis=-1)
    df = (n_int - 1) * (k - 1)
    if df < 1:
        nan = np.full(gains.shape, np.nan)
        return nan, 0, nan
    resid = x - x.mean(axis=-1, keepdims=True) - x.mean(axis=-2, keepdims=True) + x.mean(axis=(-2, -1), keepdims=True)
    sigma2 = (resid**2).sum(axis=(-2, -1)) / df
    se = np.sqrt(sigma2 * 2.0 / k)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, gains / np.where(se > 0, se, 1.0), 0.0)
    return t, df, 2 * sps.t.sf(np.abs(t), df)


def _language_cube(frame: pd.DataFrame, intermediates: list[str], value: str = "value") -> tuple[np.ndarray, np.ndarray, list]:
    """(I, S, A) values and example counts of one language; NaN where missing."""
    cube = frame.pivot_table(index=["intermediate", "seed"], columns="attack", values=[value, "n_examples"], aggfunc="mean")
    seeds = sorted(frame["seed"].unique())
    attacks = sorted(frame["attack"].unique())
    full = pd.MultiIndex.from_product([intermediates, seeds], names=["intermediate", "seed"])
    cube = cube.reindex(full)
    vals = cube[value].reindex(columns=attacks).to_numpy(float).reshape(len(intermediates), len(seeds), len(attacks))
    ns = cube["n_examples"].reindex(columns=attacks).to_numpy(float).reshape(vals.shape)
    return vals, ns, attacks


def gain_tests(
    robust: pd.DataFrame,
    *,
    alpha: float = 0.05,
    n_boot: int = 1000,
    rng: int | np.random.Generator = 0,
    baseline: str = BASELINE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Robustness gains against the baseline, tested and bootstrapped.

    Args:
        robust: per-seed robust accuracy, columns ``intermediate, language,
            attack, seed, value, n_examples`` (one target).
        alpha: family-wise error rate of the Holm-corrected flags.
        n_boot: bootstrap resamples.
        rng: seed or generator.

    Returns:
        ``(cells, per_attack)``: per (intermediate, language) the attack-averaged
        gain, its CI, t, df, p, Holm-adjusted p and ``flagged``; per
        (intermediate, language, attack) the gain and its CI.
    """
    gen = np.random.default_rng(rng)
    inters = [baseline, *sorted(set(robust["intermediate"]) - {baseline})]
    if baseline not in set(robust["intermediate"]):
        return _empty_cells(), _empty_attack()
    cells, per_attack = [], []
    for language, frame in robust.groupby("language", sort=True):
        vals, ns, attacks = _language_cube(frame, inters)
        # Complete blocks: seeds with every intermediate and every attack.
        complete = ~np.isnan(vals).any(axis=(0, 2))
        x = np.nanmean(vals, axis=2)  # (I, S): attack-averaged per run
        xs = x[:, complete]
        n_int, k = xs.shape
        gains = xs[1:].mean(axis=1) - xs[0].mean() if k else np.full(n_int - 1, np.nan)
        t, df, p = block_contrasts(xs)
        se = np.abs(np.divide(gains, t, out=np.full(len(gains), np.nan), where=np.nan_to_num(t) != 0))
        lo, hi, alo, ahi = _bootstrap(vals[:, complete], ns[:, complete], n_boot, gen)
        for j, name in enumerate(inters[1:]):
            cells.append(
                {"intermediate": name, "language": language, "gain": gains[j], "ci_low": lo[j], "ci_high": hi[j],
                 "se": se[j], "t": t[j], "df": df, "p": p[j], "n_seeds": int(k)}
            )  # fmt: skip
            for a, attack in enumerate(attacks):
                g = np.nanmean(vals[j + 1, complete, a]) - np.nanmean(vals[0, complete, a]) if k else np.nan
                per_attack.append({"intermediate": name, "language": language, "attack": attack, "gain": g,
                                   "ci_low": alo[j, a], "ci_high": ahi[j, a], "n_seeds": int(k)})  # fmt: skip
    if not cells:
        return _empty_cells(), _empty_attack()
    out = pd.DataFrame(cells)
    out["p_holm"] = holm(out["p"].to_numpy())
    out["flagged"] = out["p_holm"] < alpha
    return out, pd.DataFrame(per_attack)


def _bootstrap(vals: np.ndarray, ns: np.ndarray, n_boot: int, gen: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Paired two-level percentile bootstrap of gains; ``vals``/``ns`` are
    (I, S, A) with the baseline first. Returns 95% bounds, attack-averaged
    (I-1,) and per attack (I-1, A)."""
    n_int, k, n_att = vals.shape
    nan_i = np.full(n_int - 1, np.nan)
    nan_ia = np.full((n_int - 1, n_att), np.nan)
    if k < 2 or n_boot < 1:
        return nan_i, nan_i, nan_ia, nan_ia
    idx = gen.integers(0, k, size=(n_boot, k))  # level 1: seeds, one draw shared by all intermediates
    v = vals[:, idx, :]  # (I, B, k, A)
    n = np.maximum(ns[:, idx, :], 1.0)
    # level 2: examples, Binomial(n, v)/n by its normal approximation
    v = np.clip(v + gen.standard_normal(v.shape) * np.sqrt(np.clip(v * (1 - v), 0, None) / n), 0.0, 1.0)
    means = v.mean(axis=2)  # (I, B, A)
    gains = means[1:] - means[:1]  # (I-1, B, A)
    lo_a, hi_a = np.nanpercentile(gains, [2.5, 97.5], axis=1)
    lo, hi = np.nanpercentile(np.nanmean(gains, axis=2), [2.5, 97.5], axis=1)
    return lo, hi, lo_a, hi_a


def correlation_tests(
    clean: pd.DataFrame,
    robust: pd.DataFrame,
    *,
    alpha: float = 0.05,
    n_perm: int = 2000,
    rng: int | np.random.Generator = 0,
    baseline: str = BASELINE,
) -> pd.DataFrame:
    """Per language: Spearman's rho between clean-transfer gain and robustness
    gain across intermediates, with a within-seed permutation p and Holm.

    Args:
        clean: per-seed clean scores, columns ``intermediate, language, seed, value``.
        robust: per-seed robust accuracy, columns ``intermediate, language, attack, seed, value``.

    Returns:
        One row per language: ``rho``, ``p``, ``p_holm``, ``flagged``,
        ``n_intermediates``, ``n_seeds`` (``rho`` is NaN below 3 intermediates).
    """
    gen = np.random.default_rng(rng)
    rob = robust.groupby(["intermediate", "language", "seed"], as_index=False)["value"].mean()
    both = clean.groupby(["intermediate", "language", "seed"], as_index=False)["value"].mean().merge(
        rob, on=["intermediate", "language", "seed"], suffixes=("_clean", "_robust")
    )
    rows = []
    for language, frame in both.groupby("language", sort=True):
        inters = [baseline, *sorted(set(frame["intermediate"]) - {baseline})]
        if baseline not in set(frame["intermediate"]) or len(inters) < 4:
            rows.append({"language": language, "rho": np.nan, "rho_cross": np.nan, "p": np.nan, "n_intermediates": len(inters) - 1, "n_seeds": 0})
            continue
        wide = frame.pivot_table(index="seed", columns="intermediate", values=["value_clean", "value_robust"]).dropna()
        c = wide["value_clean"].reindex(columns=inters).to_numpy().T  # (I, S)
        r = wide["value_robust"].reindex(columns=inters).to_numpy().T
        n_int, k = c.shape
        rho = _spearman_gains(c[None], r[None])[0]
        if k < 2:
            rows.append({"language": language, "rho": rho, "rho_cross": np.nan, "p": np.nan, "n_intermediates": n_int - 1, "n_seeds": k})
            continue
        # Cross-fitting: clean gains from one half of the seeds, robust gains from the
        # other (and back), so run noise shared by a run's clean and robust scores
        # cannot correlate them; under H0 the robust gains are exchangeable.
        half_a, half_b = np.arange(0, k, 2), np.arange(1, k, 2)
        gains = [_gain(x[:, h]) for x, h in ((c, half_a), (r, half_b), (c, half_b), (r, half_a))]
        ranks = [sps.rankdata(g) for g in gains]
        m = n_int - 1
        if math.factorial(m) <= n_perm:
            perm = np.array(list(itertools.permutations(range(m))))
        else:
            perm = np.argsort(gen.random((n_perm, m)), axis=1)
        null = (_pearson(ranks[0], ranks[1][perm]) + _pearson(ranks[2], ranks[3][perm])) / 2
        stat = float((_pearson(ranks[0], ranks[1][None]) + _pearson(ranks[2], ranks[3][None]))[0] / 2)
        exceed = int(np.sum(np.abs(null) >= abs(stat) - 1e-12))
        exact = math.factorial(m) <= n_perm
        p = exceed / len(perm) if exact else (1 + exceed) / (1 + n_perm)
        rows.append({"language": language, "rho": rho, "rho_cross": stat, "p": p, "n_intermediates": m, "n_seeds": k})
    out = pd.DataFrame(rows, columns=["language", "rho", "rho_cross", "p", "n_intermediates", "n_seeds"])
    out["p_holm"] = holm(out["p"].to_numpy()) if len(out) else []
    out["flagged"] = out["p_holm"] < alpha
    return out


def _gain(x: np.ndarray) -> np.ndarray:
    """Mean of each intermediate minus the baseline's (row 0), over the seeds (columns)."""
    return x[1:].mean(axis=1) - x[0].mean()


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of vector ``a`` with each row of ``b``."""
    a = a - a.mean()
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a**2).sum() * (b**2).sum(axis=1))
    return np.divide((b * a).sum(axis=1), den, out=np.zeros(len(b)), where=den > 0)


def _spearman_gains(c: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Spearman rho of (mean clean gain, mean robust gain) over intermediates 1..I-1;
    c, r are (B, I, S) with the baseline at index 0."""
    gc = c[:, 1:].mean(axis=2) - c[:, :1].mean(axis=2)
    gr = r[:, 1:].mean(axis=2) - r[:, :1].mean(axis=2)
    rc = sps.rankdata(gc, axis=1)
    rr = sps.rankdata(gr, axis=1)
    rc = rc - rc.mean(axis=1, keepdims=True)
    rr = rr - rr.mean(axis=1, keepdims=True)
    den = np.sqrt((rc**2).sum(axis=1) * (rr**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rc * rr).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


def _empty_cells() -> pd.DataFrame:
    return pd.DataFrame(columns=["intermediate", "language", "gain", "ci_low", "ci_high", "se", "t", "df", "p", "n_seeds", "p_holm", "flagged"])


def _empty_attack() -> pd.DataFrame:
    return pd.DataFrame(columns=["intermediate", "language", "attack", "gain", "ci_low", "ci_high", "n_seeds"])
