"""The statistics' building blocks: Holm, the crossed contrast, the endpoints,
the correlation test and the per-example tables. Calibration over many
simulations is in test_calibration.py; planted effects end to end in
test_planted_examples.py and test_analysis_report.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis.crossed import crossed_contrast, min_detectable
from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ROBUST_ACCURACY, ratio_values
from analysis.examples import paired_arrays
from analysis.inference import cell_contrasts, correlation_test, endpoint_values, headline_contrasts, min_correlation_p
from analysis.stats import holm, holm_rows


def test_holm_matches_the_textbook_procedure() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    adjusted = holm(p)
    assert np.allclose(adjusted[:4], [0.03, 0.06, 0.06, 0.02]) and np.isnan(adjusted[4])
    assert np.allclose(holm_rows(p[None, :4])[0], adjusted[:4])


def test_with_one_example_the_contrast_is_a_paired_t_test_over_seeds() -> None:
    d = np.random.default_rng(0).normal(0.3, 1.0, size=(6, 1))
    c = crossed_contrast([d])
    ref = sps.ttest_1samp(d[:, 0], 0.0)
    assert float(c.gain) == pytest.approx(d.mean())
    assert float(c.p) == pytest.approx(ref.pvalue, rel=1e-6)
    half = sps.t.ppf(0.975, 5) * d[:, 0].std(ddof=1) / np.sqrt(6)
    assert float(c.ci_high - c.gain) == pytest.approx(half)


def test_the_interval_and_p_agree_and_one_seed_gives_no_interval() -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(0.05, 0.5, size=(200, 3, 300)) + rng.normal(0, 0.03, size=(200, 3, 1))
    c = crossed_contrast([d])
    excludes = (c.ci_low > 0) | (c.ci_high < 0)
    assert np.array_equal(excludes, c.p < 0.05 - 1e-9) or np.mean(excludes != (c.p < 0.05)) < 0.01
    one = crossed_contrast([d[:, :1]])
    assert np.isnan(one.ci_low).all() and np.isnan(one.p).all() and np.isfinite(one.gain).all()
    assert np.isnan(min_detectable(one, alpha=0.05)).all()


def test_a_run_effect_shared_by_languages_is_counted_once() -> None:
    """The seed term of a language-averaged contrast uses the language-averaged
    seed means: a shared run effect does not shrink by the number of languages."""
    rng = np.random.default_rng(2)
    n_sims, k, n, langs = 2000, 3, 50, 6
    shared = rng.normal(0, 0.05, size=(n_sims, k, 1))
    diffs = [shared + rng.normal(0, 0.2, size=(n_sims, k, n)) for _ in range(langs)]
    c = crossed_contrast(diffs)
    coverage = float(np.mean((c.ci_low <= 0) & (c.ci_high >= 0)))
    assert coverage >= 0.93, coverage
    # Treating languages as independent (each its own seed term, averaged) under-covers:
    naive = np.sqrt(np.mean([crossed_contrast([d]).se ** 2 for d in diffs], axis=0) / langs)
    naive_cover = float(np.mean(np.abs(c.gain) <= sps.t.ppf(0.975, k - 1) * naive))
    assert naive_cover < coverage - 0.05, (naive_cover, coverage)


def test_ratio_values_average_to_the_ratio_and_nan_without_correct_examples() -> None:
    y = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=float)
    c = np.array([[1, 1, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=float)
    v = ratio_values(y, c)
    assert v[0].mean() == pytest.approx(2 / 4) and np.isnan(v[1]).all()


def test_endpoints_separate_transfer_from_robustness() -> None:
    """Planted clean gain only: robust accuracy moves, conditional robust accuracy does not."""
    rng = np.random.default_rng(3)
    n_int, k, n_att, n = 2, 4, 2, 20_000
    p_clean = np.array([0.6, 0.75])[:, None, None]
    clean = rng.random((n_int, k, n)) < p_clean
    survived = clean[:, :, None, :] & (rng.random((n_int, k, n_att, n)) < 0.5)
    values = {e: endpoint_values(clean.astype(float), clean, survived, survived.astype(float), e) for e in (CLEAN, ROBUST_ACCURACY, CONDITIONAL_ROBUST)}
    gains = {e: float(cell_contrasts(v).gain[0]) for e, v in values.items()}
    assert gains[CLEAN] == pytest.approx(0.15, abs=0.01)
    assert gains[ROBUST_ACCURACY] == pytest.approx(0.075, abs=0.01)
    assert abs(gains[CONDITIONAL_ROBUST]) < 0.01


def test_headline_averages_languages_and_cells_pair_each_intermediate_with_the_baseline() -> None:
    rng = np.random.default_rng(4)
    values = [rng.normal(0, 0.1, size=(3, 4, 30)) + np.array([0.0, 0.02, -0.01])[:, None, None] for _ in range(3)]
    cells = cell_contrasts(values[0])
    assert cells.gain.shape == (2,)
    assert cells.gain[0] == pytest.approx(values[0][1].mean() - values[0][0].mean())
    head = headline_contrasts(values)
    assert head.gain[1] == pytest.approx(np.mean([v[2].mean() - v[0].mean() for v in values]))


def test_the_correlation_test_finds_a_planted_association_and_reports_its_floor() -> None:
    rng = np.random.default_rng(5)
    n_int, k, n, langs = 7, 4, 40, 3
    effect = np.linspace(0, 0.3, n_int)[:, None, None]
    clean = [rng.normal(0, 0.2, size=(n_int, k, n)) + effect for _ in range(langs)]
    robust = [rng.normal(0, 0.2, size=(n_int, k, n)) + effect for _ in range(langs)]
    stat, p = correlation_test(clean, robust, n_perm=720)
    assert float(stat) > 0.8 and float(p) < 0.01
    null = [rng.normal(0, 0.2, size=(n_int, k, n)) for _ in range(langs)]
    assert float(correlation_test(clean, null, n_perm=720)[1]) > 0.01
    assert min_correlation_p(3) == pytest.approx(1 / 3) and min_correlation_p(6) == pytest.approx(2 / 720)
    nan_stat, nan_p = correlation_test([c[:3] for c in clean], [r[:3] for r in robust])
    assert np.isnan(nan_stat) and np.isnan(nan_p)


def _example_rows() -> pd.DataFrame:
    records = []
    for inter in ("none", "mnli"):
        for seed in (0, 1):
            for attack in ("none", "typo"):
                for e in range(4):
                    if inter == "mnli" and seed == 1 and e == 3:
                        continue  # one run lacks example 3: it is dropped for every run
                    right = (e + seed) % 2 == 0
                    records.append({
                        "task": "xnli", "language": "de", "split": "test", "stage": "confirm", "intermediate": inter,
                        "seed": seed, "attack": attack, "example_key": f"ex{e}", "clean_score": float(right),
                        "clean_correct": right, "survived": None if attack == "none" else right and e < 2,
                        "attacked_score": np.nan if attack == "none" else float(right and e < 2),
                    })  # fmt: skip
    return pd.DataFrame(records)


def test_paired_arrays_align_runs_on_the_examples_all_of_them_evaluated() -> None:
    arrays = paired_arrays(_example_rows(), "de", ["none", "mnli"], [0, 1], ["typo"])
    assert arrays is not None
    assert arrays.example_keys == ("ex0", "ex1", "ex2")
    assert arrays.clean_score.shape == (2, 2, 3) and arrays.survived.shape == (2, 2, 1, 3)
    assert arrays.clean_score[0, 1].tolist() == [0.0, 1.0, 0.0]
    assert arrays.survived[0, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert paired_arrays(_example_rows(), "fr", ["none", "mnli"], [0, 1], ["typo"]) is None


def test_an_mde_of_the_endpoints_whole_range_or_more_reads_as_none() -> None:
    from analysis.tables import mde_phrase, mde_points

    assert mde_points(0.042) == "4.2" and mde_points(float("nan")) == "n/a"
    assert mde_points(1.84) == "none (184 >= 100)" and mde_points(-1.0) == "none (100 >= 100)"
    assert mde_phrase(0.318, "averaged over languages") == "a change of about 31.8 points averaged over languages"
    assert mde_phrase(1.62, "in one language").startswith("no change of any size in one language")
