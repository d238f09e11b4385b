"""How many units one segment of a sweep runs (see :mod:`raygrid.sweep.segments`).

Its own module so that the segment supervisor and the Tune backend both
read it without importing each other.

Example:
    >>> default_segment_trials(2), default_segment_trials(16)
    (200, 800)
"""

from __future__ import annotations


def default_segment_trials(concurrency: int) -> int:
    """Units per segment: large enough that the drain at a segment's end (its
    last trials finishing while no new one starts, about concurrency / (2 x
    segment) of the slots' time) stays under 1 %, small enough that the
    segment's driver grows by a few MiB at most (~12 KiB per trial)."""
    return max(200, 50 * concurrency)


__all__ = ["default_segment_trials"]
