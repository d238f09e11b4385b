"""A sweep under Ray's own autoscaler (issue 21): ``raygrid run --address``
submitted to a fake multi-node cluster at its minimum size (the head alone,
raygrid/testing/autoscale.py) makes the autoscaler add worker nodes, no more
than the spec's concurrency uses; no Train worker runs on the head; once
the sweep is over the idle workers go; and the sweep ends with the trials,
records and rows of the same spec on a fixed one-node cluster.

And a spot reclaim mid-unit (raygrid/testing/preemption.py): the worker
node of a unit in the middle of its training is killed at once; the
autoscaler starts a new node, the unit resumes there from its last
checkpoint, the units finished before are not run again, and the sweep
still ends as the uninterrupted one did.

Two scenarios, one reference sweep between them (``max_concurrent_trials``
is a run-time field: the units and their values do not depend on it). They
run in CI: a fake node's start-up is a few raylets on a machine shared with
the rest of the suite."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sweep_helpers import env, records

from raygrid.testing.autoscale import FakeAutoscalingCluster
from raygrid.testing.faultrun import Outcome
from raygrid.testing.preemption import Preemption

pytestmark = [pytest.mark.e2e]

SPEC = """
name: grow
seed: 0
model: {{name_or_path: {model}}}
data: {{source: bundled, max_train_examples: 48, max_eval_examples: 8}}
intermediates: [none]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: &s
    learning_rate: {{type: float, low: 1.0e-4, high: 3.0e-3, log: true}}
    num_epochs: {epochs}
    batch_size: 16
    max_seq_length: 48
    evals_per_epoch: 1
  target: *s
n_trials: {{intermediate: 1, target: 3}}
sampler: {{type: random}}
confirm: {{seeds: [0], replicate_intermediate: false}}
resources: {{num_workers: 1, cpus_per_worker: 1, use_gpu: false}}
max_concurrent_trials: {concurrency}
max_failures: 3
storage: {storage}
"""
UNITS = 3 + 1  # 3 target trials, then 1 confirm run
EPOCHS = 12  # 48 examples / 16 a batch: 3 steps an epoch, a checkpoint at its end (room to be cut mid-unit)
STEPS = EPOCHS * 3  # a unit's steps
CONCURRENCY = 2
MAX_WORKERS = 3  # the node type allows more than the spec uses: the spec's concurrency is what binds


def spec_text(model: Path | str, storage: Path | str, *, epochs: int = EPOCHS, concurrency: int = CONCURRENCY) -> str:
    """The scenarios' spec (benchmarks/autoscale_campaign.py runs it too)."""
    return SPEC.format(model=model, storage=storage, epochs=epochs, concurrency=concurrency)


@dataclass
class Watched:
    """What the test saw of the cluster while the sweep ran."""

    peak: int = 0  # most worker nodes alive at once
    workers: set[str] = field(default_factory=set)  # every worker node seen alive


def _sweep_dir(spec: Path) -> Path:
    return spec.parent / "runs" / "grow"


def _sweep(
    cluster: FakeAutoscalingCluster, spec: Path, log: Path, look: Callable[[set[str]], None] | None = None
) -> Watched:
    """Runs ``raygrid run SPEC --address`` to its end, watching the worker
    nodes; ``look`` gets the live worker nodes at every round."""
    seen = Watched()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "raygrid.cli", "run", str(spec), "--address", cluster.address, "--quiet"],
            env={**env(), **cluster.env()}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.time() + 900
            while process.poll() is None and time.time() < deadline:
                alive = {w.node_id for w in cluster.worker_nodes()}
                seen.peak = max(seen.peak, len(alive))
                seen.workers |= alive
                if look is not None:
                    look(alive)
                time.sleep(0.25)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()[-4000:]
    return seen


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Outcome:
    """The spec on a fixed one-node cluster (a local Ray), never interrupted:
    what both scenarios must end with. Its units take the local path (the
    default there; 15 s for the four units against 59 s on Train worker
    actors, with the same trials, records and rows, values included)."""
    from raygrid.testing.faultrun import MARKER_ENV, kill_marked, outcome

    root = tmp_path_factory.mktemp("reference")
    spec = root / "spec.yaml"
    spec.write_text(spec_text(tiny_model_dir, root / "runs"))
    marker = uuid.uuid4().hex  # its Ray processes inherit it: what is left of them is found by it, no one else's
    process = subprocess.run(
        [sys.executable, "-m", "raygrid.cli", "run", str(spec), "--quiet"],
        env={**env(), "RAYGRID_UNIT_PATH": "local", MARKER_ENV: marker}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    kill_marked(marker)
    assert process.returncode == 0, process.stderr[-4000:]
    return outcome(_sweep_dir(spec), root / "scratch")


def _rows_once(sweep: Path) -> None:
    """No unit's result rows are written twice."""
    from raygrid.store import read_rows

    rows = [tuple(sorted((k, str(v)) for k, v in r.items())) for r in read_rows(sweep / "results")]
    assert rows and len(rows) == len(set(rows))


def test_a_sweep_grows_the_cluster_and_leaves_it_idle(tmp_path: Path, tiny_model_dir: Path, reference: Outcome) -> None:
    from raygrid.testing.faultrun import outcome

    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(tiny_model_dir, tmp_path / "runs"))
    cluster = FakeAutoscalingCluster(max_workers=MAX_WORKERS, worker_cpus=1, idle_timeout_minutes=0.2)
    try:
        cluster.start()
        assert cluster.worker_nodes() == []  # submitted at minimum size: the head alone
        seen = _sweep(cluster, spec, tmp_path / "sweep.log")
        # the autoscaler added workers for the queued units, never more than the spec runs at once
        assert 1 <= seen.peak <= CONCURRENCY, seen
        # no Train worker on the head (CPU 0 there): every one ran on a worker node
        placed = cluster.train_worker_nodes()
        assert placed and cluster.head_node_id not in placed and placed <= seen.workers, (placed, seen)
        # the sweep is over: the idle workers go (idle_timeout_minutes 0.2, plus the autoscaler's rounds)
        cluster.wait_for_workers(0, timeout_s=180)
    finally:
        left = cluster.shutdown()
    assert left == 0 and not cluster.pids()  # no raylet of the fake cluster outlives it

    sweep = _sweep_dir(spec)
    by_key = records(sweep)
    assert len(by_key) == UNITS and {r["status"] for r in by_key.values()} == {"complete"}
    assert {r["path"] for r in by_key.values()} == {"trainer"}  # with an autoscaler: Train worker actors
    assert not any(r.get("resumed_from_steps") for r in by_key.values())  # nothing was lost, nothing resumed
    _rows_once(sweep)
    # and the same trials, records and rows, values included, as on a fixed cluster
    assert outcome(sweep, tmp_path / "scratch").differences(reference) == []


