"""Planted effects in per-example outcomes (issue 17's acceptance).

:func:`analysis.synthetic.simulate_examples` plants clean-transfer and
robustness effects separately; the tests of :mod:`analysis.inference` on the
primary endpoint (conditional robust accuracy) must see only the second,
and the synthetic per-example rows must agree with their aggregate rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ROBUST_ACCURACY
from analysis.inference import cell_contrasts, endpoint_values
from analysis.synthetic import (
    ExampleDesign,
    Planted,
    aggregate_rows,
    example_rows,
    simulate_examples,
    true_contrasts,
    write_sweep_dir,
)
from raygrid.outcomes import EXAMPLE_COLUMNS

LANGS = ("ar", "ur", "bg", "ru", "hi", "sw")
ARABIC = ("ar", "ur")
INTERMEDIATES = ("none", "mnli", "squad", "hellaswag")


def _cell_p(design: ExampleDesign, sims: int, endpoint: str, rng: int) -> np.ndarray:
    """p of every (intermediate, language) cell, ``(sims, I-1, L)``."""
    out = simulate_examples(design, sims, rng)
    values = [endpoint_values(*out.language(j), endpoint) for j in range(len(design.languages))]
    return np.stack([cell_contrasts(v).p for v in values], axis=-1)


def test_clean_only_effects_flag_no_robustness_cell() -> None:
    """5-point (mnli, squad) and 3-point (hellaswag) clean gains in every
    cell, no robustness effect: over 200 simulations the conditional robust
    accuracy flags at most 6% of cells at 0.05, while robust accuracy, which
    contains clean accuracy, flags many (the old endpoint's confound)."""
    planted = (Planted("mnli", LANGS, clean_gain=0.05), Planted("squad", LANGS, clean_gain=0.05),
               Planted("hellaswag", LANGS, clean_gain=0.03))  # fmt: skip
    design = ExampleDesign(languages=LANGS, intermediates=INTERMEDIATES, attacks=("polygloss", "typo"), seeds=3,
                           n_examples=200, seed_sd=1.0, planted=planted)  # fmt: skip
    assert np.all(true_contrasts(design)[CONDITIONAL_ROBUST] == 0.0)
    assert np.all(true_contrasts(design)[ROBUST_ACCURACY] > 0.015)
    out = simulate_examples(design, 200, 11)
    flags = {}
    for endpoint in (CONDITIONAL_ROBUST, ROBUST_ACCURACY, CLEAN):
        values = [endpoint_values(*out.language(j), endpoint) for j in range(len(LANGS))]
        flags[endpoint] = float(np.mean(np.stack([cell_contrasts(v).p for v in values], axis=-1) < 0.05))
    print(f"cells flagged at 0.05 (200 sims x 18 cells): {flags}")
    assert flags[CONDITIONAL_ROBUST] <= 0.06
    # measured over rng 11-15: 0.040-0.044 / 0.118-0.132 / 0.183-0.196
    assert flags[ROBUST_ACCURACY] > max(0.09, 2 * flags[CONDITIONAL_ROBUST])  # the clean effect leaks into robust accuracy
    assert flags[CLEAN] > 0.15  # the clean effects are there to be seen (3 seeds: low power)


def test_robustness_effect_in_one_script_is_flagged() -> None:
    """A 3-point robustness-only effect of mnli in the Arabic-script languages
    (5 seeds, 300 examples, seed sd 1 point): the planted cells are flagged
    with the power printed, the other cells stay at the nominal rate."""
    design = ExampleDesign(languages=LANGS, intermediates=INTERMEDIATES, attacks=("polygloss", "typo", "homoglyph"),
                           seeds=5, n_examples=300, seed_sd=1.0,
                           planted=(Planted("mnli", ARABIC, robust_gain=0.03), Planted("squad", LANGS, clean_gain=0.05)))  # fmt: skip
    truth = true_contrasts(design)[CONDITIONAL_ROBUST]
    assert truth[0, :2] == pytest.approx(0.03, abs=1e-4) and np.all(truth[:, 2:] == 0) and np.all(truth[1:] == 0)
    reject = _cell_p(design, 200, CONDITIONAL_ROBUST, rng=12) < 0.05
    power = float(reject[:, 0, :2].mean())
    other = float(np.concatenate([reject[:, 0, 2:].ravel(), reject[:, 1:].ravel()]).mean())
    print(f"power for 3 points in ar/ur at 5 seeds: {power:.3f}; false positives elsewhere: {other:.3f}")
    assert power >= 0.35  # measured 0.453-0.460 over rng 12-16 (200 sims)
    assert other <= 0.07  # measured 0.042-0.058


def test_example_rows_agree_with_aggregate_rows() -> None:
    design = ExampleDesign(languages=("ar", "de"), intermediates=("none", "mnli"), attacks=("typo", "homoglyph"), seeds=2,
                           n_examples=40, n_dev=30, planted=(Planted("mnli", ("ar",), robust_gain=0.05),))  # fmt: skip
    out = simulate_examples(design, 3, 4)
    ex = example_rows(out, sim=1, rng=0)
    assert list(ex.columns) == [*EXAMPLE_COLUMNS, "task", "language"]
    assert len(ex) == 2 * 2 * (2 * 40 * (1 + 2) + 30)
    assert not ex.duplicated(["run_key", "language", "split", "attack", "example_key"]).any()
    attacked = ex[ex["attack"] != "none"]
    assert (attacked["survived"].astype(bool) <= attacked["clean_correct"]).all()
    assert ((attacked["status"] == "skipped") == ~attacked["clean_correct"]).all()
    assert ex.loc[ex["attack"] == "none", "survived"].isna().all()
    agg = aggregate_rows(ex)
    # every value equals the one computed from simulation 1's arrays
    for j, lang in enumerate(design.languages):
        for i, name in enumerate(design.intermediates):
            for s in range(design.seeds):
                sel = agg[(agg["language"] == lang) & (agg["intermediate"] == name) & (agg["seed"] == s)]
                clean = out.clean_correct[1, j, i, s]
                value = sel.set_index(["attack", "metric"])["value"]
                assert value[("none", "accuracy")] == pytest.approx(clean.mean())
                for a, attack in enumerate(design.attacks):
                    kept = out.survived[1, j, i, s, a]
                    assert value[(attack, "clean_accuracy")] == pytest.approx(clean.mean())
                    assert value[(attack, "robust_accuracy")] == pytest.approx(kept.mean())
                    assert value[(attack, "attack_success_rate")] == pytest.approx(1 - kept.sum() / clean.sum())
    dev = agg[(agg["language"] == "en") & (agg["split"] == "dev")]
    assert len(dev) == 2 * 2 and (dev["metric"] == "accuracy").all()
    expected = out.dev_correct[1][[1, 0]].mean(axis=-1).ravel()  # intermediates sorted: mnli, none
    assert dev.sort_values(["intermediate", "seed"])["value"].tolist() == pytest.approx(expected.tolist())
    # the endpoint's per-example values from the rows equal the arrays' (rows -> arrays round trip)
    rows_ar = ex[(ex["language"] == "ar") & (ex["attack"] != "none")].sort_values(["intermediate", "seed", "attack", "example_key"])
    survived = rows_ar["survived"].astype(bool).to_numpy().reshape(2, 2, 2, 40)  # (I sorted: mnli, none), k, A sorted, n
    arrays = out.survived[1, 0][[1, 0]][:, :, [1, 0]]  # attacks sorted: homoglyph, typo
    assert np.array_equal(survived, arrays)


def test_write_sweep_dir_with_example_rows(tmp_path: Path) -> None:
    from raygrid.store import read_examples, read_results

    design = ExampleDesign(languages=("ar",), intermediates=("none", "mnli"), attacks=("typo",), seeds=2, n_examples=10, n_dev=5)
    ex = example_rows(simulate_examples(design, 1, 0))
    agg = aggregate_rows(ex)
    root = write_sweep_dir(tmp_path / "sweep", agg, examples=ex)
    back = read_results(root / "results")
    assert len(back) == len(agg)
    files = sorted((root / "results" / "_examples").rglob("*.parquet"))
    assert len(files) == 4 * 2  # runs (2 intermediates x 2 seeds) x languages (ar, en)
    read = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert len(read) == len(ex)
    assert len(read_examples(root / "results")) == len(ex)


def test_example_rows_read_back_as_the_simulated_arrays() -> None:
    """The analysis's reader (:mod:`analysis.examples`) turns one simulation's
    rows back into exactly its arrays, and the report's cell gains equal the
    array-level contrasts."""
    from analysis.examples import confirm_examples, paired_arrays
    from analysis.robustness import analyze_examples

    design = ExampleDesign(languages=("ar", "bg", "hi"), intermediates=INTERMEDIATES, attacks=("typo", "polygloss"),
                           seeds=3, n_examples=25, n_dev=10, planted=(Planted("mnli", ("ar",), robust_gain=0.05),))  # fmt: skip
    out = simulate_examples(design, 2, 9)
    rows = confirm_examples(example_rows(out, sim=1, rng=3), design.target)
    for j, lang in enumerate(design.languages):
        got = paired_arrays(rows, lang, design.intermediates, range(design.seeds), design.attacks)
        assert got is not None and got.n_examples == design.n_examples
        clean_score, clean_correct, survived, attacked = out.language(j)
        assert np.array_equal(got.clean_score, clean_score[1]) and np.array_equal(got.clean_correct, clean_correct[1])
        assert np.array_equal(got.survived, survived[1]) and np.array_equal(got.attacked_score, attacked[1])
    result = analyze_examples(example_rows(out, sim=1, rng=3), design.target, n_perm=100)
    assert result is not None
    cells = result.cells.set_index(["endpoint", "intermediate", "language"])
    clean_score, clean_correct, survived, attacked = (x[1] for x in out.language(0))
    values = endpoint_values(clean_score, clean_correct, survived, attacked, CONDITIONAL_ROBUST)
    expected = cell_contrasts(values).gain
    for i, name in enumerate(design.intermediates[1:]):
        assert cells.loc[(CONDITIONAL_ROBUST, name, "ar"), "gain"] == pytest.approx(expected[i])
