"""The sweep's Tune experiment in segments (raygrid.sweep.segments): the
searcher's segment, a fresh experiment at every writer start (never a
restored one), the supervisor's loop, the child's tie to its parent.
The real-Ray runs are in tests/e2e/test_sweep_e2e.py."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from raygrid.cli import main as cli_main
from raygrid.store import ResultRow, write_run
from raygrid.sweep import segments
from raygrid.sweep.plan import Planner, TrialRecord, Unit, UnitKind
from raygrid.sweep.driver import TUNE_DIR
from raygrid.sweep import ray_backend
from raygrid.sweep.ray_backend import CellSearcher
from raygrid.sweep.segments import SegmentReport, SweepProcessError, function_reference, resolve_function
from raygrid.storage import Location
from raygrid.testing.sweepdir import plant_pickle_traps

from test_plan import _drain, _objective, _spec

FINISHED = "FINISHED"  # ray.tune.search.Searcher.FINISHED


def _complete(searcher: CellSearcher, trial_id: str) -> None:
    """What a trial does when it ends well, then what Tune tells the searcher."""
    unit = searcher.live[trial_id]
    if unit.kind is UnitKind.TRIAL:
        value = _objective(unit)
        TrialRecord(unit.key, "complete", value, checkpoint=f"ckpt/{unit.key}").write(searcher.sweep_dir)
    else:
        value = 0.5
        row = ResultRow(run_key=unit.key, task="x", language="de", split="test", metric="accuracy", value=value)
        write_run(searcher.sweep_dir / "results", unit.key, [row])
        TrialRecord(unit.key, "complete", None).write(searcher.sweep_dir)
    searcher.on_trial_complete(trial_id, {"objective": value})


def _segment(searcher: CellSearcher, prefix: str) -> list[Unit]:
    """Tune's loop, one unit at a time: suggest until FINISHED."""
    units = []
    for n in range(1000):
        config = searcher.suggest(f"{prefix}{n}")
        if config == FINISHED:
            return units
        assert isinstance(config, dict), "a sequential sweep never waits"
        units.append(searcher.live[f"{prefix}{n}"])
        _complete(searcher, f"{prefix}{n}")
    raise AssertionError("the segment never ended")


def test_segments_of_three_units_hand_out_what_one_experiment_would(tmp_path: Path) -> None:
    whole = [(u.cell_key, u.params, u.key) for u in _drain(Planner(_spec(tmp_path), tmp_path / "a"))]
    spec, sweep = _spec(tmp_path), tmp_path / "b"
    seen: list[Unit] = []
    for number in range(10):
        searcher = CellSearcher(spec, sweep, segment_trials=3)  # a fresh experiment per segment
        units = _segment(searcher, f"s{number}-")
        seen += units
        assert len(units) <= 3
        assert searcher.drained == (len(units) == 3) and not searcher.live
        if searcher.planner.finished():
            break
        assert len(units) == 3
    assert [(u.cell_key, u.params, u.key) for u in seen] == whole  # 12 units: four segments
    assert number == 3 and Planner(spec, sweep).finished()  # the fourth segment ends the sweep


def test_a_segment_is_drained_only_when_its_last_unit_has_finished(tmp_path: Path) -> None:
    searcher = CellSearcher(_spec(tmp_path), tmp_path / "s", segment_trials=2)
    assert isinstance(searcher.suggest("t0"), dict) and not searcher.segment_full
    assert isinstance(searcher.suggest("t1"), dict)  # the intermediate cell's two trials run at once
    assert searcher.segment_full and not searcher.drained
    assert searcher.suggest("t2") == FINISHED  # nothing more from this experiment
    _complete(searcher, "t0")
    assert not searcher.drained
    _complete(searcher, "t1")
    assert searcher.drained and searcher.issued == 2


def _issue(searcher: CellSearcher, trial_id: str) -> Unit:
    assert isinstance(searcher.suggest(trial_id), dict)
    return searcher.live[trial_id]


