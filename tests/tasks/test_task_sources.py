"""load_rows: bundled fixtures, local overrides (jsonl/csv/parquet), errors, subsampling, the hub path."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raygrid.errors import ConfigError, DataError, RaygridError
from raygrid.tasks import (
    CANONICAL_COLUMNS,
    DataSources,
    Split,
    all_tasks,
    available_splits,
    canonical_features,
    check_canonical_row,
    get_task,
    load_rows,
)
from raygrid.tasks import sources as sources_module
from raygrid.tasks.adapters import RowError, label_id, tag_ids

BUNDLED = DataSources(bundled=True)


def _languages(task) -> list[str]:  # type: ignore[no-untyped-def]
    first = ["en"] if "en" in task.languages else [task.languages[0]]
    others = [lang for lang in ("zh", "ar", "th", "de", "hi") if lang in task.languages and lang not in first]
    return first + others[:2]


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.name)
def test_every_task_loads_its_fixtures(task) -> None:  # type: ignore[no-untyped-def]
    for language in _languages(task):
        for split in available_splits(task, language):
            rows = load_rows(task, split, language, BUNDLED)
            assert rows.column_names == list(CANONICAL_COLUMNS[task.format])
            assert rows.features == canonical_features(task.format)
            assert len(rows) == (12 if language != "en" else {Split.TRAIN: 48}.get(split, 24))
            for row in rows:
                check_canonical_row(task, row)


# ------------------------------------------------------------ local overrides


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                             for k, v in row.items()})  # fmt: skip
    return path


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _nli(marker: str, n: int = 3) -> list[dict[str, Any]]:
    return [{"premise": f"{marker} {i}", "hypothesis": "h", "label": i % 3} for i in range(n)]


def test_precedence_explicit_file_then_local_dirs_then_bundled(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _write_jsonl(second / "xnli" / "test.de.jsonl", _nli("second"))
    _write_csv(second / "xnli" / "dev.de.csv", _nli("second-csv"))
    _write_parquet(first / "xnli" / "test.de.parquet", _nli("first"))
    explicit = _write_jsonl(tmp_path / "explicit.jsonl", _nli("explicit"))

    def premise(sources: DataSources, split: str = "test") -> str:
        return load_rows("xnli", split, "de", sources)[0]["text_a"]

    assert premise(DataSources(local_dirs=(first, second), bundled=True)) == "first 0"
    assert premise(DataSources(local_dirs=(second, first))) == "second 0"
    assert premise(DataSources(local_dirs=(second,)), "dev") == "second-csv 0"
    files = {("xnli", "test", "de"): explicit}
    assert premise(DataSources(files=files, local_dirs=(first,), bundled=True)) == "explicit 0"
    bundled = load_rows("xnli", "test", "de", BUNDLED)
    assert premise(DataSources(local_dirs=(tmp_path / "empty",), bundled=True)) == bundled[0]["text_a"]
    assert DataSources(local_dirs=str(first)).local_dirs == (first,)
    sources = DataSources(files={("XNLI", Split.TEST, "de"): str(explicit)}, local_dirs=[first], bundled=True)
    assert sources.files == {("xnli", "test", "de"): explicit}
    assert pickle.loads(pickle.dumps(sources)) == sources and hash(sources) == hash(DataSources(**vars(sources)))


def test_csv_decodes_json_lists_and_label_names(tmp_path: Path) -> None:
    panx = [{"tokens": ["Angela", "Merkel", "spricht"], "ner_tags": ["B-PER", "I-PER", "O"], "langs": ["de"] * 3}]
    squad = [{"id": "q1", "title": "t", "context": "Paris is big.", "question": "What is big?",
              "answers": {"text": ["Paris"], "answer_start": [0]}}]  # fmt: skip
    mnli = [{"premise": "p", "hypothesis": "h", "label": "contradiction", "idx": 0}]
    sources = DataSources(
        files={
            ("panx", "test", "de"): _write_csv(tmp_path / "panx.csv", panx),
            ("squad", "dev", "en"): _write_csv(tmp_path / "squad.csv", squad),
            ("mnli", "dev", "en"): _write_csv(tmp_path / "mnli.csv", mnli),
        }
    )
    assert load_rows("panx", "test", "de", sources)[0] == {"tokens": ["Angela", "Merkel", "spricht"], "tags": [1, 2, 0]}
    assert load_rows("squad", "dev", "en", sources)[0]["answers"] == {"text": ["Paris"], "answer_start": [0]}
    assert load_rows("mnli", "dev", "en", sources)[0]["label"] == 2


def test_parquet_with_hub_types(tmp_path: Path) -> None:
    rows = [{"tokens": ["Lagos", "is", "big"], "pos_tags": [11, 3, 0]}, {"tokens": ["Yes"], "pos_tags": [6]}]
    sources = DataSources(local_dirs=(tmp_path,))
    _write_parquet(tmp_path / "udpos" / "test.yo.parquet", rows)
    loaded = load_rows("udpos", "test", "yo", sources)
    assert loaded["tags"] == [[11, 3, 0], [6]]


def test_ccg_accepts_tag_strings_and_maps_rare_categories(tmp_path: Path) -> None:
    rows = [{"tokens": ["Vinken", "joined", "."], "tags": ["N", "(((S[dcl]\\NP)/PP)/NP)/NP", "."]}]
    sources = DataSources(local_dirs=(tmp_path,))
    _write_jsonl(tmp_path / "ccg" / "train.en.jsonl", rows)
    tags = get_task("ccg").label_names
    assert tags is not None
    assert load_rows("ccg", "train", "en", sources)[0]["tags"] == [tags.index("N"), len(tags) - 1, tags.index(".")]


# --------------------------------------------------------------------- errors


def _error(kind: type[RaygridError], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(kind) as err:
        load_rows(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message, message
    return message


def test_unknown_task_language_and_split() -> None:
    message = _error(ConfigError, "mlni", "dev", "en", BUNDLED)
    assert "'mlni'" in message and "'mnli'" in message
    message = _error(ConfigError, "xnli", "test", "ja", BUNDLED)
    assert "'ja'" in message and "'de'" in message and "'zh'" in message
    message = _error(ConfigError, "xquad", "dev", "de", BUNDLED)
    assert "'dev'" in message and "'test'" in message and "'squad'" in message
    message = _error(ConfigError, "xnli", "train", "en", BUNDLED)
    assert "'mnli'" in message
    message = _error(ConfigError, "pawsx", "train", "de", BUNDLED)
    assert "'train'" in message and "'de'" in message
    assert "'validation'" in _error(ConfigError, "mnli", "validation", "en", BUNDLED)
    assert "max_examples" in _error(ConfigError, "mnli", "dev", "en", BUNDLED, max_examples=0)
    with pytest.raises(ConfigError, match="bad key"):
        DataSources(files={("mnli", "dev"): "x.jsonl"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="unknown split 'valid'"):
        DataSources(files={("mnli", "valid", "en"): "x.jsonl"})


def test_missing_column(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [{"premise": "p", "hypo": "h", "label": 0}])
    message = _error(DataError, "xnli", "test", "de", DataSources(files={("xnli", "test", "de"): path}))
    assert f"{path}:1" in message and "'hypothesis'" in message and "found:" in message and "'hypo'" in message
    path = _write_csv(tmp_path / "b.csv", [{"tokens": ["a"], "langs": ["de"]}])
    message = _error(DataError, "panx", "test", "de", DataSources(files={("panx", "test", "de"): path}))
    assert str(path) in message and "'ner_tags'" in message and "'tokens'" in message


def test_empty_split(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    message = _error(DataError, "mnli", "dev", "en", DataSources(files={("mnli", "dev", "en"): path}))
    assert str(path) in message and "no rows" in message and "'dev'" in message


def test_malformed_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"premise": "p", "hypothesis": "h", "label": 0})
    path.write_text(f"{good}\n{good}\n{{'premise': oops}}\n", encoding="utf-8")
    message = _error(DataError, "mnli", "dev", "en", DataSources(files={("mnli", "dev", "en"): path}))
    assert f"{path}:3" in message and "JSON" in message
    path.write_text(f"{good}\n[1, 2]\n", encoding="utf-8")
    assert f"{path}:2" in _error(DataError, "mnli", "dev", "en", DataSources(files={("mnli", "dev", "en"): path}))


def test_bad_values_name_file_row_field_and_value(tmp_path: Path) -> None:
    rows = [{"premise": "p", "hypothesis": "h", "label": 0}, {"premise": "p", "hypothesis": "h", "label": "maybe"}]
    path = _write_jsonl(tmp_path / "labels.jsonl", rows)
    message = _error(DataError, "mnli", "dev", "en", DataSources(files={("mnli", "dev", "en"): path}))
    assert f"{path}:2" in message and "'label'" in message and "'maybe'" in message and "'neutral'" in message
    rows = [{"tokens": ["a", "b"], "ner_tags": [0], "langs": ["de", "de"]}]
    path = _write_jsonl(tmp_path / "tags.jsonl", rows)
    message = _error(DataError, "panx", "dev", "de", DataSources(files={("panx", "dev", "de"): path}))
    assert f"{path}:1" in message and "'ner_tags'" in message and "one tag per token" in message
    path = _write_csv(tmp_path / "tokens.csv", [{"tokens": "[not json", "ner_tags": "[0]", "langs": "[]"}])
    message = _error(DataError, "panx", "dev", "de", DataSources(files={("panx", "dev", "de"): path}))
    assert f"{path}:2" in message and "'tokens'" in message and "JSON" in message


def test_unsupported_extensions(tmp_path: Path) -> None:
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("premise\thypothesis\tlabel\n", encoding="utf-8")
    message = _error(DataError, "mnli", "dev", "en", DataSources(files={("mnli", "dev", "en"): tsv}))
    assert str(tsv) in message and "'.tsv'" in message and "'.jsonl'" in message
    (tmp_path / "mnli").mkdir()
    local = tmp_path / "mnli" / "dev.en.txt"
    local.write_text("x\n", encoding="utf-8")
    message = _error(DataError, "mnli", "dev", "en", DataSources(local_dirs=(tmp_path,)))
    assert str(local) in message and "'.txt'" in message
    _write_jsonl(tmp_path / "mnli" / "dev.en.jsonl", _nli("a"))
    _write_csv(tmp_path / "mnli" / "dev.en.csv", _nli("b"))
    message = _error(DataError, "mnli", "dev", "en", DataSources(local_dirs=(tmp_path,)))
    assert "'dev.en.jsonl'" in message and "'dev.en.csv'" in message


def test_ccg_without_local_files_explains_the_layout() -> None:
    message = _error(DataError, "ccg", "train", "en", DataSources())
    assert "LDC" in message and "ccg/train.en." in message and "'tokens'" in message and "'tags'" in message


def test_missing_bundled_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources_module, "FIXTURES_DIR", tmp_path)
    message = _error(DataError, "mnli", "dev", "en", BUNDLED)
    assert "no bundled fixture" in message and str(tmp_path / "mnli" / "dev.en.jsonl") in message


# ---------------------------------------------------------------- subsampling


def test_subsampling_is_deterministic_and_keeps_order() -> None:
    full = load_rows("mnli", "train", "en", BUNDLED)
    a = load_rows("mnli", "train", "en", BUNDLED, max_examples=10, seed=3)
    b = load_rows("mnli", "train", "en", BUNDLED, max_examples=10, seed=3)
    c = load_rows("mnli", "train", "en", BUNDLED, max_examples=10, seed=4)
    assert a.to_list() == b.to_list() and len(a) == 10
    assert a.to_list() != c.to_list()
    keep = sources_module._sample(len(full), 10, 3)
    assert keep is not None and a.to_list() == [full[i] for i in keep], "a seeded subset, in source order"
    assert len(load_rows("mnli", "train", "en", BUNDLED, max_examples=1000)) == len(full) == 48


@given(n=st.integers(1, 200), k=st.integers(1, 250), seed=st.integers(0, 2**32))
def test_sample_indices(n: int, k: int, seed: int) -> None:
    keep = sources_module._sample(n, k, seed)
    if k >= n:
        assert keep is None
    else:
        assert keep == sorted(set(keep)) and len(keep) == k and 0 <= keep[0] and keep[-1] < n
        assert keep == sources_module._sample(n, k, seed)


# ------------------------------------------------------------------ adapters


def test_adapter_helpers() -> None:
    names = ("entailment", "neutral", "contradiction")
    assert [label_id(v, names) for v in (0, "1", "contradiction", 2.0)] == [0, 1, 2, 2]
    for bad in (-1, 3, "", True, None, "Neutral"):
        with pytest.raises(RowError):
            label_id(bad, names)
    assert tag_ids(["O", 1, "2"], ("O", "B-PER", "I-PER"), "ner_tags") == [0, 1, 2]
    assert tag_ids('["O", "B-PER"]', ("O", "B-PER"), "ner_tags") == [0, 1]
    assert tag_ids(["N", "S/NP"], ("N", "<other>"), "tags", fallback="<other>") == [0, 1]
    with pytest.raises(RowError, match="'B-XYZ'"):
        tag_ids(["B-XYZ"], ("O",), "ner_tags")


# ------------------------------------------------------------------- the hub


class FakeHub:
    """Stands in for ``datasets.load_dataset``: records calls, returns hub-shaped rows."""

    def __init__(self, rows: list[dict[str, Any]], fail_first: Exception | None = None) -> None:
        self.rows, self.fail_first, self.calls = rows, fail_first, []  # type: ignore[var-annotated]

    def __call__(self, path: str, name: str | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        from datasets import Dataset

        self.calls.append((path, name, kwargs))
        if self.fail_first is not None and len(self.calls) == 1:
            raise self.fail_first
        return Dataset.from_list(self.rows)


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import datasets

    def install(rows: list[dict[str, Any]], fail_first: Exception | None = None) -> FakeHub:
        hub = FakeHub(rows, fail_first)
        monkeypatch.setattr(datasets, "load_dataset", hub)
        return hub

    return install


def test_hub_call_and_adapter(fake_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub = fake_hub([{"premise": "Er schläft.", "hypothesis": "Er ist wach.", "label": 2}] * 3)
    rows = load_rows("xnli", "test", "de", DataSources(cache_dir=tmp_path), max_examples=2)
    assert hub.calls == [("facebook/xnli", "de", {"split": "test", "cache_dir": str(tmp_path)})]
    assert rows.to_list() == [{"text_a": "Er schläft.", "text_b": "Er ist wach.", "label": 2}] * 2
    hub = fake_hub([{"tokens": ["Angela", "Merkel"], "ner_tags": [1, 2], "langs": ["de", "de"]}])
    assert load_rows("panx", "dev", "de", DataSources())[0] == {"tokens": ["Angela", "Merkel"], "tags": [1, 2]}
    assert hub.calls[0][:2] == ("google/xtreme", "PAN-X.de") and hub.calls[0][2]["split"] == "validation"
    hub = fake_hub([{"uid": "u", "premise": "p", "hypothesis": "h", "label": 1, "reason": ""}])
    load_rows("anli", "train", "en", DataSources())
    assert hub.calls[0] == ("facebook/anli", "plain_text", {"split": "train_r1+train_r2+train_r3"})
    for _, _, kwargs in hub.calls:
        assert "trust_remote_code" not in kwargs


def test_hub_language_filter(fake_hub) -> None:  # type: ignore[no-untyped-def]
    def row(ident: str) -> dict[str, Any]:
        return {"id": ident, "title": "t", "context": "abc", "question": "q",
                "answers": {"text": ["b"], "answer_start": [1]}}  # fmt: skip

    hub = fake_hub([row("arabic-1-0"), row("english-2-0"), row("arabic-3-1"), row("bengali-4-0")])
    rows = load_rows("tydiqa", "test", "ar", DataSources())
    assert hub.calls[0][:2] == ("google-research-datasets/tydiqa", "secondary_task")
    assert hub.calls[0][2] == {"split": "validation"}
    assert rows["id"] == ["arabic-1-0", "arabic-3-1"]
    message = _error(DataError, "tydiqa", "test", "sw", DataSources())
    assert "no rows" in message and "'sw'" in message


def test_hub_fallback_to_parquet_export(fake_hub) -> None:  # type: ignore[no-untyped-def]
    row = {"ind": 1, "activity_label": "a", "ctx_a": "He sat.", "ctx_b": "Then he", "ctx": "He sat. Then he",
           "endings": ["ran.", "slept.", "ate.", "left."], "source_id": "s", "split": "val",
           "split_type": "indomain", "label": "1"}  # fmt: skip
    hub = fake_hub([row], fail_first=RuntimeError("Dataset scripts are no longer supported, but found hellaswag.py"))
    rows = load_rows("hellaswag", "dev", "en", DataSources())
    assert hub.calls[0] == ("Rowan/hellaswag", None, {"split": "validation"})
    assert hub.calls[1] == (
        "Rowan/hellaswag", None,
        {"data_dir": "default", "revision": "refs/convert/parquet", "split": "validation"},
    )  # fmt: skip
    assert rows[0] == {"context": "He sat.", "question": "", "label": 1,
                       "choices": ["Then he ran.", "Then he slept.", "Then he ate.", "Then he left."]}  # fmt: skip


def test_hub_errors_are_one_line(fake_hub) -> None:  # type: ignore[no-untyped-def]
    fake_hub([], fail_first=ConnectionError("Couldn't reach 'facebook/xnli' on the Hub\n(offline)"))
    message = _error(DataError, "xnli", "dev", "de", DataSources())
    assert "'facebook/xnli'" in message and "'de'" in message and "'validation'" in message
    fake_hub([{"premise": "p", "label": 0}])
    message = _error(DataError, "xnli", "dev", "de", DataSources())
    assert "hub dataset 'facebook/xnli'" in message and "'hypothesis'" in message and "'premise'" in message
    fake_hub([{"premise": "p", "hypothesis": "h", "label": -1}])
    message = _error(DataError, "xnli", "dev", "de", DataSources())
    assert "row 0" in message and "'label'" in message and "-1" in message
