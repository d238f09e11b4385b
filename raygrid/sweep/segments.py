"""The sweep's Tune experiment, run in segments by short-lived driver processes.

Why: the process that creates a Ray actor keeps Ray core's bookkeeping of
it (~8 KiB) until that process ends, even after the actor is gone
(docs/ray-notes.md §6), and Tune creates an actor per trial. A sweep of
tens of thousands of trials would grow its driver by hundreds of MiB. So
``raygrid run`` (the *supervisor*: checks, the sweep folder, the local Ray
cluster) runs the Tune experiment in a child process that hands out at most
``segment_trials`` units, waits for them to finish and exits; the next child
starts a fresh experiment over the same sweep folder. Every unit's outcome
lives in the folder (trial records, Optuna journal, results store), so a new
experiment goes on exactly where the last stopped: the k-th trial of a cell
has the same parameters whichever segment asks it (:mod:`raygrid.sweep.plan`).

A killed supervisor takes its child with it (``PR_SET_PDEATHSIG`` on Linux,
a watch on the parent elsewhere); ``raygrid resume`` then starts a fresh
experiment, as every segment does: a Tune experiment is never restored (its
state is pickles; see docs/security.md), and what the killed one left in
``<sweep>/tune`` is removed unread (:func:`raygrid.sweep.ray_backend.run_experiment`).
The units it was running are RUNNING in the Optuna journal with no record:
the new experiment's planner fails them and asks them again, with the same
parameters and unit keys, and their Train runs resume from their last
checkpoints.

The child: ``python -m raygrid.sweep.segments SWEEP_DIR --address ADDR
--report FILE --parent PID [...]``, one JSON report in FILE. It writes as
part of its supervisor, which holds the sweep's writer lease for the whole
run (:mod:`raygrid.sweep.lease`): the child never takes it. Its stdout and
stderr are the supervisor's: the sweep's log file unless ``--verbose``
(:mod:`raygrid.sweep.quiet`); ``--terminal-fd`` is the terminal, for the
progress line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygrid.errors import ConfigError, RaygridError
from raygrid.faults import fault_point
from raygrid.storage import Location
from raygrid.sweep import lease
from raygrid.sweep import quiet as ray_output
from raygrid.sweep.folder import started_spec

INTERRUPT_GRACE_S = 120.0  # a child interrupted with the supervisor stops its trials in this time


class SweepProcessError(RaygridError):
    """A segment's driver process died; the sweep folder is resumable."""


@dataclass(frozen=True)
class SegmentReport:
    """What one segment's process did."""

    finished: bool  # the whole sweep is finished
    drained: bool  # its segment's units were all handed out and have all finished
    issued: int  # units its experiment handed out
    tune_errors: int

    @classmethod
    def read(cls, path: Path) -> SegmentReport:
        data = json.loads(path.read_text())
        if data.get("error"):
            raise ConfigError(str(data["error"]))
        return cls(bool(data["finished"]), bool(data["drained"]), int(data["issued"]), int(data["tune_errors"]))


# -- the supervisor -------------------------------------------------------------------------------------------


def run_segments(
    sweep_dir: Location,
    *,
    address: str,
    quiet: bool = False,
    segment_trials: int | None = None,
    trial_function: Callable[..., Any] | None = None,
    started: float | None = None,
    trust_remote_code: bool = False,
) -> int:
    """Runs the sweep to its end, one child process per segment; returns
    the Tune trials that errored, summed over segments.

    ``segment_trials``: units per segment (``None``: raygrid's default for
    the cluster, :func:`~raygrid.sweep.segment_size.default_segment_trials`; 0: one segment).
    ``trust_remote_code``: the command line's ``--trust-remote-code``,
    passed to each child on its command line.
    """
    started = time.time() if started is None else started
    errors, idle = 0, 0
    while True:
        report = _run_child(sweep_dir, address=address, quiet=quiet, segment_trials=segment_trials,
                            trial_function=trial_function, started=started,
                            trust_remote_code=trust_remote_code)  # fmt: skip
        errors += report.tune_errors
        if report.finished:
            return errors
        if not report.drained:
            raise SweepProcessError(
                f"{sweep_dir}: the sweep's Tune experiment stopped before the end of its segment; "
                f"finished trials and results are kept: `raygrid resume {sweep_dir}` goes on from there"
            )
        # The experiment is over and every unit of it recorded: the next
        # segment starts a new one (and removes this one's state first).
        fault_point("segment.change")
        idle = 0 if report.issued else idle + 1
        if idle >= 2:  # never expected: a planner with work left that hands out nothing
            raise SweepProcessError(f"{sweep_dir}: two segments in a row handed out no unit, yet the sweep is not finished")


def _run_child(
    sweep_dir: Location,
    *,
    address: str,
    quiet: bool,
    segment_trials: int | None,
    trial_function: Callable[..., Any] | None,
    started: float,
    trust_remote_code: bool = False,
) -> SegmentReport:
    with tempfile.TemporaryDirectory(prefix="raygrid-segment-") as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "raygrid.sweep.segments", str(sweep_dir), "--address", address,
                   "--report", str(report), "--parent", str(os.getpid()), "--started", repr(started)]  # fmt: skip
        if segment_trials is not None:
            command += ["--segment-trials", str(segment_trials)]
        if quiet:
            command.append("--quiet")
        if trust_remote_code:
            command.append("--trust-remote-code")
        if trial_function is not None:
            command += ["--trial-function", function_reference(trial_function)]
        # Its descriptors 1 and 2 are the supervisor's: the sweep's log, or
        # (--verbose: no terminal_fd) the terminal.
        terminal = ray_output.terminal_fd()
        extra: dict[str, Any] = {}
        if terminal is not None:
            command += ["--terminal-fd", str(terminal)]
            extra["pass_fds"] = (terminal,)
        child = subprocess.Popen(command, **extra)
        try:
            code = _wait(child)
        except KeyboardInterrupt:  # the child stops its trials as Tune does on SIGINT, then we stop
            if lease.lost_here():  # another writer owns the folder now: stop at once
                child.kill()
                child.wait()
            else:
                _interrupt(child)
            raise
        if code in (0, 2) and report.is_file():
            return SegmentReport.read(report)  # exit 2 with a report: a one-line error, raised here
    log = ray_output.current_log()
    raise SweepProcessError(
        f"{sweep_dir}: the sweep's driver process exited with status {code}"
        + (f" (its output: {log})" if log else "")
        + f"; finished trials and results are kept: `raygrid resume {sweep_dir}` goes on from there"
    )