@dataclass
class Preempting:
    """Looks at the sweep at every round: takes a unit's worker node once
    one is mid-training (the only worker node then, so that its replacement
    must be new), then finds the node its retried worker runs on."""

    cluster: FakeAutoscalingCluster
    sweep: Path
    spans: Path
    done: Preemption | None = None
    before: set[str] = field(default_factory=set)  # every worker node seen alive before the kill
    resumed_on: str | None = None  # the node of the preempted unit's retried Train worker

    def __call__(self, alive: set[str]) -> None:
        from raygrid.testing.preemption import node_of_process, preempt_mid_unit, worker_pids

        if self.done is None:
            self.before |= alive
            self.done = preempt_mid_unit(self.cluster, self.sweep, self.spans, before_step=STEPS, sole_worker=True)
        elif self.resumed_on is None:
            pid = worker_pids(self.spans).get(self.done.unit)
            if pid is not None and pid != self.done.pid:
                self.resumed_on = node_of_process(pid)


def test_a_worker_node_lost_mid_unit_is_replaced_and_the_unit_resumes(
    tmp_path: Path, tiny_model_dir: Path, reference: Outcome
) -> None:
    from raygrid.sweep.ray_backend import SPANS_ENV
    from raygrid.testing.faultrun import outcome
    from raygrid.testing.preemption import read_spans, reruns

    spec = tmp_path / "spec.yaml"
    # one unit at a time: the preempted unit's node is the only worker node, so its replacement is a new one
    spec.write_text(spec_text(tiny_model_dir, tmp_path / "runs", concurrency=1))
    spans = tmp_path / "spans.jsonl"  # the unit spans say which process is a unit's Train worker
    cluster = FakeAutoscalingCluster(max_workers=MAX_WORKERS, worker_cpus=1, idle_timeout_minutes=0.2,
                                     extra_env={SPANS_ENV: str(spans)})  # fmt: skip
    sweep = _sweep_dir(spec)
    watch = Preempting(cluster, sweep, spans)
    try:
        cluster.start()
        seen = _sweep(cluster, spec, tmp_path / "sweep.log", look=watch)
    finally:
        left = cluster.shutdown()
    assert left == 0 and not cluster.pids()

    taken = watch.done
    assert taken is not None, ("no unit was ever mid-training after another had finished: nothing was preempted",
                               read_spans(spans)[-5:])  # fmt: skip
    assert 0 < taken.step < STEPS and taken.node_id in watch.before and taken.finished
    # the autoscaler replaced the node: the unit's retried worker ran on a worker node started after the kill
    assert watch.resumed_on is not None and watch.resumed_on not in watch.before, watch
    assert watch.resumed_on in seen.workers and watch.resumed_on != cluster.head_node_id
    by_key = records(sweep)
    assert len(by_key) == UNITS and {r["status"] for r in by_key.values()} == {"complete"}
    # the unit resumed once, from the checkpoint Train had registered before the kill (or a later one), not from scratch
    resumed = by_key[taken.unit]["resumed_from_steps"]
    assert len(resumed) == 1 and taken.step <= resumed[0] <= STEPS, (taken, resumed)
    assert not any(r.get("resumed_from_steps") for k, r in by_key.items() if k != taken.unit)
    # the units finished before the kill never ran again: no Train worker started for them, records untouched
    assert reruns(taken, sweep, spans) == []
    _rows_once(sweep)
    assert outcome(sweep, tmp_path / "scratch").differences(reference) == []
