"""Quiet by default (raygrid.sweep.quiet): what Ray, Tune and Train print
during `raygrid run` / `resume` goes to the sweep's log file; raygrid's
progress stays on the terminal; --verbose redirects nothing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from raygrid.cli import main
from raygrid.errors import ConfigError
from raygrid.storage import Location
from raygrid.sweep import quiet

#: Lines as Ray, Tune and Train print them (each written below the way its source writes it).
NOISE = {
    "connect": "Connecting to existing Ray cluster at address: 127.0.0.1:6379...",
    "tune": "| Number of trials   9223372036854775807 |",
    "train": "Ray Train V2 is enabled: the deprecated APIs ...",
    "raylet": "(raylet) WARNING: 4 PYTHON worker processes have been started on node",
    "glog": "[2026-12-07 02:00:00,000 W 1 1] core_worker.cc:1: token authentication is disabled",
    "child": "a segment process's Tune status table",
}


def _print_noise(*keys: str) -> None:
    for key in keys:
        text = NOISE[key]
        if key == "connect":
            logging.getLogger("ray._private.worker").warning(text)
        elif key == "tune":
            logging.getLogger("ray.tune").warning(text)
        elif key == "train":
            logging.getLogger("ray.train").warning(text)
        elif key == "raylet":
            print(text, file=sys.stderr)  # Ray's error listener: print_to_stdstream
        elif key == "glog":
            os.write(2, (text + "\n").encode())  # the C++ core worker, on descriptor 2
        elif key == "child":
            subprocess.run([sys.executable, "-c", f"print({text!r})"], check=True)  # inherits 1 and 2


def _in_a_process(body: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``body`` in a fresh interpreter whose stdout and stderr are plain
    files, as a terminal's are (pytest's capture replaces ``sys.stderr``),
    with this module's helpers imported."""
    prelude = f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\nfrom test_quiet import *\nfrom test_quiet import _print_noise, _spec, _stand_in_run\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(body)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})  # fmt: skip