#: Seconds between the supervisor's own checks, while it waits on a segment
#: process, that this writer still holds the sweep's lease.
LEASE_POLL_S = 1.0


def _wait(child: subprocess.Popen[bytes]) -> int:
    """``child.wait()``, stopping (KeyboardInterrupt, as Ctrl-C) within
    :data:`LEASE_POLL_S` of this writer losing the lease. The lease's thread
    also sends the main thread a SIGINT, but that stops the wait only under
    Python's own handler: a notebook's, or the one Ray Tune's ``fit`` leaves
    in a process that ran it, only sets a flag."""
    while True:
        try:
            return child.wait(timeout=LEASE_POLL_S)
        except subprocess.TimeoutExpired:
            if lease.lost_here():
                raise KeyboardInterrupt from None


def _interrupt(child: subprocess.Popen[bytes]) -> None:
    """Stops the child as Ctrl-C stops Tune: its trials end cleanly (their
    Train runs keep their last checkpoints). A Ctrl-C at the terminal has
    reached the child already (same process group); a second SIGINT would
    make Tune stop at once."""
    if child.poll() is None and not _terminal_sent_it():
        child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=INTERRUPT_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _terminal_sent_it() -> bool:
    """This process (and so its child) is in the terminal's foreground process group."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):  # no terminal
        return False


def function_reference(function: Callable[..., Any]) -> str:
    """``module:name``, or ``/path/file.py:name`` for a function of a script."""
    module = sys.modules.get(function.__module__)
    if function.__module__ == "__main__" or module is None:
        path = getattr(module, "__file__", None)
        if not path:
            raise ValueError(f"{function!r} has no importable module and no file")
        return f"{Path(path).resolve()}:{function.__qualname__}"
    return f"{function.__module__}:{function.__qualname__}"


def resolve_function(reference: str) -> Callable[..., Any]:
    """The function :func:`function_reference` named. A script's function is
    loaded without registering the script as a module, so that Ray pickles
    it by value for the trial processes."""
    import importlib
    import importlib.util

    where, _, name = reference.rpartition(":")
    if where.endswith(".py"):
        spec = importlib.util.spec_from_file_location(f"raygrid_segment_{Path(where).stem}", where)
        if spec is None or spec.loader is None:
            raise ConfigError(f"--trial-function: cannot load {where!r}")
        module: Any = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    function: Any = module
    for part in name.split("."):
        function = getattr(function, part)
    return function


# -- the child ----------------------------------------------------------------------------------------------------


def _die_with(parent: int) -> None:
    """The child ends when the supervisor does, however it ends (kill -9 included)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(137)

    def watch() -> None:  # elsewhere (and as a second line): the parent changes when it dies
        while True:
            time.sleep(2.0)
            if os.getppid() != parent:
                os._exit(137)

    threading.Thread(target=watch, name="raygrid-parent-watch", daemon=True).start()


def run_segment(
    sweep_dir: Location,
    *,
    address: str | None,
    segment_trials: int | None,
    quiet: bool,
    trial_function: Callable[..., Any] | None,
    started: float | None,
    trust_remote_code: bool = False,
) -> SegmentReport:
    """One segment, in this process: joins the cluster (``None``: the one
    this process is connected to), runs a fresh Tune experiment to its
    segment's end."""
    from raygrid.sweep import cluster, ray_backend

    spec = started_spec(sweep_dir)
    try:
        experiment = ray_backend.run_experiment(spec, sweep_dir, address=address, quiet=quiet,
                                                trial_function=trial_function, segment_trials=segment_trials,
                                                started=started, trust_remote_code=trust_remote_code)  # fmt: skip
        searcher, results = experiment.searcher, experiment.results
        return SegmentReport(
            finished=searcher.planner.finished(),
            drained=searcher.drained,
            issued=searcher.issued,
            tune_errors=int(results.num_errors),
        )
    finally:
        cluster.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raygrid.sweep.segments", description=__doc__)
    parser.add_argument("sweep_dir")
    parser.add_argument("--address", required=True)
    parser.add_argument("--report", required=True, type=Path)
    parser.add_argument("--parent", required=True, type=int)
    parser.add_argument("--started", type=float)
    parser.add_argument("--segment-trials", type=int)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--trial-function")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--terminal-fd", type=int, help="raygrid's progress line goes here (stdout/stderr: the log)")
    args = parser.parse_args(argv)
    _die_with(args.parent)
    if args.terminal_fd is not None:
        ray_output.use_terminal(args.terminal_fd)
    try:
        function = resolve_function(args.trial_function) if args.trial_function else None
        report = run_segment(Location.of(args.sweep_dir), address=args.address, segment_trials=args.segment_trials,
                             quiet=args.quiet, trial_function=function, started=args.started,
                             trust_remote_code=args.trust_remote_code)  # fmt: skip
    except RaygridError as exc:
        args.report.write_text(json.dumps({"error": str(exc)}))
        return 2
    args.report.write_text(json.dumps(report.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
