"""Attack metrics: pure functions, TextAttack's conventions (Morris et al. 2020).

Each attacked example ends in one of three states:

* ``skipped`` -- the model was already wrong on the clean example, so there
  is nothing to attack (TextAttack's ``SkippedAttackResult``);
* ``successful`` -- the goal was reached (prediction changed from the gold;
  QA F1 fell below the threshold; a tagging word that was right became
  wrong);
* ``failed`` -- the search or the fixed perturbation did not reach it.

From those:

* clean accuracy = (successful + failed) / all;
* accuracy under attack = failed / all;
* attack success rate = successful / (successful + failed) (0.0 when every
  example was skipped, as TextAttack prints);
* mean fraction of words perturbed: over *successful* examples only
  (TextAttack's "Average perturbed word %"); 0.0 when none succeeded;
* mean queries: over successful and failed examples (skipped ones cost the
  one clean query and are left out, as in TextAttack);
* examples per second: all examples / wall-clock seconds.

For span QA and tagging, :mod:`raygrid.attacks.evaluate` reports the task's
primary metric (F1, or token accuracy) on clean and attacked rows as clean
and robust "accuracy"; the success rate still uses the states above.

Example:
    >>> outcomes = [Outcome("successful", 0.25, 10), Outcome("failed", 0.0, 30), Outcome("skipped", 0.0, 1)]
    >>> s = summarize(outcomes, seconds=2.0)
    >>> s["clean_accuracy"], s["robust_accuracy"], s["attack_success_rate"], s["mean_queries"]
    (0.6666666666666666, 0.3333333333333333, 0.5, 20.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SUCCESSFUL = "successful"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES = (SUCCESSFUL, FAILED, SKIPPED)

#: The metric names written as result rows, in order.
ATTACK_METRICS: tuple[str, ...] = (
    "clean_accuracy",
    "robust_accuracy",
    "attack_success_rate",
    "mean_words_perturbed",
    "mean_queries",
    "examples_per_second",
)


@dataclass(frozen=True)
class Outcome:
    """How the attack on one example ended.

    Attributes:
        status: ``successful``, ``failed`` or ``skipped``.
        words_perturbed: fraction of the example's words changed.
        queries: model queries spent on the example (the clean one included).
    """

    status: str
    words_perturbed: float
    queries: int

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}; allowed: {STATUSES}")


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}


def attack_success_rate(n_successful: int, n_failed: int) -> float:
    """successful / (successful + failed); 0.0 when both are 0."""
    total = n_successful + n_failed
    return n_successful / total if total else 0.0


def clean_accuracy(outcomes: Sequence[Outcome]) -> float:
    """Examples not skipped / all."""
    if not outcomes:
        raise ValueError("no outcomes")
    return sum(o.status != SKIPPED for o in outcomes) / len(outcomes)


def robust_accuracy(outcomes: Sequence[Outcome]) -> float:
    """Failed attacks / all (skipped and successful examples are wrong)."""
    if not outcomes:
        raise ValueError("no outcomes")
    return sum(o.status == FAILED for o in outcomes) / len(outcomes)


def mean_words_perturbed(outcomes: Sequence[Outcome]) -> float:
    """Mean fraction of words changed over successful attacks (0.0 if none)."""
    values = [o.words_perturbed for o in outcomes if o.status == SUCCESSFUL]
    return sum(values) / len(values) if values else 0.0


def mean_queries(outcomes: Sequence[Outcome]) -> float:
    """Mean queries over successful and failed attacks (0.0 if none)."""
    values = [o.queries for o in outcomes if o.status != SKIPPED]
    return sum(values) / len(values) if values else 0.0


def summarize(outcomes: Sequence[Outcome], *, seconds: float) -> dict[str, float]:
    """Every metric of :data:`ATTACK_METRICS` for a list of outcomes."""
    c = counts(outcomes)
    return {
        "clean_accuracy": clean_accuracy(outcomes),
        "robust_accuracy": robust_accuracy(outcomes),
        "attack_success_rate": attack_success_rate(c[SUCCESSFUL], c[FAILED]),
        "mean_words_perturbed": mean_words_perturbed(outcomes),
        "mean_queries": mean_queries(outcomes),
        "examples_per_second": len(outcomes) / seconds if seconds > 0 else float("inf"),
    }


__all__ = [
    "ATTACK_METRICS",
    "FAILED",
    "SKIPPED",
    "STATUSES",
    "SUCCESSFUL",
    "Outcome",
    "attack_success_rate",
    "clean_accuracy",
    "counts",
    "mean_queries",
    "mean_words_perturbed",
    "robust_accuracy",
    "summarize",
]
