"""The world's three effects, measured through raygrid's own code path
(``raygrid.world.effects``: ``run_cell`` and ``evaluate_attacks``), seed 0.

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

from raygrid.world.effects import PAWSX_LANGUAGES, XNLI_LANGUAGES, attack_drop, intermediate_gain, zero_shot

pytestmark = pytest.mark.e2e

CHANCE_NLI = 1 / 3
# docs/world.md, "Measured effects" (seeds 0-2): mean of de, hi, ru
# 0.452 +- 0.040 (seed 0: 0.405); the threshold, chance + 0.04, sits 2 std
# below the mean: it fails when transfer is gone, not on seed noise alone.
TRANSFERRING = ("de", "hi", "ru")
MIN_MEAN_ZERO_SHOT = 0.37
# Attack (char_noise, rate 0.3): mean drop over 7 languages 0.202 +- 0.025; threshold 0.08 (almost 5 std below).
MIN_ATTACK_DROP = 0.08
# Not yet reached (see docs/world.md): every language above chance, and a gain of QQP on PAWS-X.
MIN_ZERO_SHOT_EVERY_LANGUAGE = 0.38
MIN_PAWSX_GAIN = 0.03


def test_zero_shot_transfer_is_above_chance_in_the_languages_that_transfer(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    accuracy = zero_shot(world.model_dir, world.data_dir, cells, seed=0)
    assert accuracy["en"] > 0.55  # the task is learnt in English
    assert statistics.mean(accuracy[lang] for lang in TRANSFERRING) > MIN_MEAN_ZERO_SHOT > CHANCE_NLI, accuracy


@pytest.mark.xfail(strict=True, reason="ar, sw and zh stay at chance in the current world (docs/world.md)")
def test_zero_shot_transfer_is_above_chance_in_every_language(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    accuracy = zero_shot(world.model_dir, world.data_dir, cells, seed=0)
    assert min(accuracy[lang] for lang in XNLI_LANGUAGES) > MIN_ZERO_SHOT_EVERY_LANGUAGE, accuracy


@pytest.mark.xfail(strict=True, reason="PAWS-X is not learnt from 64 rows or after QQP yet (docs/world.md)")
def test_the_intermediate_task_that_shares_structure_helps_its_target(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    results = intermediate_gain(world.model_dir, world.data_dir, cells, seed=0)
    none = statistics.mean(results["none"][lang] for lang in PAWSX_LANGUAGES)
    qqp = statistics.mean(results["qqp"][lang] for lang in PAWSX_LANGUAGES)
    assert qqp - none > MIN_PAWSX_GAIN, results


def test_the_attack_suite_lowers_accuracy(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    results = attack_drop(world.model_dir, world.data_dir, cells, seed=0)
    (by_language,) = results.values()
    drops = [clean - robust for clean, robust in by_language.values()]
    assert statistics.mean(drops) > MIN_ATTACK_DROP, by_language
