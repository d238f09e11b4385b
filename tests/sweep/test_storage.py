"""raygrid.storage against a local S3 server (moto, 127.0.0.1), and the
parts of a sweep that go through it: the results store, trial records, the
Optuna journal, the storage check."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto.server", reason="needs the dev extra (moto[server])")

from raygrid.storage import Location, local_copy, s3_filesystem, staged_dir  # noqa: E402
from raygrid.testing.s3server import object_keys  # noqa: E402

BUCKET = "raygrid-test"  # the bucket of the s3_env fixture (tests/sweep/conftest.py)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


_prefix_counter = iter(range(10**6))


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """A fresh folder: local, or a fresh prefix of the test bucket."""
    if request.param == "local":
        return Location.of(tmp_path / "root")
    request.getfixturevalue("s3_env")
    return Location.of(f"s3://{BUCKET}/t{next(_prefix_counter)}")


def test_uris_are_parsed_and_joined() -> None:
    loc = Location.of("s3://bucket/runs/") / "demo" / "sweep.json"
    assert (loc.uri, loc.remote, loc.name, loc.bucket) == ("s3://bucket/runs/demo/sweep.json", True, "sweep.json", "bucket")
    assert loc.parent == Location.of("s3://bucket/runs/demo")
    assert loc.arrow()[1] == "bucket/runs/demo/sweep.json"
    local = Location.of(Path("/tmp/runs")) / "demo"
    assert (str(local), local.remote, local.local, local.arrow()) == ("/tmp/runs/demo", False, Path("/tmp/runs/demo"), (None, "/tmp/runs/demo"))
    assert pickle.loads(pickle.dumps(loc)) == loc
    with pytest.raises(ValueError):
        _ = loc.local


def test_files_are_written_whole_read_listed_and_removed(root: Location) -> None:
    assert not root.exists() and root.names() == [] and not (root / "a.json").is_file()
    with pytest.raises(FileNotFoundError):
        (root / "a.json").read_bytes()
    (root / "a.json").write_text('{"v": 1}')
    (root / "a.json").write_text('{"v": 2}')  # replaced whole
    (root / "sub" / "b.bin").write_bytes(b"\x00\x01")
    assert json.loads((root / "a.json").read_text()) == {"v": 2}
    assert (root / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert root.is_dir() and (root / "sub").is_dir() and not (root / "a.json").is_dir()
    assert root.names() == ["a.json", "sub"] and root.files() == ["a.json", "sub/b.bin"]
    (root / "sub").rmtree()
    assert root.files() == ["a.json"] and not (root / "sub" / "b.bin").exists()


def test_a_folder_is_uploaded_with_its_marker_last_and_copied_to_the_node_cache(
    s3_env: dict[str, str], cache: Path, tmp_path: Path
) -> None:
    src = tmp_path / "ckpt"
    (src / "tok").mkdir(parents=True)
    for name in ("model.safetensors", "raygrid.json", "config.json", "tok/vocab.txt"):
        (src / name).write_text(name)
    remote = Location.of(f"s3://{BUCKET}/ckpt-{next(_prefix_counter)}")
    with pytest.raises(FileNotFoundError):  # nothing there yet: not a checkpoint
        local_copy(remote.uri, marker="raygrid.json")
    with staged_dir(remote, last="raygrid.json") as local:
        assert not local.exists()
        shutil.copytree(src, local)
    assert remote.files() == ["config.json", "model.safetensors", "raygrid.json", "tok/vocab.txt"]
    copy = Path(local_copy(remote.uri, marker="raygrid.json"))
    assert copy.is_relative_to(cache) and (copy / "tok" / "vocab.txt").read_text() == "tok/vocab.txt"
    assert local_copy(remote.uri, marker="raygrid.json") == str(copy)  # downloaded once
    assert local_copy("/some/local/dir") == "/some/local/dir"


def test_upload_puts_the_marker_last(s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "raygrid.json", "z"):
        (tmp_path / "d" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "d" / name).write_text(name)
    written: list[str] = []
    fs = s3_filesystem()
    real = type(fs).open_output_stream

    class Recorder:
        def open_output_stream(self, path: str, *args: Any, **kwargs: Any) -> Any:
            written.append(path.rsplit("/", 1)[-1])
            return real(fs, path, *args, **kwargs)

    monkeypatch.setattr("raygrid.storage.s3_filesystem", lambda: Recorder())
    Location.of(f"s3://{BUCKET}/order").upload(tmp_path / "d", last="raygrid.json")
    assert written == ["a", "z", "raygrid.json"]


def test_a_failed_block_uploads_nothing(s3_env: dict[str, str]) -> None:
    remote = Location.of(f"s3://{BUCKET}/failed-{next(_prefix_counter)}")
    with pytest.raises(RuntimeError), staged_dir(remote) as local:
        local.mkdir()
        (local / "half.bin").write_bytes(b"x")
        raise RuntimeError("killed")
    assert not remote.exists()


def test_the_filesystem_pickles_without_secrets(s3_env: dict[str, str]) -> None:
    blob = pickle.dumps(s3_filesystem())
    assert s3_env["AWS_SECRET_ACCESS_KEY"].encode() not in blob and s3_env["AWS_ACCESS_KEY_ID"].encode() not in blob


def test_the_results_store_reads_back_the_same_rows(root: Location) -> None:
    from raygrid.store import ResultRow, done_run_keys, is_done, read_results, read_rows, refresh_index, write_run

    for run in ("r1", "r2"):
        rows = [
            ResultRow(run_key=run, task=task, language=lang, split="test", metric="accuracy", value=0.5 + i / 10, stage="confirm")
            for i, (task, lang) in enumerate([("xnli", "de"), ("xnli", "ar"), ("pawsx", "de")])
        ]
        write_run(root / "results", run, rows)
    assert is_done(root / "results", "r1") and not is_done(root / "results", "r3")
    assert done_run_keys(root / "results") == {"r1", "r2"}
    assert len(read_rows(root / "results")) == 6
    frame = read_results(root / "results", targets=["xnli"], languages=["de"])
    assert sorted(frame["run_key"]) == ["r1", "r2"] and set(frame["value"]) == {0.5}
    refresh_index(root / "results")
    assert (root / "results" / "_index" / "target=xnli.parquet").is_file()
    assert len(read_results(root / "results")) == 6


def _spec(storage: str) -> Any:
    from raygrid.spec import parse_spec

    return parse_spec(
        {
            "name": "t",
            "model": {"name_or_path": "m"},
            "data": {"source": "bundled"},
            "intermediates": ["none", "mnli"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "search_space": {
                "intermediate": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
                "target": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
            },
            "n_trials": {"intermediate": 2, "target": 2},
            "confirm": {"seeds": [0]},
            "storage": storage,
        }
    )


def _drain(planner: Any, stop_after: int | None = None) -> list[Any]:
    from raygrid.store import ResultRow, write_run
    from raygrid.sweep.plan import FINISHED, TrialRecord, Unit, UnitKind

    done: list[Any] = []
    while stop_after is None or len(done) < stop_after:
        unit = planner.next_unit()
        if unit is FINISHED:
            break
        assert isinstance(unit, Unit)
        if unit.kind is UnitKind.TRIAL:
            record = TrialRecord(unit.key, "complete", -abs(unit.params["learning_rate"] - 1e-4), checkpoint="c")
            record.write(planner.sweep_dir)
            planner.complete(unit, record)
        else:
            row = ResultRow(run_key=unit.key, task="xnli", language="de", split="test", metric="accuracy", value=0.5)
            write_run(planner.sweep_dir / "results", unit.key, [row])
            planner.complete(unit, TrialRecord(unit.key, "complete", None))
        done.append(unit)
    return done


def test_a_planner_on_s3_survives_its_driver_and_matches_a_local_one(
    s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raygrid.sweep.plan import Planner

    local_units = _drain(Planner(_spec(str(tmp_path)), tmp_path / "local"))
    sweep = Location.of(f"s3://{BUCKET}/plan-{next(_prefix_counter)}/t")
    monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "node-a"))
    first = _drain(Planner(_spec(sweep.parent.uri), sweep), stop_after=3)  # then the driver dies
    assert (sweep / "optuna.journal").is_file()
    # another node resumes: only what is on S3 counts
    monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "node-b"))
    status = Planner(_spec(sweep.parent.uri), sweep, read_only=True).progress()
    assert status["trials_finished"] == 3
    journal_before = (sweep / "optuna.journal").read_bytes()
    rest = _drain(Planner(_spec(sweep.parent.uri), sweep))
    assert [u.key for u in first + rest] == [u.key for u in local_units]  # the same units, none run twice
    assert len((sweep / "optuna.journal").read_bytes()) > len(journal_before)
    final = Planner(_spec(sweep.parent.uri), sweep, read_only=True).progress()
    assert final["done"] == final["total"]


def test_a_read_only_look_never_uploads(s3_env: dict[str, str], tmp_path: Path, cache: Path) -> None:
    from raygrid.sweep.plan import Planner, TrialRecord, Unit

    sweep = Location.of(f"s3://{BUCKET}/ro-{next(_prefix_counter)}/t")
    planner = Planner(_spec(sweep.parent.uri), sweep)
    unit = planner.next_unit()
    assert isinstance(unit, Unit)
    TrialRecord(unit.key, "complete", 0.7, checkpoint="c").write(sweep)  # finished, untold (driver killed)
    before = (sweep / "optuna.journal").read_bytes()
    Planner(_spec(sweep.parent.uri), sweep, read_only=True).progress()  # tells it, in its own copy
    assert (sweep / "optuna.journal").read_bytes() == before


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no bucket", "no bucket 'no-such-bucket'"),
        ("no credentials", "no AWS credentials"),
        ("unreachable", "cannot reach bucket"),
    ],
)
def test_bad_s3_storage_is_one_line_naming_the_field_and_uri_and_creates_nothing(
    s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    case: str, expected: str,
) -> None:  # fmt: skip
    from raygrid.cli import main

    bucket = BUCKET
    if case == "no bucket":
        bucket = "no-such-bucket"
    elif case == "no credentials":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    storage = f"s3://{bucket}/bad-{case.replace(' ', '-')}"
    before = object_keys(s3_env, BUCKET)
    spec = tmp_path / "s.yaml"
    spec.write_text(json.dumps(_spec("runs").normalised()))
    monkeypatch.chdir(tmp_path)
    code = main(["run", str(spec), "--storage", storage, "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "storage:" in err[0] and storage in err[0] and expected in err[0]
    assert object_keys(s3_env, BUCKET) == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_status_and_best_of_an_s3_folder_that_is_no_sweep_fail_in_one_line(
    s3_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from raygrid.cli import main

    uri = f"s3://{BUCKET}/nothing-here"
    assert main(["status", uri]) == 2
    assert main(["best", uri, "--target", "xnli"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(uri in line for line in lines)
