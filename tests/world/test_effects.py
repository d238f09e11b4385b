"""The world's three effects, measured through raygrid's own code path
(``raygrid.world.effects``: ``run_cell`` and ``evaluate_attacks``), seed 0
(seeds 0-2 for the per-language check).

Thresholds come from the seed variance measured by
benchmarks/world_effects.py (docs/world.md, "Measured effects"). Effects the
current world does not yet show are strict xfails: they document the gap,
and turn into failures (XPASS) the day the world shows them, so that the
marker is removed then.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from raygrid.world.effects import (
    PAWSX_LANGUAGES,
    XNLI_LANGUAGES,
    attack_drop,
    intermediate_gain,
    low_resource_gain,
    zero_shot,
)

pytestmark = pytest.mark.e2e

CHANCE_NLI = 1 / 3
# docs/world.md, "Measured effects" (generator v5, seeds 0-2; XNLI cells of
# 10 epochs on 3000 MNLI rows, 200 test rows per language).
# Mean over the six non-English languages: 0.415, 0.464, 0.432 (seeds 0-2),
# 0.437 +- 0.025; the threshold sits 2 std under the mean.
MIN_MEAN_ZERO_SHOT = 0.38
# Per language, mean over seeds 0-2: 0.385 (de) to 0.507 (ru); one seed can
# leave one language at chance (de 0.315 on seed 0), so each language is
# checked on its three-seed mean, at chance + 0.025.
MIN_ZERO_SHOT_EVERY_LANGUAGE = 0.36
SEEDS = (0, 1, 2)
# Attack (char_noise, rate 0.3): mean drop over 7 languages 0.234 +- 0.049; threshold 0.08 (3 std below).
MIN_ATTACK_DROP = 0.08
# QQP -> PAWS-X, English test: +0.138 +- 0.023 over `none` (seed 0: +0.140); threshold 0.08 (2.5 std below).
MIN_PAWSX_GAIN_EN = 0.08
# Zero-shot (de, ja, zh): +0.015 +- 0.029, not distinguishable from 0 yet (docs/world.md).
MIN_PAWSX_GAIN = 0.03
# ANLI -> XNLI trained on 300 English rows, mean over the six zero-shot languages:
# +0.083 +- 0.017 over `none` (seeds 0-2: +0.101, +0.068, +0.081); threshold 0.04 (2.5 std below).
MIN_LOW_RESOURCE_GAIN = 0.04


def test_zero_shot_transfer_is_above_chance_on_average(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    accuracy = zero_shot(world.model_dir, world.data_dir, cells, seed=0)
    assert accuracy["en"] > 0.7  # the task is learnt in English
    assert statistics.mean(accuracy[lang] for lang in XNLI_LANGUAGES) > MIN_MEAN_ZERO_SHOT > CHANCE_NLI, accuracy


def test_zero_shot_transfer_is_above_chance_in_every_language(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    runs = [zero_shot(world.model_dir, world.data_dir, cells, seed=seed) for seed in SEEDS]
    means = {lang: statistics.mean(run[lang] for run in runs) for lang in XNLI_LANGUAGES}
    assert min(means.values()) > MIN_ZERO_SHOT_EVERY_LANGUAGE > CHANCE_NLI, means


def test_the_intermediate_task_that_shares_structure_helps_its_target(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    run = intermediate_gain(world.model_dir, world.data_dir, cells, seed=0)
    assert run["qqp"]["en"] - run["none"]["en"] > MIN_PAWSX_GAIN_EN, run


@pytest.mark.xfail(strict=True, reason="QQP's gain on PAWS-X does not reach the zero-shot languages yet (docs/world.md)")
def test_the_intermediate_task_helps_its_target_zero_shot(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    runs = [intermediate_gain(world.model_dir, world.data_dir, cells, seed=seed) for seed in SEEDS]
    gain = statistics.mean(
        statistics.mean(run["qqp"][lang] - run["none"][lang] for lang in PAWSX_LANGUAGES) for run in runs
    )
    assert gain > MIN_PAWSX_GAIN, runs


def test_the_intermediate_task_that_shares_structure_helps_a_low_resource_target_zero_shot(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    run = low_resource_gain(world.model_dir, world.data_dir, cells, seed=0)
    gain = statistics.mean(run["anli"][lang] - run["none"][lang] for lang in XNLI_LANGUAGES)
    assert run["anli"]["en"] > run["none"]["en"] and gain > MIN_LOW_RESOURCE_GAIN, run


def test_the_attack_suite_lowers_accuracy(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    results = attack_drop(world.model_dir, world.data_dir, cells, seed=0)
    (by_language,) = results.values()
    drops = [clean - robust for clean, robust in by_language.values()]
    assert statistics.mean(drops) > MIN_ATTACK_DROP, by_language
