"""The world's three effects, measured through raygrid's own code path
(``raygrid.world.effects``: ``run_cell`` and ``evaluate_attacks``).

Margins come from the seed variance measured by benchmarks/world_effects.py
(docs/world.md, "Measured effects"): each threshold sits at least 3
standard deviations below the measured mean, and clearly above what no
effect would give (chance, or a zero difference).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from raygrid.world.effects import PAWSX_LANGUAGES, XNLI_LANGUAGES, attack_drop, intermediate_gain, zero_shot

pytestmark = pytest.mark.e2e

CHANCE_NLI = 1 / 3
# docs/world.md: thresholds from the measured mean - 3 std over seeds 0-2.
MIN_ZERO_SHOT = 0.42  # every non-English language
MIN_PAWSX_GAIN = 0.04  # mean over de, ja, zh of qqp->pawsx minus none->pawsx
MIN_ATTACK_DROP = 0.04  # mean over languages of clean minus robust accuracy


def test_zero_shot_transfer_is_above_chance_in_every_language(world, cells: Path) -> None:  # type: ignore[no-untyped-def]
    accuracy = zero_shot(world.model_dir, world.data_dir, cells, seed=0)
    assert accuracy["en"] > accuracy["ar"] - 0.02  # English (in-language) is the upper reference
    for language in XNLI_LANGUAGES:
        assert accuracy[language] > MIN_ZERO_SHOT > CHANCE_NLI, (language, accuracy)


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
