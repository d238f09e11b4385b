"""The world's three effects, measured through raygrid's own code path
(``raygrid.world.effects``: ``run_cell`` and ``evaluate_attacks``), seed 0
(seeds 0-2 for zero-shot transfer).

Thresholds come from the seed variance measured by
benchmarks/world_effects.py (docs/world.md, "Measured effects") and hold
on the CPUs seen so far (the model a seed gives differs across CPUs). The
effect the current world does not yet show (QQP's PAWS-X gain reaching the
zero-shot languages, +0.015 +- 0.029) is not asserted here: docs/world.md
states the gap and ``benchmarks/world_effects.py`` measures it over seeds
(three more cell pairs a CI run could not afford).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from raygrid.world.effects import (
    XNLI_LANGUAGES,
    attack_drop,
    intermediate_gain,
    low_resource_gain,
    zero_shot,
)

pytestmark = pytest.mark.e2e

CHANCE_NLI = 1 / 3
# docs/world.md, "Measured effects" (generator v6, seeds 0-2; XNLI cells of
# 10 epochs on 3000 MNLI rows, 200 test rows per language). The world model
# is bit-identical per seed on one machine, not across CPUs: the same seed
# built on another 2-core machine of this kind (CI, 2026-12-05) gave English
# 0.69 on seed 0 and six three-seed means of 0.315-0.438 (de at chance),
# against 0.762 +- 0.024 and 0.385-0.507 here. The thresholds hold on both.
# English, three-seed mean: 0.762 here; the threshold is far above chance.
MIN_ENGLISH = 0.65
# Mean over the six non-English languages of their three-seed means: 0.437
# here, 0.380 on CI.
MIN_MEAN_ZERO_SHOT = 0.36
# Languages whose three-seed mean is above chance + 0.025: 6 of 6 here, 5 of
# 6 on CI (de at 0.315): which language lags depends on the pretraining run.
MIN_ZERO_SHOT_PER_LANGUAGE = 0.36
MIN_LANGUAGES_ABOVE = 4
SEEDS = (0, 1, 2)
# Attack (char_noise, rate 0.3): mean drop over 7 languages 0.234 +- 0.049; threshold 0.08 (3 std below).
MIN_ATTACK_DROP = 0.08
# QQP -> PAWS-X, English test: +0.138 +- 0.023 over `none` (seed 0: +0.140); threshold 0.08 (2.5 std below).
MIN_PAWSX_GAIN_EN = 0.08
# ANLI -> XNLI trained on 300 English rows, mean over the six zero-shot languages:
# +0.083 +- 0.017 over `none` here (seeds 0-2: +0.101, +0.068, +0.081); on CI's
# machine (2026-12-06) seed 0 gave +0.033 (English 0.435 -> 0.645). The threshold,
# 0.015, is positive and below every value seen on either CPU.
MIN_LOW_RESOURCE_GAIN = 0.015


@pytest.fixture(scope="module")
def zero_shot_means(world, cells: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Per language (English included), the mean accuracy over seeds 0-2."""
    runs = [zero_shot(world.model_dir, world.data_dir, cells, seed=seed) for seed in SEEDS]
    return {lang: statistics.mean(run[lang] for run in runs) for lang in runs[0]}


def test_zero_shot_transfer_is_above_chance_on_average(zero_shot_means: dict[str, float]) -> None:
    assert zero_shot_means["en"] > MIN_ENGLISH, zero_shot_means  # the task is learnt in English
    mean = statistics.mean(zero_shot_means[lang] for lang in XNLI_LANGUAGES)
    assert mean > MIN_MEAN_ZERO_SHOT > CHANCE_NLI, zero_shot_means


def test_zero_shot_transfer_is_above_chance_in_most_languages(zero_shot_means: dict[str, float]) -> None:
    above = [lang for lang in XNLI_LANGUAGES if zero_shot_means[lang] > MIN_ZERO_SHOT_PER_LANGUAGE]
    assert len(above) >= MIN_LANGUAGES_ABOVE, zero_shot_means


def test_the_intermediate_task_that_shares_structure_helps_its_target(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    run = intermediate_gain(world.model_dir, world.data_dir, cells, seed=0)
    assert run["qqp"]["en"] - run["none"]["en"] > MIN_PAWSX_GAIN_EN, run


def test_the_intermediate_task_that_shares_structure_helps_a_low_resource_target_zero_shot(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    run = low_resource_gain(world.model_dir, world.data_dir, cells, seed=0)
    gain = statistics.mean(run["anli"][lang] - run["none"][lang] for lang in XNLI_LANGUAGES)
    assert run["anli"]["en"] > run["none"]["en"] and gain > MIN_LOW_RESOURCE_GAIN, run


def test_the_attack_suite_lowers_accuracy(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    results = attack_drop(world.model_dir, world.data_dir, cells, seed=0)
    (by_language,) = results.values()
    drops = [clean - robust for clean, robust in by_language.values()]
    assert statistics.mean(drops) > MIN_ATTACK_DROP, by_language
