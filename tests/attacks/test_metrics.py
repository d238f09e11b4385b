"""Attack metrics against hand-computed values (TextAttack conventions)."""

from __future__ import annotations

import math

import pytest

from raygrid.attacks.metrics import Outcome, attack_success_rate, summarize


def test_summary_by_hand() -> None:
    # 5 examples: 2 successful (0.1, 0.3 of words; 12 and 20 queries),
    # 1 failed (40 queries), 2 skipped (1 query each), over 2.5 s.
    outcomes = [
        Outcome("successful", 0.1, 12),
        Outcome("skipped", 0.0, 1),
        Outcome("failed", 0.05, 40),
        Outcome("successful", 0.3, 20),
        Outcome("skipped", 0.0, 1),
    ]
    s = summarize(outcomes, seconds=2.5)
    assert s["clean_accuracy"] == pytest.approx(3 / 5)  # not skipped
    assert s["robust_accuracy"] == pytest.approx(1 / 5)  # failed only
    assert s["attack_success_rate"] == pytest.approx(2 / 3)  # 2 / (2 + 1); skipped excluded
    assert s["mean_words_perturbed"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2, successful only
    assert s["mean_queries"] == pytest.approx(24.0)  # (12 + 40 + 20) / 3, skipped excluded
    assert s["examples_per_second"] == pytest.approx(2.0)  # 5 / 2.5


def test_all_skipped_and_bad_status() -> None:
    s = summarize([Outcome("skipped", 0.0, 1)], seconds=1.0)
    assert s["attack_success_rate"] == 0.0 and s["mean_queries"] == 0.0 and s["clean_accuracy"] == 0.0
    assert attack_success_rate(0, 0) == 0.0 and attack_success_rate(3, 1) == 0.75
    with pytest.raises(ValueError):
        Outcome("won", 0.0, 1)
    assert not math.isnan(s["robust_accuracy"])
