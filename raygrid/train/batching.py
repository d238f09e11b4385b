"""Seeded batch orders: length-grouped batches and multi-task mixing.

Pure Python (no torch), so the orders are cheap to test and identical on
every machine for the same seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence


def length_grouped_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    group_factor: int = 50,
) -> list[list[int]]:
    """One epoch of batches of similar-length examples, in a seeded order.

    Examples are shuffled, cut into mega-batches of ``group_factor *
    batch_size * world_size``, sorted by length inside each, cut into global
    batches, and the batches shuffled again: padding stays small (dynamic
    padding pads to each batch's longest) while the order stays random.
    Each global batch is split across ``world_size`` workers; this returns
    ``rank``'s share, and every rank gets the same number of batches (the
    last incomplete global batch is dropped when ``world_size > 1``).

    Example:
        >>> length_grouped_batches([5, 1, 9, 2], 2, seed=0)
        [[0, 2], [1, 3]]
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    global_batch = batch_size * world_size
    mega = max(global_batch, group_factor * global_batch)
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        batches.extend(chunk[i : i + global_batch] for i in range(0, len(chunk), global_batch))
    if world_size > 1:
        batches = [b for b in batches if len(b) == global_batch]
    rng.shuffle(batches)
    return [b[rank::world_size] for b in batches]


def mixing_rates(sizes: Mapping[str, int], cap: int) -> dict[str, float]:
    """Examples-proportional mixing rates with a size cap (Raffel et al. 2020,
    section 3.5.2): ``r_i = min(n_i, cap) / sum_j min(n_j, cap)``."""
    capped = {task: min(n, cap) for task, n in sizes.items() if n > 0}
    total = sum(capped.values())
    if total == 0:
        raise ValueError("every task of the mixture is empty")
    return {task: n / total for task, n in sorted(capped.items())}


def mixture_schedule(rates: Mapping[str, float], steps: int, *, seed: int) -> list[str]:
    """Which task each of ``steps`` steps trains on, drawn with ``rates``."""
    rng = random.Random(seed)
    tasks = sorted(rates)
    weights = [rates[t] for t in tasks]
    return rng.choices(tasks, weights=weights, k=steps)


def steps_per_epoch(sizes: Mapping[str, int], batch_size: int, cap: int | None = None) -> int:
    """Optimizer steps in one epoch: a pass over every (capped) task."""
    total = sum(min(n, cap) if cap else n for n in sizes.values())
    return max(1, math.ceil(total / batch_size))


class BatchStream:
    """Endless seeded batches over one task: epoch after epoch, each epoch a
    new :func:`length_grouped_batches` order (seed, epoch) -> same order."""

    def __init__(
        self, lengths: Sequence[int], batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self._pending: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return self

    def __next__(self) -> list[int]:
        while not self._pending:
            self._pending = length_grouped_batches(
                self.lengths,
                self.batch_size,
                seed=self.seed * 1_000_003 + self.epoch,
                rank=self.rank,
                world_size=self.world_size,
            )
            self._pending.reverse()
            self.epoch += 1
            if not self._pending:
                raise ValueError(
                    f"{len(self.lengths)} examples cannot fill one batch of {self.batch_size} "
                    f"x {self.world_size} workers"
                )
        return self._pending.pop()
