"""raygrid.faults: parsing, sweep-wide hit counting, who gets killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from raygrid.faults import POINTS, Fault, fired, hits, parse_faults, write_point
from raygrid.testing.faultrun import DRIVER_POINTS, draw_faults


def test_faults_parse_with_their_modes() -> None:
    assert parse_faults("record.write:2, train.step:5:self") == (
        Fault("record.write", 2), Fault("train.step", 5, "self")
    )
    assert str(Fault("train.step", 5, "self")) == "train.step:5:self" and str(Fault("record.write", 2)) == "record.write:2"


@pytest.mark.parametrize(
    ("text", "says"),
    [("record.wrte:2", "unknown fault point 'record.wrte'"), ("record.write:0", "integer >= 1"),
     ("record.write:x", "integer >= 1"), ("record.write:1:node", "mode 'node'")],
)  # fmt: skip
def test_a_bad_fault_is_refused_by_name(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_faults(text)


def test_a_write_is_named_after_its_folder_in_the_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    assert write_point(str(sweep / "trials" / "abc.json")) == "record.write"
    assert write_point(str(sweep / "results" / "_runs" / "abc.json")) == "result.manifest"
    assert write_point(str(sweep / "results" / "target=xnli" / "language=de" / "abc.parquet")) == "result.rows"
    assert write_point("s3://bucket/runs/s/results/_index/target=xnli.parquet") == "file.write"
    assert write_point("s3://bucket/runs/s/trials/abc.json") == "record.write"
    assert write_point(str(sweep / "spec.yaml")) == "file.write"
    assert set(DRIVER_POINTS) <= set(POINTS)


_HIT = """
import sys
from raygrid.faults import fault_point
for _ in range(int(sys.argv[1])):
    fault_point("record.write")
    fault_point("journal.append")
print("survived")
"""


def _hit(times: int, env: dict[str, str], **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _HIT, str(times)], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60, **popen)  # type: ignore[call-overload]  # fmt: skip


def test_hits_are_counted_across_processes_and_the_nth_one_kills(tmp_path: Path) -> None:
    env = {"RAYGRID_FAULT": "record.write:5", "RAYGRID_FAULT_DIR": str(tmp_path)}
    assert _hit(3, env).stdout.strip() == "survived"  # hits 1-3
    died = _hit(3, env)  # hits 4, 5: killed at 5
    assert died.returncode == -signal.SIGKILL and died.stdout == ""
    assert fired(tmp_path) == ["record.write:5"] and hits(tmp_path) == {"record.write": 5}
    assert _hit(3, env).stdout.strip() == "survived"  # a fault fires once per sweep


def test_count_mode_counts_every_point_and_kills_nothing(tmp_path: Path) -> None:
    env = {"RAYGRID_FAULT": "count", "RAYGRID_FAULT_DIR": str(tmp_path)}
    assert _hit(2, env).stdout.strip() == _hit(3, env).stdout.strip() == "survived"
    assert hits(tmp_path) == {"record.write": 5, "journal.append": 5} and fired(tmp_path) == []


def test_a_self_fault_counts_the_hits_of_its_own_process(tmp_path: Path) -> None:
    env = {"RAYGRID_FAULT": "journal.append:3:self", "RAYGRID_FAULT_DIR": str(tmp_path)}
    assert _hit(2, env).returncode == 0 and _hit(2, env).returncode == 0  # 4 hits, never 3 in one process
    assert _hit(3, env).returncode == -signal.SIGKILL
    assert _hit(3, env).returncode == 0  # fired already: once per sweep


def test_a_driver_fault_kills_the_process_group_it_is_given(tmp_path: Path) -> None:
    # a shell leads a new group: the process that hits the fault is its
    # child; both die (the group), the shell's `echo` never runs
    script = f'{sys.executable} -c \'{_HIT}\' 1; echo after'
    env = {**os.environ, "RAYGRID_FAULT": "record.write:1", "RAYGRID_FAULT_DIR": str(tmp_path)}
    group = subprocess.Popen(["/bin/sh", "-c", f"RAYGRID_FAULT_PGID=$$ exec /bin/sh -c {_shell_quote(script)}"],
                             env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    out, _ = group.communicate(timeout=60)
    assert group.returncode == -signal.SIGKILL and "after" not in out


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def test_disarmed_points_do_nothing(tmp_path: Path) -> None:
    assert _hit(3, {"RAYGRID_FAULT": "", "RAYGRID_FAULT_DIR": str(tmp_path)}).stdout.strip() == "survived"
    assert list(tmp_path.iterdir()) == []


def test_drawn_faults_are_reproducible_and_within_the_reference_hits() -> None:
    counted = {"record.write": 6, "result.manifest": 2, "train.step": 40, "file.write": 9}
    drawn = draw_faults(7, counted, n=20)
    assert drawn == draw_faults(7, counted, n=20)
    assert {f.point for f in drawn} <= {"record.write", "result.manifest", "train.step"}
    assert all(1 <= f.hit <= counted[f.point] for f in drawn)