def test_ray_tune_and_train_output_goes_to_the_log_and_progress_to_the_terminal(tmp_path: Path) -> None:
    done = _in_a_process("""
        import ray  # the 'ray' logger as Ray configures it: a handler on sys.stderr
        with quiet.RayOutput() as output:
            _print_noise("connect")  # before the lease: kept, then copied into the log
            log = output.to_file(Path("sweep") / quiet.LOG_DIR / quiet.LOG_FILE)
            _print_noise("tune", "train", "raylet", "glog", "child")
            quiet.say("cells 1/5 done")
            assert quiet.current_log() == log and quiet.terminal_fd() is not None
        assert quiet.terminal() is sys.stderr and quiet.terminal_fd() is None and quiet.current_log() is None
        print("after the run")
        logging.getLogger("ray.tune").warning("after the run, Tune logs where it did before")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[raygrid] cells 1/5 done" in done.stderr and "after the run" in done.stdout
    assert "after the run, Tune logs where it did before" in done.stderr
    assert not [text for text in NOISE.values() if text in done.stdout + done.stderr]
    written = (tmp_path / "sweep" / "logs" / "ray.log").read_text()
    assert [written.index(NOISE[key]) for key in NOISE] == sorted(written.index(text) for text in NOISE.values())


def test_a_crash_before_the_log_shows_what_ray_printed_a_raygrid_error_does_not(tmp_path: Path) -> None:
    done = _in_a_process("""
        import ray
        from raygrid.errors import ConfigError
        try:
            with quiet.RayOutput():
                _print_noise("connect")
                raise RuntimeError("ray.init failed")
        except RuntimeError:
            pass
        print("--", file=sys.stderr, flush=True)
        try:
            with quiet.RayOutput():
                _print_noise("glog")
                raise ConfigError("s.yaml: resources.num_workers: 9 workers need 9 CPU, the cluster has 2")
        except ConfigError:
            pass
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    crash, error = done.stderr.split("--\n")
    assert NOISE["connect"] in crash  # a failed start is not silent
    assert error == ""  # the one-line error stays one line


def _stand_in_run() -> None:
    """run_sweep without Ray: the cluster start and the segments print what
    Ray and Tune would, and the progress line."""
    from raygrid.sweep import cluster, driver, segments

    def run_segments(sweep_dir: Location, **kwargs: Any) -> int:
        _print_noise("tune", "train", "raylet", "glog", "child")
        quiet.say("cells 5/5 done")
        return 0

    cluster.start = lambda address, spec: _print_noise("connect")  # type: ignore[assignment]
    cluster.shutdown = lambda: None  # type: ignore[assignment]
    cluster.cluster_address = lambda: "127.0.0.1:1"  # type: ignore[assignment]
    segments.run_segments = run_segments  # type: ignore[assignment]
    driver.sweep_status = lambda sweep_dir: {"stand_in": True}  # type: ignore[assignment]


def _spec(storage: Path):  # type: ignore[no-untyped-def]
    from raygrid.spec import parse_spec

    return parse_spec({"name": "s", "model": {"name_or_path": "xlm-roberta-base"}, "data": {"source": "bundled"},
                       "intermediates": ["none"], "targets": [{"task": "xnli", "languages": ["de"]}],
                       "storage": str(storage)})  # fmt: skip


@pytest.mark.parametrize("verbose", [False, True])
def test_run_sweep_is_quiet_unless_verbose(tmp_path: Path, verbose: bool) -> None:
    done = _in_a_process(f"""
        import ray
        from raygrid.sweep import driver
        _stand_in_run()
        driver.run_sweep(_spec(Path("runs")), address="stand-in", verbose={verbose})
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "runs" / "s" / quiet.LOG_DIR / quiet.LOG_FILE
    assert "[raygrid] cells 5/5 done" in done.stderr
    shown = [key for key, text in NOISE.items() if text in done.stdout + done.stderr]
    if verbose:
        assert shown == list(NOISE) and not log.exists()
    else:
        assert shown == [] and f"[raygrid] Ray's output goes to {log}" in done.stderr
        assert all(text in log.read_text() for text in NOISE.values())


def test_the_segment_process_writes_progress_to_the_terminal_it_is_handed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The supervisor hands its child the terminal (--terminal-fd); the
    child's own stdout and stderr are the log."""
    from raygrid.sweep import segments

    child = tmp_path / "child"
    child.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, sys
        args = sys.argv
        fd = int(args[args.index("--terminal-fd") + 1])
        print({NOISE["tune"]!r}); print({NOISE["glog"]!r}, file=sys.stderr)
        os.write(fd, b"[raygrid] cells 2/5 done\\n")
        report = {{"finished": True, "drained": True, "issued": 3, "tune_errors": 0}}
        open(args[args.index("--report") + 1], "w").write(json.dumps(report))
    """))
    child.chmod(0o755)
    monkeypatch.setattr(segments.sys, "executable", str(child))
    with quiet.RayOutput() as output:
        log = output.to_file(tmp_path / "ray.log")
        report = segments._run_child(Location.of(tmp_path), address="127.0.0.1:1", quiet=False, segment_trials=None,
                                     trial_function=None, started=0.0)  # fmt: skip
    assert report.finished and report.issued == 3
    err = capfd.readouterr().err
    assert "[raygrid] cells 2/5 done" in err and NOISE["tune"] not in err and NOISE["glog"] not in err
    assert NOISE["tune"] in log.read_text() and NOISE["glog"] in log.read_text()


def test_the_segment_main_takes_the_terminal_fd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from raygrid.sweep import segments

    read_end, write_end = os.pipe()
    monkeypatch.setattr(quiet, "_terminal", None)  # use_terminal's state goes with the test
    monkeypatch.setattr(quiet, "_terminal_fd", None)
    monkeypatch.setattr(segments, "_die_with", lambda parent: None)

    def run_segment(sweep_dir: Location, **kwargs: Any) -> segments.SegmentReport:
        quiet.say("cells 3/5 done")
        return segments.SegmentReport(finished=True, drained=True, issued=1, tune_errors=0)

    monkeypatch.setattr(segments, "run_segment", run_segment)
    argv = [str(tmp_path), "--address", "127.0.0.1:1", "--report", str(tmp_path / "r.json"), "--parent", "1",
            "--terminal-fd", str(write_end)]  # fmt: skip
    try:
        assert segments.main(argv) == 0
        quiet.terminal().close()
        assert os.read(read_end, 1000) == b"[raygrid] cells 3/5 done\n"
    finally:
        os.close(read_end)
    assert json.loads((tmp_path / "r.json").read_text())["issued"] == 1


def test_the_progress_lines_stream_pickles_and_writes_to_the_terminal_of_the_moment(tmp_path: Path) -> None:
    """Tune pickles its callbacks: the progress line's stream must pickle
    (an open terminal file does not) and still reach the terminal."""
    done = _in_a_process("""
        import pickle
        with quiet.RayOutput() as output:
            output.to_file(Path("ray.log"))
            stream = pickle.loads(pickle.dumps(quiet.TERMINAL))
            print("[raygrid] cells 4/5 done", file=stream, flush=True)
            print("not raygrid's")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "[raygrid] cells 4/5 done\n" and done.stdout == ""
    assert (tmp_path / "ray.log").read_text() == "not raygrid's\n"


def test_an_s3_sweeps_log_is_local() -> None:
    where = quiet.log_path(Location.of("s3://bucket/prefix/demo"))
    assert where.parts[-2].startswith("demo-") and where.name == quiet.LOG_FILE and "s3:" not in str(where)
    assert quiet.log_path(Location.of("/x/runs/demo")) == Path("/x/runs/demo/logs/ray.log")


@pytest.mark.parametrize("command", ["run", "resume"])
@pytest.mark.parametrize("flag", [[], ["--verbose"]])
def test_run_and_resume_take_verbose(
    command: str, flag: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from raygrid.sweep.driver import SweepOutcome

    given: dict[str, Any] = {}

    def fake(spec_or_dir: Any, **kwargs: Any) -> SweepOutcome:
        given.update(kwargs)
        progress = {"done": 1, "running": 0, "pending": 0, "blocked": 0, "total": 1, "trials_finished": 1,
                    "failures": 0, "cells": []}  # fmt: skip
        return SweepOutcome(tmp_path, progress, 1.0, 0)

    name = "run_sweep" if command == "run" else "resume_sweep"
    monkeypatch.setattr(f"raygrid.sweep.driver.{name}", fake)
    target = str(Path(__file__).resolve().parents[1] / "search_spaces" / "demo.yaml") if command == "run" else str(tmp_path)
    assert main([command, target, *flag]) == 0
    assert given["verbose"] is bool(flag)
    assert "sweep: " in capsys.readouterr().out


def test_verbose_is_documented_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "resume"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--verbose" in text and "logs/ray.log" in text
