"""The reported bad inputs that need more than a one-line check: damaged
result stores and their query index, local data edited in place, foreign or
torn checkpoints, attack parameters given as text."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from raygrid.errors import ConfigError, DataError, ModelError
from raygrid.store import INDEX_DIR, ResultRow, is_done, read_results, read_rows, refresh_index, write_run

N_RUNS = 32

# -- the results store: damaged row files, the writer and the index ------------------------------


def _write_runs(results: Path, n_runs: int, value: float = 0.5) -> list[str]:
    """``n_runs`` runs of two languages each (two row files per run)."""
    keys = []
    for i in range(n_runs):
        key = f"run{i:03d}"
        rows = [
            ResultRow(run_key=key, task="xnli", language=lang, split="test", metric="accuracy", value=value, stage="confirm")
            for lang in ("de", "sw")
        ]
        write_run(results, key, rows)
        keys.append(key)
    return keys


def _values(results: Path) -> dict[tuple[str, str], float]:
    frame = read_results(results)
    return {(r.run_key, r.language): r.value for r in frame.itertuples()}


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    """A results folder whose query index the writer has built (as at the end of a sweep)."""
    results = tmp_path / "results"
    _write_runs(results, N_RUNS)
    an_hour_ago = time.time_ns() - 3600 * 10**9  # finished long before the index, as in a real sweep
    for path in results.rglob("*.parquet"):
        os.utime(path, ns=(an_hour_ago, an_hour_ago))
    refresh_index(results)
    assert (results / INDEX_DIR / "target=xnli.parquet").is_file()
    assert len(_values(results)) == 2 * N_RUNS
    return results


def test_the_index_answers_for_unchanged_runs(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trust checks cost no row-file read: an unchanged store is read from its index alone."""
    import raygrid.store

    opened: list[str] = []
    read_table = raygrid.store._read_table
    monkeypatch.setattr(raygrid.store, "_read_table", lambda where, *a, **k: opened.append(str(where)) or read_table(where, *a, **k))
    assert len(_values(indexed)) == 2 * N_RUNS
    assert len(opened) == 1 and INDEX_DIR in opened[0]


def _row_file(results: Path, key: str, language: str = "de") -> Path:
    return results / "target=xnli" / f"language={language}" / f"{key}.parquet"


@pytest.mark.parametrize("damage", ["truncated", "zero bytes", "not parquet", "deleted"])
def test_a_damaged_row_file_is_one_data_error_with_or_without_the_index(damage: str, indexed: Path) -> None:
    target = _row_file(indexed, "run007")
    if damage == "deleted":
        target.unlink()
    else:
        target.write_bytes({"truncated": target.read_bytes()[:50], "zero bytes": b"", "not parquet": b"hello"}[damage])
    for use_index in (True, False):
        with pytest.raises(DataError) as exc:
            read_results(indexed, use_index=use_index)
        message = str(exc.value)
        assert str(target) in message and "raygrid resume" in message and "\n" not in message
    with pytest.raises(DataError, match="run007"):
        read_rows(indexed, run_keys=["run007"])


def test_the_writer_redoes_a_run_whose_files_are_gone_and_the_index_follows(indexed: Path) -> None:
    assert is_done(indexed, "run003")
    _row_file(indexed, "run003", "sw").unlink()
    assert not is_done(indexed, "run003")  # the sweep redoes it
    # ... with other values (a redone run need not repeat its numbers): the
    # index, built before, must not answer for it.
    rows = [
        ResultRow(run_key="run003", task="xnli", language=lang, split="test", metric="accuracy", value=0.9, stage="confirm")
        for lang in ("de", "sw")
    ]
    write_run(indexed, "run003", rows)
    assert is_done(indexed, "run003")
    values = _values(indexed)
    assert values[("run003", "de")] == 0.9 and values[("run003", "sw")] == 0.9
    assert values[("run004", "de")] == 0.5 and len(values) == 2 * N_RUNS


def test_a_file_rewritten_in_place_is_not_read_from_the_index(indexed: Path) -> None:
    """A row file changed after the index was built (same run key, new bytes) is read from the file."""
    path = _row_file(indexed, "run010")
    other = indexed.parent / "other"
    write_run(other, "run010", [ResultRow(run_key="run010", task="xnli", language="de", split="test",
                                          metric="accuracy", value=0.25, stage="confirm")])
    shutil.copyfile(_row_file(other, "run010"), path)
    assert _values(indexed)[("run010", "de")] == 0.25


