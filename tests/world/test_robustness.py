"""The robustness endpoint of the world's effect cells and their settings (no training)."""

from __future__ import annotations

import math

import pytest

from raygrid.errors import ConfigError
from raygrid.world.effects import ROBUSTNESS_EPOCHS, ROBUSTNESS_SETTINGS, EffectSettings, Robustness


def test_conditional_robust_accuracy_is_the_share_of_clean_hits_that_survive() -> None:
    assert Robustness(clean=0.5, survived=30, broken=10).conditional_robust == 0.75  # 1 - attack success rate 0.25
    assert math.isnan(Robustness(clean=0.0, survived=0, broken=0).conditional_robust)


def test_robustness_cells_train_every_intermediate_at_their_epochs_and_nothing_else() -> None:
    base = EffectSettings()
    for task in ("qqp", "squad", "anli"):
        ours, theirs = ROBUSTNESS_SETTINGS.intermediate(task), base.intermediate(task)
        assert ours.num_epochs == ROBUSTNESS_EPOCHS != theirs.num_epochs
        assert (ours.learning_rate, ours.max_seq_length) == (theirs.learning_rate, theirs.max_seq_length)
    assert ROBUSTNESS_SETTINGS.xnli == base.xnli and ROBUSTNESS_SETTINGS.low_resource == base.low_resource
    with pytest.raises(ConfigError, match="intermediate 'mnli'; allowed: anli, qqp, squad"):
        base.intermediate("mnli")
