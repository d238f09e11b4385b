"""The statistics find planted effects and nothing else; null false-positive rates stay nominal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis.stats import block_contrasts, correlation_tests, gain_tests, holm, holm_rows
from analysis.synthetic import Planted, confirm_rows, script_of
from analysis.tables import clean_per_seed, robust_per_seed

ALPHA = 0.05


def test_holm_matches_the_textbook_procedure() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    adjusted = holm(p)
    assert np.allclose(adjusted[:4], [0.03, 0.06, 0.06, 0.02]) and np.isnan(adjusted[4])
    assert np.allclose(holm_rows(p[None, :4])[0], adjusted[:4])


def test_block_contrasts_equal_a_paired_t_test_with_two_treatments() -> None:
    x = np.random.default_rng(0).normal(size=(2, 6)) + np.array([[0.0], [0.7]])
    t, df, p = block_contrasts(x)
    ref = sps.ttest_rel(x[1], x[0])
    assert df == 5 and t[0] == pytest.approx(ref.statistic) and p[0] == pytest.approx(ref.pvalue)


def _binomial_upper(n: int, rate: float) -> int:
    """Largest count of any-flag simulations compatible with ``rate`` (one-sided, 99.9%)."""
    return int(sps.binom.ppf(0.999, n, rate))


def test_null_family_wise_error_rate_is_nominal_vectorised() -> None:
    """2,000 null sweeps (15 languages x 8 intermediates x 5 seeds x 3 attacks, the
    generative model of analysis.synthetic, attack-averaged per run) through the
    same block t test + Holm as gain_tests."""
    rng = np.random.default_rng(123)
    n_sims, n_lang, n_int, n_seed, n_att, n_ex, seed_sd = 2000, 15, 8, 5, 3, 1000, 0.004
    base = rng.uniform(0.3, 0.6, size=(1, n_lang, 1, 1))
    run = rng.normal(0, seed_sd, size=(n_sims, 1, n_int, n_seed)) + rng.normal(0, seed_sd, size=(n_sims, n_lang, n_int, n_seed))
    p_true = base + run
    examples = rng.binomial(n_ex, np.broadcast_to(p_true[..., None], (*p_true.shape, n_att))) / n_ex
    x = examples.mean(axis=-1)  # (sims, L, I, S)
    _, _, p = block_contrasts(x)
    p = p.reshape(n_sims, -1)
    any_flag = int((holm_rows(p) < ALPHA).any(axis=1).sum())
    assert any_flag <= _binomial_upper(n_sims, ALPHA), any_flag
    # Unadjusted tests are calibrated too (not merely conservative).
    rate = float((p < ALPHA).mean())
    assert abs(rate - ALPHA) < 0.006, rate


def test_null_full_pipeline_flags_nothing_beyond_nominal() -> None:
    """A modest number of null sweeps through rows -> tables -> gain and correlation tests."""
    n_sims, gain_any, corr_any = 30, 0, 0
    for k in range(n_sims):
        rows = confirm_rows(languages=("ar", "de", "hi", "ru", "th", "zh"), seeds=5, rng=1000 + k)
        robust, clean = robust_per_seed(rows, "xnli"), clean_per_seed(rows, "xnli")
        cells, _ = gain_tests(robust, n_boot=0, rng=k)
        gain_any += bool(cells["flagged"].any())
        corr_any += bool(correlation_tests(clean, robust, n_perm=200, rng=k)["flagged"].any())
    assert gain_any <= _binomial_upper(n_sims, ALPHA) and corr_any <= _binomial_upper(n_sims, ALPHA)


def test_planted_script_effect_is_found_and_nothing_else() -> None:
    """hellaswag raises robust accuracy by 3 points in Arabic-script languages only."""
    arabic = tuple(lang for lang in ("ar", "ur") if script_of(lang) == "Arabic")
    rows = confirm_rows(planted=[Planted("hellaswag", arabic, robust_gain=0.03)], seeds=8, n_attacked=2000, rng=1)
    cells, per_attack = gain_tests(robust_per_seed(rows, "xnli"), n_boot=500, rng=0)
    flagged = {(r.intermediate, r.language) for r in cells[cells["flagged"]].itertuples()}
    assert flagged == {("hellaswag", "ar"), ("hellaswag", "ur")}
    hit = cells.set_index(["intermediate", "language"]).loc[("hellaswag", "ar")]
    assert hit["ci_low"] < 0.03 < hit["ci_high"] and hit["ci_low"] > 0
    assert set(per_attack["attack"]) == {"polygloss", "typo", "homoglyph"}


def test_bootstrap_ci_covers_the_truth_at_about_95_percent() -> None:
    rows = confirm_rows(seeds=6, rng=7)  # every true gain is 0
    cells, per_attack = gain_tests(robust_per_seed(rows, "xnli"), n_boot=400, rng=0)
    cover = float(((cells["ci_low"] <= 0) & (cells["ci_high"] >= 0)).mean())
    assert 0.85 <= cover <= 1.0, cover
    assert (per_attack["ci_low"] <= per_attack["ci_high"]).all()


def test_planted_correlation_in_one_script_is_found() -> None:
    """Where clean and robust gains move together (Cyrillic) the correlation is flagged; elsewhere not."""
    inters = ("none", "mnli", "squad", "hellaswag", "anli", "qqp", "cosmosqa", "all")
    cyr = ("bg", "ru")
    planted = [Planted(name, cyr, robust_gain=0.015 * k, clean_gain=0.015 * k) for k, name in enumerate(inters) if k]
    rows = confirm_rows(intermediates=inters, planted=planted, seeds=8, n_attacked=2000, rng=3)
    corr = correlation_tests(clean_per_seed(rows, "xnli"), robust_per_seed(rows, "xnli"), n_perm=5040, rng=0)
    assert set(corr.loc[corr["flagged"], "language"]) == set(cyr)
    assert (corr.set_index("language").loc[list(cyr), "rho"] > 0.8).all()


def test_tables_ignore_trials_and_pick_test_split() -> None:
    rows = confirm_rows(languages=("de", "en"), seeds=2, rng=0)
    trial = rows.iloc[:5].assign(stage="trial", value=9.0)
    clean = clean_per_seed(pd.concat([rows, trial]), "xnli")
    assert clean["value"].max() <= 1.0 and len(clean) == 8 * 2 * 2


def test_mixed_model_recovers_a_planted_main_effect() -> None:
    from analysis.mixed import fit_mixed

    langs = ("ar", "de", "hi", "ru", "th", "zh")
    rows = confirm_rows(languages=langs, intermediates=("none", "mnli", "squad"), planted=[Planted("mnli", langs, robust_gain=0.04)], seeds=4, rng=5)
    result = fit_mixed(robust_per_seed(rows, "xnli"))
    fixed = result.fixed.set_index("term")
    assert result.converged and set(result.variances) == {"language", "seed run (within language)", "residual"}
    assert fixed.loc["intermediate=mnli", "ci_low"] < 4.0 < fixed.loc["intermediate=mnli", "ci_high"]
    assert fixed.loc["intermediate=mnli", "p"] < 0.001 and fixed.loc["intermediate=squad", "p"] > 0.001
