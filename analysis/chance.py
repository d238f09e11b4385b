"""Where a target's models are no better than guessing: the clean accuracy
of every run mean (baseline and every intermediate) within three binomial
standard errors of chance (1 / the task's number of classes). There the
primary endpoint, conditional robust accuracy, is computed on examples a
model gets right by luck (it then says how stable the guesses are), and a
report must say so rather than let its numbers be read as robustness."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

#: How many binomial standard errors of one run's accuracy from chance still count as chance.
BAND_SE = 3.0


def chance_level(task: str) -> float | None:
    """1 / the number of classes (or choices) of a classification or
    multiple-choice task in raygrid's catalogue; None for other formats
    (QA, tagging, retrieval) and unknown tasks."""
    try:
        from raygrid.tasks import get_task

        spec = get_task(task)
    except Exception:  # noqa: BLE001 - not in the catalogue: no statement
        return None
    fmt = str(getattr(spec.format, "value", spec.format))
    options = spec.num_labels if fmt == "classification" else spec.num_choices if fmt == "multiple_choice" else None
    return 1.0 / options if options and options >= 2 else None


def at_chance(summary: pd.DataFrame, target: str, languages: Sequence[str], chance: float) -> dict[str, tuple[float, float]]:
    """Per language of ``languages`` whose clean accuracy is within the band
    for the baseline and every intermediate: (lowest, highest) mean accuracy.

    ``summary``: :func:`analysis.tables.summary_table`'s frame."""
    clean = summary[(summary["target"] == target) & (summary["attack"] == "none") & (summary["metric"] == "accuracy")]
    out: dict[str, tuple[float, float]] = {}
    for language in languages:
        rows = clean[clean["language"] == language]
        n = float(rows["n_examples"].max()) if len(rows) else 0.0
        if not len(rows) or n <= 0:
            continue
        band = BAND_SE * math.sqrt(chance * (1.0 - chance) / n)
        means = rows["mean"].astype(float)
        if bool(((means - chance).abs() <= band).all()):
            out[language] = (float(means.min()), float(means.max()))
    return out


def chance_line(target: str, chance: float, found: dict[str, tuple[float, float]], n_languages: int) -> str | None:
    """The report's sentence for :func:`at_chance`'s languages (None: none)."""
    if not found:
        return None
    low = min(lo for lo, _ in found.values())
    high = max(hi for _, hi in found.values())
    where = "every zero-shot language" if len(found) == n_languages else "zero-shot " + ", ".join(sorted(found))
    return (
        f"{target}: in {where}, clean accuracy is indistinguishable from chance ({chance:.2f}) for the baseline and "
        f"every intermediate ({low:.2f}-{high:.2f}): there the robustness endpoint is computed on examples a model "
        "gets right by luck; read it as how stable its guesses are, not as robustness of what it learned."
    )


__all__ = ["BAND_SE", "at_chance", "chance_level", "chance_line"]
