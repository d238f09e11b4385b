"""Robustness analysis of raygrid sweeps: tables, statistics, figures, report.

Imports neither torch nor Ray: it reads the results store of a sweep
directory (pandas + pyarrow) and uses scipy, statsmodels and matplotlib
(Agg). Submodules:

* :mod:`analysis.tables` -- contract rows -> per-seed and summary tables;
* :mod:`analysis.stats` -- gains, block t tests + Holm, bootstrap CIs, permutation correlations;
* :mod:`analysis.mixed` -- the mixed-effects model;
* :mod:`analysis.figures` -- heatmaps, forest plots, clean-vs-robust scatter;
* :mod:`analysis.report` -- :func:`analyze` (HTML + Markdown + CSV + findings.json);
* :mod:`analysis.synthetic` -- synthetic sweeps with planted effects.

Example:
    >>> from analysis import analyze
    >>> report = analyze("runs/sweep", "runs/sweep/report")  # doctest: +SKIP
"""

from __future__ import annotations

from analysis.report import Report, TargetAnalysis, analyze, analyze_target
from analysis.stats import block_contrasts, correlation_tests, gain_tests, holm
from analysis.tables import clean_per_seed, load_confirm, robust_per_seed, summary_table

__all__ = [
    "Report",
    "TargetAnalysis",
    "analyze",
    "analyze_target",
    "block_contrasts",
    "clean_per_seed",
    "correlation_tests",
    "gain_tests",
    "holm",
    "load_confirm",
    "robust_per_seed",
    "summary_table",
]