def test_a_torn_manifest_is_not_done_and_readers_say_so(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _write_runs(results, 2)
    (results / "_runs" / "run001.json").write_text('{"files": [')
    assert not is_done(results, "run001") and is_done(results, "run000")
    with pytest.raises(DataError, match="run001.json"):
        read_results(results)


# -- local data: keys follow the content -------------------------------------------------------


def _same_size_edit(path: Path) -> None:
    """Changes a byte, keeping the size and the mtime (what size+mtime keys miss)."""
    stat = path.stat()
    data = path.read_bytes()
    index = data.index(b'"label": 0')
    path.write_bytes(data[:index] + b'"label": 1' + data[index + len(b'"label": 0'):])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns


def test_keys_of_local_data_follow_its_content(tmp_path: Path) -> None:
    from raygrid import tokencache
    from raygrid.cell import _data_id
    from raygrid.tasks import DataSources, get_task
    from raygrid.tasks.sources import fixture_path
    from raygrid.tasks.types import Split

    (tmp_path / "mnli").mkdir()
    local = tmp_path / "mnli" / "train.en.jsonl"
    shutil.copyfile(fixture_path("mnli", "train", "en"), local)
    sources = DataSources(local_dirs=(tmp_path,), bundled=True)
    needed = [("mnli", Split.TRAIN, "en", None), ("mnli", Split.DEV, "en", None)]
    before = (_data_id(sources, needed), tokencache.data_fingerprint(get_task("mnli"), Split.TRAIN, "en", sources))
    _same_size_edit(local)
    after = (_data_id(sources, needed), tokencache.data_fingerprint(get_task("mnli"), Split.TRAIN, "en", sources))
    assert before[0] != after[0] and before[1] != after[1]
    # Only the local file counts: the dev split comes from the bundled fixture.
    assert list(after[0]["content"]) == ["mnli/train/en"]


def test_keys_of_bundled_and_hub_data_are_unchanged() -> None:
    """Existing sweep and cell folders keep resuming: no content part for data raygrid ships or the hub serves."""
    from raygrid.cell import _data_id, _sources_fingerprint
    from raygrid.tasks import DataSources
    from raygrid.tasks.types import Split

    needed = [("mnli", Split.TRAIN, "en", None)]
    for sources in (DataSources(bundled=True), DataSources()):
        assert _data_id(sources, needed) == _sources_fingerprint(sources)


# -- checkpoints --------------------------------------------------------------------------------


def _fake_checkpoint(path: Path, meta: object) -> Path:
    path.mkdir(parents=True)
    (path / "raygrid.json").write_text(json.dumps(meta))
    return path


@pytest.mark.parametrize(
    ("meta", "task", "ok"),
    [
        ({"task": "xnli"}, "xnli", True),
        ({"tasks": ["mnli"]}, "xnli", True),  # the same head: MNLI's labels are XNLI's
        ({"task": "xnli"}, "pawsx", False),
        ({"tasks": ["mnli", "squad"]}, "xnli", False),
        ({"tasks": []}, "xnli", False),
        ({"task": "nope"}, "xnli", False),
        ([1, 2], "xnli", False),
    ],
)
def test_checkpoint_task(meta: object, task: str, ok: bool, tmp_path: Path) -> None:
    from raygrid.models import checkpoint_task
    from raygrid.tasks import get_task

    path = _fake_checkpoint(tmp_path / "ck", meta)
    if ok:
        checkpoint_task(path, get_task(task))
    else:
        with pytest.raises(ModelError) as exc:
            checkpoint_task(path, get_task(task))
        assert "\n" not in str(exc.value) and "raygrid.json" in str(exc.value)


def test_attack_refuses_a_checkpoint_of_another_task_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from raygrid.cli import main

    path = _fake_checkpoint(tmp_path / "ck", {"task": "xnli", "kind": "target"})
    out = tmp_path / "attack"
    code = main(["attack", str(path), "--task", "pawsx", "--languages", "de", "--data", "bundled", "--output", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'xnli'" in err[0] and "'pawsx'" in err[0]
    assert not out.exists()


def test_a_truncated_weights_file_is_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    from raygrid.formats import HeadKind
    from raygrid.models import build_model, encoder_state_dict, load_trained

    broken = tmp_path / "model"
    shutil.copytree(tiny_model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match="cannot load"):
        load_trained(broken, HeadKind.SEQUENCE_CLASSIFICATION)
    with pytest.raises(ModelError, match="cannot load"):
        build_model(broken, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=3)
    with pytest.raises(ModelError, match="model.safetensors"):
        encoder_state_dict(broken, "roberta")


# -- attack parameters ----------------------------------------------------------------------------


def test_attack_params_given_as_text_take_the_declared_types() -> None:
    from raygrid.attacks import get_attack, parse_attack_params

    params = parse_attack_params("char_noise", {"rate": "0.5", "query_budget": "10", "ops": "swap,insert", "mode": "adaptive"})
    assert params == {"rate": 0.5, "query_budget": 10, "ops": "swap,insert", "mode": "adaptive"}
    assert get_attack("char_noise", **params).rate == 0.5
    for bad in ({"rate": "nan"}, {"rate": "fast"}, {"query_budget": "1.5"}, {"bogus": "1"}):
        with pytest.raises(ConfigError):
            parse_attack_params("char_noise", bad)


@pytest.mark.parametrize(
    "params",
    [{"ops": [1, 2]}, {"ops": "bogus"}, {"ops": ""}, {"rate": float("inf")}, {"rate": True}, {"rate": "0.5"},
     {"mode": "fixed\n"}, {"query_budget": 2.5}, {"mode": None}],
)
def test_attack_params_of_the_wrong_type_are_one_config_error(params: dict[str, object]) -> None:
    from raygrid.attacks import get_attack

    with pytest.raises(ConfigError) as exc:
        get_attack("char_noise", **params)
    assert "\n" not in str(exc.value).replace("\\n", "")
