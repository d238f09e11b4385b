"""The endpoints, per run, as per-example values whose mean is the run's score.

A contrast between an intermediate task and the baseline is a mean of paired
per-example differences (:mod:`analysis.crossed`); every endpoint is
therefore written as one value per (run, example) whose mean over the
examples is exactly the run's score:

* **conditional robust accuracy** (primary; ``1 - attack success rate``):
  ``R = sum(survived) / sum(clean_correct)``, the share of the examples the
  model gets right clean that it still gets right under attack. A ratio, so
  its per-example values are the delta-method linearisation
  ``R + (survived_e - R * clean_correct_e) / mean(clean_correct)``, whose
  mean is ``R`` and whose spread is the ratio's sampling spread. Clean
  transfer moves which examples are attacked, not this share, so an
  intermediate that only improves clean accuracy does not move it;
* **robust accuracy** (secondary): the per-example score under attack
  (``attacked_score``): clean accuracy times conditional robust accuracy,
  so it mixes transfer and robustness and is reported as such;
* **clean score** (secondary: the clean-transfer gain): ``clean_score``.

Arrays here are ``(..., n)`` over examples (leading axes: runs, attacks,
simulations).
"""

from __future__ import annotations

import numpy as np

#: Endpoint names as the report and findings.json spell them.
CONDITIONAL_ROBUST = "conditional_robust_accuracy"
ROBUST_ACCURACY = "robust_accuracy"
CLEAN = "clean"
ENDPOINTS = (CONDITIONAL_ROBUST, ROBUST_ACCURACY, CLEAN)


def ratio_values(survived: np.ndarray, clean_correct: np.ndarray) -> np.ndarray:
    """Per-example values of ``sum(survived) / sum(clean_correct)`` over the
    last axis (NaN everywhere for a run with no example right clean).

    Example:
        >>> v = ratio_values(np.array([1.0, 0.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.0, 0.0]))
        >>> round(float(v.mean()), 4), round(2 / 3, 4)
        (0.6667, 0.6667)
    """
    y = np.asarray(survived, dtype=float)
    c = np.asarray(clean_correct, dtype=float)
    c_mean = c.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y.sum(axis=-1, keepdims=True) / c.sum(axis=-1, keepdims=True)
        values = ratio + (y - ratio * c) / c_mean
    return np.where(c_mean > 0, values, np.nan)


__all__ = ["CLEAN", "CONDITIONAL_ROBUST", "ENDPOINTS", "ROBUST_ACCURACY", "ratio_values"]
