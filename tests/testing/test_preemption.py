"""raygrid.testing.preemption without Ray: which unit counts as mid-training
(from a sweep folder laid out as Ray Train and raygrid write it), how its
worker's node is found, that its worker is stopped before its node is taken,
and what counts as a rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from raygrid.layout import CHECKPOINT_MARKER, CHECKPOINTS_DIR, TRAIN_DIR, TRIALS_DIR
from raygrid.testing import preemption
from raygrid.testing.autoscale import WorkerNode
from raygrid.testing.preemption import NODE_ID_ENV, TRAIN_SNAPSHOT, Preemption

NODE = "fffffffffffffffffffffffffffffffffffffffffffffffffff00001"


def _snapshot(sweep: Path, key: str, step: int | None) -> None:
    run = sweep / TRAIN_DIR / key
    run.mkdir(parents=True, exist_ok=True)
    latest = None if step is None else {"checkpoint_dir_name": "checkpoint_x", "metrics": {"step": float(step)}}
    (run / TRAIN_SNAPSHOT).write_text(json.dumps({"checkpoint_results": [], "latest_checkpoint_result": latest}))


def _record(sweep: Path, key: str) -> None:
    (sweep / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    (sweep / TRIALS_DIR / f"{key}.json").write_text(json.dumps({"key": key, "status": "complete"}))


def _span(spans: Path, event: str, unit: str, pid: int, t: float | None = None) -> None:
    with open(spans, "a") as handle:
        line = {"t": time.time() if t is None else t, "event": event, "unit": unit, "pid": pid}
        handle.write(json.dumps(line) + "\n")


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing for a Train worker on the fake node :data:`NODE`."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    process = subprocess.Popen(sleeper, env={**os.environ, NODE_ID_ENV: NODE})
    yield process
    process.kill()
    process.wait()


@dataclass
class _Cluster:
    """The part of FakeAutoscalingCluster that preempt_mid_unit uses."""

    live: list[str]
    victims: list[int]  # processes that preempt_nodes kills
    taken: list[str] = field(default_factory=list)

    def worker_nodes(self) -> list[WorkerNode]:
        return [WorkerNode(n, n, {"CPU": 1.0}) for n in self.live]

    def preempt_nodes(self, node_ids: list[str]) -> list[str]:
        for pid in self.victims:
            os.kill(pid, signal.SIGKILL)
        self.taken += node_ids
        return node_ids


def test_the_registered_step_comes_from_trains_snapshot(tmp_path: Path) -> None:
    assert preemption.registered_step(tmp_path, "u") is None  # no run folder
    _snapshot(tmp_path, "u", None)
    assert preemption.registered_step(tmp_path, "u") is None  # nothing registered yet
    _snapshot(tmp_path, "u", 4)
    assert preemption.registered_step(tmp_path, "u") == 4
    (tmp_path / TRAIN_DIR / "u" / TRAIN_SNAPSHOT).write_text('{"latest_checkpoint_result": {"metr')  # mid-rewrite
    assert preemption.registered_step(tmp_path, "u") is None


def test_a_units_newest_worker_and_its_node(tmp_path: Path, worker: subprocess.Popen[bytes]) -> None:
    spans = tmp_path / "spans.jsonl"
    _span(spans, "worker.start", "u", 1)
    _span(spans, "report", "u", 1)
    _span(spans, "worker.start", "u", worker.pid)  # the retried worker
    with open(spans, "a") as handle:
        handle.write('{"t": 1, "event": "worker.st')  # a line being written
    assert preemption.worker_pids(spans) == {"u": worker.pid}
    assert preemption.node_of_process(worker.pid) == NODE
    assert preemption.node_of_process(os.getpid()) == os.environ.get(NODE_ID_ENV)  # None: of no fake node
    worker.kill()
    worker.wait()
    assert preemption.node_of_process(worker.pid) is None  # gone


def test_a_unit_mid_training_has_its_worker_stopped_then_its_node_taken(
    tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    sweep, spans = tmp_path / "sweep", tmp_path / "spans.jsonl"
    _snapshot(sweep, "running", 3)
    _span(spans, "worker.start", "running", worker.pid)
    cluster = _Cluster(live=[NODE], victims=[worker.pid])
    calls: list[list[str]] = []  # on_kill's calls: the nodes taken when it ran

    def on_kill() -> None:
        calls.append(list(cluster.taken))

    # no unit finished yet: nothing to compare a rerun with, so no preemption
    assert preemption.preempt_mid_unit(cluster, sweep, spans, before_step=9, on_kill=on_kill) is None
    _record(sweep, "done")
    # its registered checkpoint is its last step: no training left
    assert preemption.preempt_mid_unit(cluster, sweep, spans, before_step=3, on_kill=on_kill) is None
    # another worker node is alive: the replacement need not be new
    cluster.live = [NODE, "other"]
    assert preemption.preempt_mid_unit(cluster, sweep, spans, before_step=9, sole_worker=True, on_kill=on_kill) is None
    assert cluster.taken == [] and worker.poll() is None and calls == []  # nothing qualified: on_kill never ran
    taken = preemption.preempt_mid_unit(cluster, sweep, spans, before_step=9, on_kill=on_kill)
    assert taken is not None
    assert (taken.unit, taken.node_id, taken.pid, taken.step) == ("running", NODE, worker.pid, 3)
    assert taken.finished == {"done": (sweep / TRIALS_DIR / "done.json").read_bytes()}
    assert cluster.taken == [NODE] and worker.wait(timeout=10) == -signal.SIGKILL
    assert calls == [[]]  # once, before the node was taken


@pytest.mark.parametrize("finished_by", ["record", "checkpoint"])
def test_a_unit_that_finished_training_is_not_taken(
    tmp_path: Path, worker: subprocess.Popen[bytes], finished_by: str
) -> None:
    sweep, spans = tmp_path / "sweep", tmp_path / "spans.jsonl"
    _record(sweep, "done")
    _snapshot(sweep, "u", 3)
    _span(spans, "worker.start", "u", worker.pid)
    if finished_by == "record":
        _record(sweep, "u")
    else:  # its final checkpoint is complete: what is left is rows and record
        (sweep / CHECKPOINTS_DIR / "u").mkdir(parents=True)
        (sweep / CHECKPOINTS_DIR / "u" / CHECKPOINT_MARKER).write_text("{}")
    cluster = _Cluster(live=[NODE], victims=[worker.pid])
    assert preemption.preempt_mid_unit(cluster, sweep, spans, before_step=9) is None
    assert cluster.taken == [] and worker.poll() is None


def test_reruns_are_finished_units_started_again_or_rewritten(tmp_path: Path) -> None:
    sweep, spans = tmp_path / "sweep", tmp_path / "spans.jsonl"
    for key in ("a", "b", "c"):
        _record(sweep, key)
    taken = Preemption("u", NODE, 1, 3, preemption.finished_records(sweep), at=1000.0)
    _span(spans, "worker.start", "a", 1, t=999.0)  # before the kill: its own run
    _span(spans, "worker.start", "u", 2, t=1001.0)  # the preempted unit, resumed
    assert preemption.reruns(taken, sweep, spans) == []
    _span(spans, "worker.start", "b", 3, t=1002.0)
    (sweep / TRIALS_DIR / "c.json").write_text("{}")
    assert preemption.reruns(taken, sweep, spans) == ["b", "c"]
