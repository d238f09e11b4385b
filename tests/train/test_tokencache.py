"""The token cache: tokenised once, read back exactly, atomic, memory-mapped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from raygrid import tokencache
from raygrid.cell import phase_data
from raygrid.formats import EncodeSettings, get_format
from raygrid.models import load_tokenizer
from raygrid.tasks import DataSources, get_task, load_rows
from raygrid.tasks.types import Split
from raygrid.train import TrainConfig
from raygrid.train.loop import feature_lengths, feature_rows

SOURCES = DataSources(bundled=True)
CONFIG = TrainConfig(max_seq_length=64, doc_stride=16, batch_size=4, num_epochs=1)
# one trainable task per format (XNLI trains on MNLI, XQuAD on SQuAD)
FORMAT_TASKS = {"classification": "xnli", "multiple_choice": "hellaswag", "span_qa": "xquad", "tagging": "panx"}


class CountingTokenizer:
    """Delegates to a tokenizer and counts its ``__call__``s."""

    def __init__(self, inner: Any) -> None:
        self.__dict__["_inner"] = inner
        self.__dict__["calls"] = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.__dict__["calls"] += 1
        return self._inner(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def tokenizer(tiny_model_dir: Path) -> CountingTokenizer:
    return CountingTokenizer(load_tokenizer(tiny_model_dir))


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _in_memory(task_name: str, tokenizer: Any, config: TrainConfig = CONFIG) -> list[dict[str, Any]]:
    data = phase_data(get_task(task_name), SOURCES, tokenizer, config, max_train_examples=12, seed=3)
    return feature_rows(data.train, range(len(data.train)))


@pytest.mark.parametrize("fmt", sorted(FORMAT_TASKS))
def test_features_read_back_equal_the_in_memory_encoding(fmt: str, tokenizer: Any, tmp_path: Path) -> None:
    task = get_task(FORMAT_TASKS[fmt])
    expected = _in_memory(task.name, tokenizer)
    data = phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, seed=3, cache_dir=tmp_path)
    assert isinstance(data.train, tokencache.MappedFeatures)
    assert len(data.train) == len(expected) > 0
    assert list(data.train) == expected
    assert data.train[-1] == expected[-1] and data.train[1:3] == expected[1:3]
    assert feature_lengths(data.train) == feature_lengths(expected)
    if fmt == "multiple_choice":
        assert str(data.train.table.schema.field("input_ids").type) == "list<item: list<item: int32>>"
    else:
        assert str(data.train.table.schema.field("input_ids").type) == "list<item: int32>"
    assert data.dev is not None and len(data.dev) > 0


def test_span_qa_windows_with_offsets_and_overflow_mapping_round_trip(tokenizer: Any, tmp_path: Path) -> None:
    from raygrid.formats import span_qa

    rows = load_rows("squad", Split.TRAIN, "en", SOURCES, max_examples=6)
    # a short window forces several windows per example: overflow mapping repeats
    encoded = span_qa._tokenize(rows["question"], rows["context"], tokenizer, EncodeSettings(40, 8))
    keys = ["input_ids", "attention_mask", "offset_mapping", "overflow_to_sample_mapping"]
    expected = [{k: _plain(encoded[k][i]) for k in keys} for i in range(len(encoded["input_ids"]))]
    assert len(expected) > len(rows)
    path = tmp_path / "qa.arrow"
    tokencache.write_features(path, [expected[:5], expected[5:]], {"test": 1})
    back = tokencache.open_features(path)
    assert list(back) == expected
    assert str(back.table.schema.field("offset_mapping").type) == "list<item: list<item: int32>>"


def test_second_trial_hits_the_cache(tokenizer: CountingTokenizer, tmp_path: Path) -> None:
    task = get_task("xnli")
    first = phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, cache_dir=tmp_path)
    built = tokenizer.calls
    assert built > 0
    second = phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, cache_dir=tmp_path)
    assert tokenizer.calls == built  # not tokenised again
    assert list(second.train) == list(first.train)
    assert len(list(tmp_path.glob("*.arrow"))) == 1


def test_another_length_or_tokenizer_is_another_entry(
    tokenizer: CountingTokenizer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AddedToken

    task = get_task("xnli")
    phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, cache_dir=tmp_path)
    longer = TrainConfig(max_seq_length=80, doc_stride=16, batch_size=4, num_epochs=1)
    phase_data(task, SOURCES, tokenizer, longer, max_train_examples=12, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == 2
    other = load_tokenizer(tiny_model_dir)  # same name and path, another vocabulary
    same_fp = tokencache.tokenizer_fingerprint(other)
    assert same_fp == tokencache.tokenizer_fingerprint(tokenizer._inner)
    other.add_tokens([AddedToken("premise", single_word=True)])
    assert tokencache.tokenizer_fingerprint(other) != same_fp
    data = phase_data(task, SOURCES, other, CONFIG, max_train_examples=12, seed=3, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == 3
    assert list(data.train) == _in_memory("xnli", other)


def test_another_row_cap_or_seed_is_another_entry(tokenizer: Any, tmp_path: Path) -> None:
    task = get_task("xnli")
    for cap, seed in [(12, 0), (12, 1), (10, 0)]:
        phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=cap, seed=seed, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.arrow"))) == 3


def test_leftover_tmp_is_ignored_and_truncated_file_rebuilt(tokenizer: CountingTokenizer, tmp_path: Path) -> None:
    task = get_task("xnli")
    expected = _in_memory("xnli", tokenizer._inner)
    first = phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, seed=3, cache_dir=tmp_path)
    assert first.train.path is not None
    path = first.train.path
    # a builder killed mid-write leaves its temporary file: never read
    (tmp_path / f".{path.name}.999.deadbeef.tmp").write_bytes(path.read_bytes()[:100])
    calls = tokenizer.calls
    again = phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, seed=3, cache_dir=tmp_path)
    assert tokenizer.calls == calls and list(again.train) == expected
    # a truncated final file (a disk that lost its tail) is rebuilt
    data = path.read_bytes()
    del first, again
    path.unlink()
    path.write_bytes(data[: len(data) // 2])
    rebuilt = phase_data(task, SOURCES, tokenizer, CONFIG, max_train_examples=12, seed=3, cache_dir=tmp_path)
    assert tokenizer.calls > calls
    assert list(rebuilt.train) == expected
    assert path.stat().st_size == len(data)


def test_racing_builders_leave_one_complete_file(tmp_path: Path) -> None:
    rows = [{"input_ids": list(range(i + 1)), "labels": i % 3} for i in range(50)]
    fields = {"k": 1}
    path = tokencache.cache_path(tmp_path, fields)

    def build() -> Any:
        # while this builder writes, another one finishes the same key
        tokencache.write_features(path, [rows], {"fields": fields})
        yield rows[:20]
        yield rows[20:]

    mapped = tokencache.cached_features(tmp_path, fields, build)
    assert list(mapped) == rows
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build() -> Any:
        yield [{"input_ids": [1, 2], "labels": 0}]
        raise RuntimeError("tokenizer crashed")

    with pytest.raises(RuntimeError):
        tokencache.cached_features(tmp_path, {"k": 2}, build)
    assert list(tmp_path.iterdir()) == []


def test_bad_feature_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'text'"):
        tokencache.write_features(tmp_path / "x.arrow", [[{"input_ids": [1], "text": "a"}]], {})
    with pytest.raises(ValueError, match="no features"):
        tokencache.write_features(tmp_path / "y.arrow", [[]], {})
    assert list(tmp_path.iterdir()) == []


def test_reading_is_memory_mapped(tokenizer: Any, tmp_path: Path) -> None:
    import pyarrow as pa

    data = phase_data(get_task("xnli"), SOURCES, tokenizer, CONFIG, max_train_examples=12, cache_dir=tmp_path)
    assert data.train.path is not None
    path = data.train.path
    del data
    before = pa.total_allocated_bytes()
    mapped = tokencache.open_features(path)
    rows = mapped.rows(range(len(mapped)))
    assert rows and mapped.lengths() == [len(r["input_ids"]) for r in rows]
    assert pa.total_allocated_bytes() == before  # no Arrow buffer copied out of the map
    assert any(str(path) in line for line in Path(f"/proc/{os.getpid()}/maps").read_text().splitlines())


@pytest.mark.parametrize("task_name", ["xnli", "hellaswag"])
def test_training_from_the_cache_matches_training_in_memory(task_name: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    from raygrid.cell import phase_model
    from raygrid.train.loop import train_phase

    tokenizer = load_tokenizer(tiny_model_dir)
    task = get_task(task_name)
    config = TrainConfig(learning_rate=1e-3, num_epochs=1, batch_size=4, max_seq_length=64, doc_stride=16, seed=1)
    results = []
    for cache_dir in (None, tmp_path):
        data = phase_data(task, SOURCES, tokenizer, config, max_train_examples=16, max_eval_examples=8, cache_dir=cache_dir)
        model = phase_model(str(tiny_model_dir), [task], seed=config.seed)
        results.append(train_phase(model, [data], config, tokenizer))
    plain, cached = results
    assert cached.history == plain.history and cached.metrics == plain.metrics
    assert (cached.tokens_seen, cached.padded_tokens) == (plain.tokens_seen, plain.padded_tokens)
