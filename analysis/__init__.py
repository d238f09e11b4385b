"""Robustness analysis of raygrid sweeps: per-example paired statistics, figures, report.

Imports neither torch nor Ray: it reads the results store of a sweep
directory (pandas + pyarrow) and uses scipy and matplotlib (Agg). Submodules:

* :mod:`analysis.tables` -- aggregate and per-example confirm rows of a sweep;
* :mod:`analysis.examples` -- per-example rows -> arrays paired on examples and seeds;
* :mod:`analysis.endpoints` -- conditional robust accuracy, robust accuracy, clean score per example;
* :mod:`analysis.crossed` -- a paired contrast's interval and test in the crossed seeds x examples design;
* :mod:`analysis.inference` -- cells, the language-averaged headline, the correlation test (vectorised);
* :mod:`analysis.robustness` -- one target's analysis: design, families, minimum detectable effects;
* :mod:`analysis.stats` -- Holm;
* :mod:`analysis.figures` -- headline heatmap, forest plot, clean vs robust scatter, per-attack heatmaps;
* :mod:`analysis.figure_checks` -- every drawn text's box: overlaps and fonts under 9 pt as displayed;
* :mod:`analysis.report` -- :func:`analyze` (HTML + Markdown + CSV + findings.json);
* :mod:`analysis.synthetic` -- synthetic sweeps with planted effects.

Example:
    >>> from analysis import analyze
    >>> report = analyze("runs/sweep", "runs/sweep-report")  # doctest: +SKIP
"""

from __future__ import annotations

from analysis.report import Report, analyze
from analysis.robustness import TargetRobustness, analyze_examples
from analysis.stats import holm
from analysis.tables import load_confirm, load_examples, summary_table

__all__ = [
    "Report",
    "TargetRobustness",
    "analyze",
    "analyze_examples",
    "holm",
    "load_confirm",
    "load_examples",
    "summary_table",
]
