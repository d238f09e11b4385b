"""The closed choices of a spec (stages, data sources, directions, ...).

Samplers and pruners are not among them: they are open, in the registry of
:mod:`raygrid.sweep.search`.
"""

from __future__ import annotations

from enum import Enum


class Stage(str, Enum):
    """The stages of a sweep, in the order they run."""

    INTERMEDIATE = "intermediate"  # phase 2: HPO on the intermediate task's English dev set
    TARGET = "target"  # phase 3: HPO on the target's English dev set (zero-shot protocol)
    CONFIRM = "confirm"  # the best target config retrained per seed, evaluated per language


class DataSource(str, Enum):
    """Where task data comes from (local directories take precedence over both)."""

    HUB = "hub"  # the Hugging Face hub
    BUNDLED = "bundled"  # the small fixtures shipped in raygrid/data/fixtures (tests, demo)


class CheckpointKeep(str, Enum):
    """Which trial checkpoints a sweep keeps once their cell is done."""

    BEST = "best"  # the best trial's of each cell, and every confirm run's (raygrid.sweep.retention)
    ALL = "all"  # every trial's


class Direction(str, Enum):
    """Whether the objective is maximised or minimised."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"



__all__ = ["CheckpointKeep", "DataSource", "Direction", "Stage"]
