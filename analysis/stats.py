"""Multiplicity: Holm's step-down adjustment, plain and vectorised.

The tests themselves live in :mod:`analysis.crossed` (the contrast and its
interval) and :mod:`analysis.inference` (cells, headline, correlation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


__all__ = ["BASELINE", "holm", "holm_rows"]
