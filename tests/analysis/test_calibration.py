"""A small, fast version of ``benchmarks/stats_calibration.py`` (issue 17, deliverable 3).

200 null simulations at 3 seeds through the benchmark's own code: the 95%
intervals of every endpoint must cover the exact population contrasts at
least 90% of the time and the tests must flag at most 10% of null contrasts
(the benchmark holds them to 0.93 / 0.06 over 1,000 simulations).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ENDPOINTS, ROBUST_ACCURACY
from analysis.inference import endpoint_values
from analysis.synthetic import ExampleDesign, Planted, simulate_examples, true_contrasts

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stats_calibration.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stats_calibration", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stats_calibration"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_null_calibration_at_three_seeds(bench: ModuleType) -> None:
    design = replace(bench.null_design(3, 1.0, examples=150, attacks=2), n_dev=2)
    result = bench.summarise(design, bench.simulate(design, 200, rng=3, batch=100, n_perm=720))
    print(bench.null_tables([{"seeds": 3, "seed_sd": 1.0, "endpoints": result}]))
    for endpoint in ENDPOINTS:
        r = result[endpoint]
        assert r["cell_coverage"] >= 0.9 and r["headline_coverage"] >= 0.9, (endpoint, r["cell_coverage"], r["headline_coverage"])
        assert r["cell_fpr"] <= 0.1 and r["headline_fpr"] <= 0.1, (endpoint, r["cell_fpr"], r["headline_fpr"])
        assert r["cell_fwer_holm"] <= 0.1, (endpoint, r["cell_fwer_holm"])
    assert result[CONDITIONAL_ROBUST]["correlation_flag"] <= 0.1
    # the old endpoint sees the planted clean effects; the benchmark reports it
    assert result[ROBUST_ACCURACY]["correlation_flag"] > 0.3
    misses = bench.verdict([{"seeds": 3, "seed_sd": 1.0, "endpoints": result}])
    assert all(isinstance(m, str) for m in misses)


def test_true_contrasts_are_what_large_samples_estimate() -> None:
    """The exact population contrasts (quadrature) against the mean estimate
    over simulations with many examples: within 4 standard errors."""
    design = ExampleDesign(languages=("ar", "de"), intermediates=("none", "mnli", "squad"), attacks=("polygloss", "typo"),
                           seeds=2, n_examples=2000, n_dev=2, seed_sd=2.0,
                           planted=(Planted("mnli", ("ar",), robust_gain=0.05, clean_gain=0.04), Planted("squad", ("de",), clean_gain=-0.06)))  # fmt: skip
    truth = true_contrasts(design)
    out = simulate_examples(design, 60, 8)
    for endpoint in (CLEAN, CONDITIONAL_ROBUST, ROBUST_ACCURACY):
        per_lang = [endpoint_values(*out.language(j), endpoint).mean(axis=(-2, -1)) for j in range(2)]  # (sims, I)
        gains = np.stack([v[:, 1:] - v[:, :1] for v in per_lang], axis=-1)  # (sims, I-1, L)
        se = gains.std(axis=0, ddof=1) / np.sqrt(gains.shape[0])
        assert np.all(np.abs(gains.mean(axis=0) - truth[endpoint]) < 4 * se + 1e-3), endpoint
    assert truth[CONDITIONAL_ROBUST][0, 0] == pytest.approx(0.05, abs=1e-3)
    assert truth[CONDITIONAL_ROBUST][1, 1] == 0.0 and truth[ROBUST_ACCURACY][1, 1] < -0.02