def test_a_fresh_searcher_asks_a_killed_drivers_trial_again_with_its_key(tmp_path: Path) -> None:
    spec, sweep = _spec(tmp_path), tmp_path / "s"
    killed = CellSearcher(spec, sweep, segment_trials=3)
    first = _issue(killed, "t0")
    _complete(killed, "t0")
    running = _issue(killed, "t1")  # then kill -9: RUNNING in the journal, no record
    fresh = CellSearcher(spec, sweep, segment_trials=3)  # raygrid resume: a new experiment
    again = _issue(fresh, "r0")
    assert (again.key, again.params, again.cell_key) == (running.key, running.params, running.cell_key)
    assert again.trial_number != running.trial_number  # the orphan is failed, its place asked again
    _complete(fresh, "r0")
    done = [first.key, again.key, *(u.key for u in _segment(fresh, "r1-"))]
    while not fresh.planner.finished():  # fresh segments to the end
        fresh = CellSearcher(spec, sweep, segment_trials=3)
        done += [u.key for u in _segment(fresh, f"s{len(done)}-")]
    assert done == [u.key for u in _drain(Planner(spec, tmp_path / "whole"))]  # what an uninterrupted sweep runs


def test_a_fresh_searcher_issues_a_killed_drivers_confirm_run_again_by_key(tmp_path: Path) -> None:
    spec, sweep = _spec(tmp_path), tmp_path / "s"
    killed = CellSearcher(spec, sweep)
    n = 0
    while (unit := _issue(killed, f"t{n}")).kind is UnitKind.TRIAL:
        _complete(killed, f"t{n}")
        n += 1
    fresh = CellSearcher(spec, sweep)  # the confirm run was in flight: no rows, no record
    again = _issue(fresh, "r0")
    assert again.kind is UnitKind.CONFIRM and (again.key, again.params) == (unit.key, unit.params)


def test_the_searcher_saves_nothing_for_tune_and_pickles_without_optuna(tmp_path: Path) -> None:
    searcher = CellSearcher(_spec(tmp_path), tmp_path / "s", trust_remote_code=True)
    config = searcher.suggest("t0")
    assert isinstance(config, dict) and config["trust_remote_code"] is True  # the workers' only source of it
    searcher.save(str(tmp_path / "searcher.pkl"))
    assert not (tmp_path / "searcher.pkl").exists()
    with pytest.raises(NotImplementedError):  # Tune's Searcher.restore: raygrid never restores
        searcher.restore(str(tmp_path / "searcher.pkl"))
    copy = pickle.loads(pickle.dumps(searcher))  # as Tune writes it into tuner.pkl
    assert copy._planner is None and list(copy.live) == ["t0"] and copy.trust_remote_code


