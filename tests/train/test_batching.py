from __future__ import annotations

import pytest

from raygrid.train.batching import (
    BatchStream,
    length_grouped_batches,
    mixing_rates,
    mixture_schedule,
    steps_per_epoch,
)


def test_every_example_once_per_epoch_and_same_seed_same_order() -> None:
    lengths = [(i * 37) % 50 + 1 for i in range(103)]
    a = length_grouped_batches(lengths, 8, seed=3, group_factor=2)
    assert sorted(i for b in a for i in b) == list(range(103))
    assert a == length_grouped_batches(lengths, 8, seed=3, group_factor=2)
    assert a != length_grouped_batches(lengths, 8, seed=4, group_factor=2)


def test_length_grouping_reduces_padding() -> None:
    lengths = [(i * 7919) % 200 + 1 for i in range(1000)]

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    grouped = padded(length_grouped_batches(lengths, 16, seed=0))
    random_order = padded(length_grouped_batches(lengths, 16, seed=0, group_factor=1))
    assert grouped < 0.7 * random_order
    # 1000 examples of mean length ~100: padding stays under 10% of tokens
    assert grouped < 1.10 * sum(lengths)


def test_ranks_split_each_global_batch() -> None:
    lengths = list(range(1, 41))
    r0 = length_grouped_batches(lengths, 4, seed=1, rank=0, world_size=2)
    r1 = length_grouped_batches(lengths, 4, seed=1, rank=1, world_size=2)
    assert len(r0) == len(r1) == 5
    assert not {i for b in r0 for i in b} & {i for b in r1 for i in b}
    assert sorted(i for b in r0 + r1 for i in b) == list(range(40))


def test_mixing_rates_are_capped_examples_proportional() -> None:
    # sizes 100, 1000, 50000 with cap 10000 -> 100 : 1000 : 10000
    rates = mixing_rates({"a": 100, "b": 1000, "c": 50_000}, cap=10_000)
    assert rates == pytest.approx({"a": 100 / 11_100, "b": 1000 / 11_100, "c": 10_000 / 11_100})
    schedule = mixture_schedule(rates, 20_000, seed=0)
    assert schedule == mixture_schedule(rates, 20_000, seed=0)
    assert abs(schedule.count("c") / 20_000 - rates["c"]) < 0.01
    assert steps_per_epoch({"a": 100, "b": 1000, "c": 50_000}, 32, cap=10_000) == 347  # ceil(11100 / 32)


def test_batch_stream_runs_past_epochs_and_refuses_too_little_data() -> None:
    stream = BatchStream([3, 1, 2], 2, seed=0)
    batches = [next(stream) for _ in range(6)]
    assert sorted(i for b in batches[:2] for i in b) == [0, 1, 2]
    assert stream.epoch == 3
    with pytest.raises(ValueError, match="cannot fill one batch"):
        next(BatchStream([1, 2], 2, seed=0, world_size=2))
