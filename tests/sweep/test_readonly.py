"""Reading a sweep never writes to it: status, best and analyze on a sweep
whose writer is running (in-process here; with real Ray in
tests/e2e/test_observed_sweep_e2e.py), and the writer's own journal hygiene
(one ``create study`` record per cell, a torn journal repaired)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from analysis.synthetic import confirm_rows, write_sweep_dir
from raygrid.cli import main
from raygrid.spec import parse_spec
from raygrid.sweep.journal import parse_journal, repair
from raygrid.sweep.plan import JOURNAL, Planner, TrialRecord, Unit

CREATE_STUDY = 0  # optuna.storages.journal's JournalOperation.CREATE_STUDY


def _spec(tmp_path: Path) -> Any:
    return parse_spec({
        "name": "t",
        "model": {"name_or_path": "m"},
        "data": {"source": "bundled"},
        "intermediates": ["none", "mnli"],
        "targets": [{"task": "xnli", "languages": ["de"]}],
        "search_space": {
            "intermediate": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
            "target": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}},
        },
        "n_trials": {"intermediate": 3, "target": 2},
        "confirm": {"seeds": [0]},
        "storage": str(tmp_path),
    })  # fmt: skip


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``folder``: its bytes and mtime (ns)."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def _started_sweep(tmp_path: Path) -> tuple[Path, Planner, list[Unit]]:
    """A sweep folder whose writer has two trials running (asked, not finished)."""
    from raygrid.sweep.driver import SWEEP_FILE

    spec = _spec(tmp_path)
    sweep = tmp_path / "t"
    sweep.mkdir()
    (sweep / SWEEP_FILE).write_text(json.dumps({"fingerprint": spec.fingerprint(), "spec": spec.normalised()}))
    writer = Planner(spec, sweep)
    running = [writer.next_unit(), writer.next_unit()]
    assert all(isinstance(u, Unit) for u in running)
    return sweep, writer, running  # type: ignore[return-value]


def test_status_of_a_live_sweep_writes_nothing_and_fails_no_running_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep, writer, running = _started_sweep(tmp_path)
    before = snapshot(sweep)
    for _ in range(3):
        assert main(["status", str(sweep), "--json"]) == 0
        progress = json.loads(capsys.readouterr().out)
        assert progress["trials_running"] == 2 and progress["failures"] == 0
    assert snapshot(sweep) == before  # the journal byte for byte, and nothing new (no lock file either)
    # the writer goes on as if nobody had looked: the next unit is the third trial, not a re-issue
    third = writer.next_unit()
    assert isinstance(third, Unit) and third.key not in {u.key for u in running}
    assert third.trial_number == 2


def test_a_reader_sees_what_trial_records_say_finished_without_telling_the_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep, _, running = _started_sweep(tmp_path)
    TrialRecord(running[0].key, "complete", 0.5, checkpoint="c").write(sweep)  # finished, not yet told
    journal = (sweep / JOURNAL).read_bytes()
    assert main(["status", str(sweep), "--json"]) == 0
    progress = json.loads(capsys.readouterr().out)
    assert progress["trials_finished"] == 1 and progress["trials_running"] == 1
    assert (sweep / JOURNAL).read_bytes() == journal


def test_a_read_only_planner_hands_out_and_records_nothing(tmp_path: Path) -> None:
    sweep, _, running = _started_sweep(tmp_path)
    reader = Planner(_spec(tmp_path), sweep, read_only=True)
    for call in (reader.next_unit, lambda: reader.complete(running[0], TrialRecord(running[0].key, "complete", 1.0))):
        with pytest.raises(RuntimeError, match="read-only planner"):
            call()


def test_a_reader_of_a_sweep_with_no_study_yet_creates_none(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    sweep = tmp_path / "t"
    sweep.mkdir()
    (sweep / JOURNAL).write_bytes(b"")
    progress = Planner(spec, sweep, read_only=True).progress()
    assert progress["trials_finished"] == 0 and progress["pending"] == progress["total"]
    assert (sweep / JOURNAL).read_bytes() == b"" and sorted(os.listdir(sweep)) == [JOURNAL]


def _create_study_records(sweep: Path) -> list[str]:
    records, _ = parse_journal((sweep / JOURNAL).read_bytes(), source="journal")
    return [r["study_name"] for r in records if r["op_code"] == CREATE_STUDY]


def test_every_writer_start_leaves_one_create_study_record_per_cell(tmp_path: Path) -> None:
    sweep, writer, _ = _started_sweep(tmp_path)
    first = _create_study_records(sweep)
    for _ in range(3):  # three restarts of the driver
        Planner(_spec(tmp_path), sweep).progress()
    assert _create_study_records(sweep) == first and len(first) == len(set(first))


def test_a_torn_last_record_is_ignored_by_readers_and_repaired_by_the_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    sweep, _, running = _started_sweep(tmp_path)
    whole = (sweep / JOURNAL).read_bytes()
    torn = whole + b'{"op_code":6,"trial_id":0,"sta'  # a driver killed inside an append
    (sweep / JOURNAL).write_bytes(torn)
    assert main(["status", str(sweep), "--json"]) == 0  # a reader skips the torn tail, and leaves it
    assert json.loads(capsys.readouterr().out)["trials_running"] == 2
    assert (sweep / JOURNAL).read_bytes() == torn
    writer = Planner(_spec(tmp_path), sweep)  # the writer's start (after a kill) repairs it ...
    assert "repaired a torn journal" in caplog.text
    assert (sweep / JOURNAL).read_bytes().startswith(whole)  # (then it failed the killed driver's two trials)
    assert (sweep / f"{JOURNAL}.torn-{len(torn)}").read_bytes() == torn  # ... keeping the original beside it
    again = writer.next_unit()  # ... and its appends read back: the orphan is asked again, same unit
    assert isinstance(again, Unit) and again.key == running[0].key
    assert Planner(_spec(tmp_path), sweep, read_only=True).progress()["trials_running"] == 1


def test_a_record_appended_onto_a_torn_one_is_recovered(tmp_path: Path) -> None:
    """What an older raygrid's ``status`` did after a torn line: the next
    append landed on the same line, and every later read failed."""
    sweep, _, _ = _started_sweep(tmp_path)
    whole = (sweep / JOURNAL).read_bytes()
    lines = whole.splitlines(keepends=True)
    damaged = b"".join(lines[:-1]) + b'{"op_code":6,"tri' + lines[-1]
    path = sweep / JOURNAL
    path.write_bytes(damaged)
    assert repair(path) == len(b'{"op_code":6,"tri')
    assert path.read_bytes() == whole
    assert repair(path) == 0  # whole now: untouched


def test_a_journal_that_is_not_one_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep, _, _ = _started_sweep(tmp_path)
    (sweep / JOURNAL).write_bytes(b"this is not json\n")
    before = snapshot(sweep)
    assert main(["status", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 1 is not an Optuna journal record" in err[0]
    assert snapshot(sweep) == before


def test_best_and_analyze_write_nothing_to_the_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = confirm_rows(languages=("de", "en"), intermediates=("none", "mnli"), seeds=2, planted=[], rng=0)
    sweep = write_sweep_dir(tmp_path / "s", rows)
    before = snapshot(sweep)
    assert main(["best", str(sweep), "--target", "xnli", "--json"]) == 0
    assert main(["analyze", str(sweep), "--permutations", "50", "--jobs", "1"]) == 0
    assert (tmp_path / "s-report" / "report.html").is_file()  # the default: beside the sweep
    assert snapshot(sweep) == before
    capsys.readouterr()
    assert main(["analyze", str(sweep), "--out", str(sweep / "report")]) == 2
    assert "inside the sweep folder" in capsys.readouterr().err
    assert snapshot(sweep) == before


def test_a_reader_sees_a_confirm_run_in_flight_by_its_train_folder(tmp_path: Path) -> None:
    sweep, writer, _ = _started_sweep(tmp_path)
    confirm = writer.grid.cells_of("confirm")[0]
    (sweep / "train" / confirm.key).mkdir(parents=True)  # its Ray Train run has started
    cells = {c["key"]: c for c in Planner(_spec(tmp_path), sweep, read_only=True).progress()["cells"]}
    assert cells[confirm.key]["status"] == "running"
