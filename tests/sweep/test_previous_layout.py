"""A sweep folder written by an earlier layout of raygrid keeps working.

``tests/data/sweep-2026-12-06/faults`` is the finished fault-campaign
reference sweep (:data:`raygrid.testing.faultrun.SPEC`: 2 intermediate
trials, 2 target cells, 2 confirm runs) as raygrid wrote it on 2026-12-06
(commit 166ecf7), less what a finished sweep does not need to be read or
resumed: its checkpoints, Ray Tune's folder, TensorBoard logs and the token
cache. A refactoring that changes keys, folder names or record formats
fails here.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from raygrid.cli import main
from raygrid.sweep import driver
from raygrid.sweep.driver import started_spec, sweep_status
from raygrid.sweep.plan import FINISHED, Planner
from raygrid.storage import Location

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "sweep-2026-12-06" / "faults"


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    copy = tmp_path / "elsewhere" / "faults"
    shutil.copytree(FIXTURE, copy)
    return copy


def test_status_reads_the_old_folder(sweep: Path) -> None:
    before = _files(sweep)
    progress = sweep_status(sweep)
    assert [(c["stage"], c["status"]) for c in progress["cells"]] == [
        ("intermediate", "done"), ("target", "done"), ("target", "done"), ("confirm", "done"), ("confirm", "done"),
    ]  # fmt: skip
    assert _files(sweep) == before


def test_a_writer_finds_nothing_left_to_do_and_writes_nothing(sweep: Path) -> None:
    before = _files(sweep)
    planner = Planner(started_spec(Location.of(sweep)), Location.of(sweep))
    assert planner.finished()
    assert planner.next_unit() is FINISHED
    assert _files(sweep) == before


def test_best_reads_the_old_rows(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["best", str(sweep), "--target", "xnli", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"language": "de"' in out and '"intermediate": "mnli"' in out, out


def test_resume_works_on_the_folder_given_not_where_the_spec_says_it_started(
    sweep: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def fake_run_sweep(spec, **_: object) -> str:  # type: ignore[no-untyped-def]
        seen.append(spec.sweep_uri)
        return "ran"

    monkeypatch.setattr(driver, "run_sweep", fake_run_sweep)
    assert started_spec(Location.of(sweep)).sweep_uri != str(sweep)  # written elsewhere (the campaign's folder)
    assert driver.resume_sweep(sweep) == "ran"
    assert seen == [str(sweep)]