def test_every_writer_start_removes_tune_state_unread_and_starts_a_fresh_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_experiment (every run, resume and segment) with Ray's cluster calls and
    Tune's Tuner replaced: what a killed driver left in <sweep>/tune, a
    booby-trapped pickle, is removed before the new experiment is built."""
    sweep = tmp_path / "sweep"
    marker = tmp_path / "trap-fired"
    traps = plant_pickle_traps(sweep / TUNE_DIR, marker)
    control = tmp_path / "control"  # the trap is live: unpickling it would fire it
    plant_pickle_traps(control, control / "fired")
    pickle.loads((control / "tuner.pkl").read_bytes())
    assert (control / "fired").exists() and len(traps) == 2

    built: list[dict[str, Any]] = []

    class Tuner:
        def __init__(self, trainable: Any, *, tune_config: Any, run_config: Any) -> None:
            built.append({"tune_dir": (sweep / TUNE_DIR).exists(), "searcher": tune_config.search_alg,
                          "name": run_config.name})  # fmt: skip

        def fit(self) -> str:
            return "results"

        @classmethod
        def restore(cls, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("Tuner.restore unpickles the sweep folder")

        can_restore = restore

    monkeypatch.setattr(ray_backend.tune, "Tuner", Tuner)
    monkeypatch.setattr(ray_backend, "start_ray", lambda address: None)
    monkeypatch.setattr(ray_backend.ray, "nodes", lambda: [{"Alive": True, "Resources": {"CPU": 2.0}}])
    monkeypatch.setattr(ray_backend.ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(ray_backend, "autoscaler_node_groups", lambda: [])
    monkeypatch.setattr(ray_backend, "check_resources", lambda spec, cluster, nodes: 1)
    monkeypatch.delenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", raising=False)  # run_experiment sets it: restored after
    spec = _spec(tmp_path)
    for _ in range(2):  # e.g. a run killed, then its resume
        assert ray_backend.run_experiment(spec, sweep, address=None, quiet=True, trust_remote_code=True).results == "results"
        plant_pickle_traps(sweep / TUNE_DIR, marker)  # the killed experiment's state, tampered with
    assert not marker.exists()
    assert [b["tune_dir"] for b in built] == [False, False] and {b["name"] for b in built} == {TUNE_DIR}
    first, second = (b["searcher"] for b in built)
    assert first is not second and isinstance(second, CellSearcher) and second.issued == 0 and not second.live
    assert second.trust_remote_code is True


# -- the supervisor's loop ------------------------------------------------------------------------------


def _scripted(monkeypatch: pytest.MonkeyPatch, reports: list[SegmentReport]) -> list[dict[str, Any]]:
    """Replaces the child process by a list of reports; records what each
    child was given."""
    given: list[dict[str, Any]] = []

    def child(sweep_dir: Location, **kwargs: Any) -> SegmentReport:
        given.append(kwargs)
        return reports.pop(0)

    monkeypatch.setattr(segments, "_run_child", child)
    return given


def test_the_supervisor_runs_a_segment_after_each_drained_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = _scripted(monkeypatch, [SegmentReport(False, True, 3, 0), SegmentReport(False, True, 3, 1),
                                    SegmentReport(True, False, 2, 1)])  # fmt: skip
    assert segments.run_segments(Location.of(tmp_path), address="127.0.0.1:1", trust_remote_code=True) == 2
    assert [g["trust_remote_code"] for g in given] == [True, True, True]  # every child gets the command line's flag


def test_a_segment_that_did_not_drain_stops_the_sweep_resumable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = _scripted(monkeypatch, [SegmentReport(False, False, 1, 0)])
    with pytest.raises(SweepProcessError, match="raygrid resume"):
        segments.run_segments(Location.of(tmp_path), address="127.0.0.1:1")
    assert len(given) == 1 and given[0]["trust_remote_code"] is False


def test_segments_that_hand_out_nothing_do_not_loop_forever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted(monkeypatch, [SegmentReport(False, True, 0, 0)] * 2)
    with pytest.raises(SweepProcessError, match="no unit"):
        segments.run_segments(Location.of(tmp_path), address="127.0.0.1:1")


def test_a_childs_one_line_error_is_the_supervisors(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"error": "s.yaml: resources.num_workers: 9 workers need 9 CPU, the cluster has 2"}')
    with pytest.raises(segments.ConfigError, match="num_workers"):
        SegmentReport.read(report)


def test_a_childs_error_on_a_folder_that_is_no_sweep_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(segments.ConfigError, match="not a sweep folder"):  # the real child, exit 2 with its report
        segments._run_child(Location.of(tmp_path), address="127.0.0.1:1", quiet=True, segment_trials=None,
                            trial_function=None, started=0.0)  # fmt: skip


def test_a_crashed_child_process_is_reported_with_how_to_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments.sys, "executable", "/bin/false")  # exits 1 without a report
    with pytest.raises(SweepProcessError, match=r"exited with status 1.*raygrid resume"):
        segments._run_child(Location.of(tmp_path), address="127.0.0.1:1", quiet=True, segment_trials=None,
                            trial_function=None, started=0.0)  # fmt: skip


def test_an_interrupted_supervisor_lets_its_child_save_and_stop(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    code = (f"import signal, sys, time\n"
            f"def stop(*_):\n    open({str(saved)!r}, 'w').write('state'); sys.exit(0)\n"
            f"signal.signal(signal.SIGINT, stop)\nprint('ready', flush=True)\ntime.sleep(60)\n")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
    segments._interrupt(child)  # no terminal here: the supervisor passes the SIGINT on
    assert child.returncode == 0 and saved.read_text() == "state"


# -- references to trial functions, and the child's tie to its parent ---------------------------------


def test_trial_functions_travel_by_reference(tmp_path: Path) -> None:
    from raygrid.errors import one_of

    assert resolve_function(function_reference(one_of)) is one_of
    script = tmp_path / "bench.py"
    script.write_text("def noop(config):\n    return config\n\nif __name__ == '__main__':\n    raise SystemExit(3)\n")
    loaded = resolve_function(f"{script}:noop")
    assert loaded({"a": 1}) == {"a": 1}
    assert loaded.__module__ not in sys.modules  # so that Ray pickles it by value


def test_a_negative_segment_size_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "--segment-trials", "-3"])
    assert exit_.value.code == 2
    assert "--segment-trials: '-3': allowed: a whole number of trials >= 1, or 0" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_segment_process_dies_with_a_killed_supervisor(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    supervisor = textwrap.dedent(f"""
        import os, subprocess, sys, time
        code = ("import os, sys, time; from raygrid.sweep.segments import _die_with; _die_with(int(sys.argv[1])); "
                "open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)")
        subprocess.Popen([sys.executable, "-c", code, str(os.getpid())])
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", supervisor])
    deadline = time.time() + 60
    while not (pid_file.is_file() and pid_file.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":  # a zombie waiting for its (new) parent to reap it: dead
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
