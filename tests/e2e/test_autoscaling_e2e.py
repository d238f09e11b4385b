"""A sweep under Ray's own autoscaler (issue 21): ``raygrid run --address``
submitted to a fake multi-node cluster at its minimum size (the head alone,
raygrid/testing/autoscale.py) makes the autoscaler add worker nodes, no more
than the spec's concurrency uses; no Train worker runs on the head; once
the sweep is over the idle workers go; and the sweep ends with the trials,
records and rows of the same spec on a fixed one-node cluster.

Its node types mirror cluster.yaml: a spot type (priority 1) and its
on-demand twin (priority 0). In the growth scenario the spot type never
comes up (raygrid/testing/fake_cloud.py: allocated, never runs Ray, as a
spot request that is never fulfilled): the autoscaler asks for spot first,
gives up on it after its ALLOCATION_TIMEOUT and grows the cluster on the
on-demand type. While the on-demand nodes launch (held by the fake cloud
until the test has looked), ``raygrid status --json`` shows them on the way
and the units waiting for them.

And a spot reclaim mid-unit (raygrid/testing/preemption.py): the worker
node of a unit in the middle of its training is killed at once; while the
autoscaler launches its replacement (held), the driver is killed (kill -9)
and restarted with ``raygrid resume``; the unit resumes on the new node from
its last checkpoint, the units finished before are not run again, and the
sweep still ends as the uninterrupted one did.

Two scenarios, one reference sweep between them (``max_concurrent_trials``
is a run-time field: the units and their values do not depend on it). They
run in CI: a fake node's start-up is a few raylets on a machine shared with
the rest of the suite."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import env, records

from raygrid.testing.autoscale import ONDEMAND_TYPE, SPOT_TYPE, FakeAutoscalingCluster
from raygrid.testing.fake_cloud import LaunchFailure
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
    types: set[str] = field(default_factory=set)  # the node types of those


def _sweep_dir(spec: Path) -> Path:
    return spec.parent / "runs" / "grow"


@dataclass
class Driver:
    """The sweep's driver process: ``raygrid run SPEC --address``, and after
    :meth:`kill_and_resume`, ``raygrid resume SWEEP --address``."""

    cluster: FakeAutoscalingCluster
    spec: Path
    log: Path
    quiet: bool = True  # False: with its progress lines (in the log)
    process: subprocess.Popen[bytes] | None = None
    killed_at: float | None = None  # when the first driver was killed (kill -9)

    def _start(self, *args: str) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "raygrid.cli", *args, "--address", self.cluster.address,
                 *(["--quiet"] if self.quiet else [])],
                env={**env(), **self.cluster.env()}, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def run(self) -> None:
        self._start("run", str(self.spec))

    def kill_and_resume(self) -> None:
        """kill -9 of ``raygrid run`` (its segment process dies with it), then ``raygrid resume``."""
        assert self.process is not None and self.process.poll() is None
        self.process.kill()
        assert self.process.wait() == -signal.SIGKILL
        self.killed_at = time.time()
        self._start("resume", str(_sweep_dir(self.spec)))


def _sweep(
    cluster: FakeAutoscalingCluster,
    spec: Path,
    log: Path,
    look: Callable[[set[str], Driver], None] | None = None,
    quiet: bool = True,
) -> Watched:
    """Runs ``raygrid run SPEC --address`` to its end (and the ``raygrid
    resume`` that ``look`` may restart it as), watching the worker nodes;
    ``look`` gets the live worker nodes and the driver at every round."""
    seen = Watched()
    driver = Driver(cluster, spec, log, quiet=quiet)
    driver.run()
    assert driver.process is not None
    try:
        deadline = time.time() + 900
        while driver.process.poll() is None and time.time() < deadline:
            nodes = cluster.worker_nodes()
            alive = {w.node_id for w in nodes}
            seen.peak = max(seen.peak, len(alive))
            seen.workers |= alive
            seen.types |= {w.node_type for w in nodes}
            if look is not None:
                look(alive, driver)
            time.sleep(0.25)
    finally:
        if driver.process.poll() is None:
            driver.process.kill()
        driver.process.wait()
    assert driver.process.returncode == 0, log.read_text()[-4000:]
    return seen


def status_json(cluster: FakeAutoscalingCluster, sweep: Path) -> dict[str, Any]:
    """``raygrid status SWEEP --json``, as a user on the head runs it ({}: it failed)."""
    done = subprocess.run([sys.executable, "-m", "raygrid.cli", "status", str(sweep), "--json"],
                          env={**env(), **cluster.env()}, capture_output=True, text=True, timeout=300)  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {}


def held_since(cluster: FakeAutoscalingCluster, since: float = 0.0, node_type: str | None = None) -> list[dict[str, Any]]:
    """The fake cloud's launches (of ``node_type``; None: any) held since ``since``."""
    return [e for e in cluster.launches()
            if e["event"] == "held" and e["t"] > since and node_type in (None, e["type"])]  # fmt: skip


def _orphaned_groups(cluster: FakeAutoscalingCluster) -> list[str]:
    """The cluster's placement groups that a dead driver left (a driver
    process of its own joins the cluster to read them; it removes nothing).
    Ray removes a finished driver's groups a moment after it exits: what is
    still there 15 s later counts."""
    code = ("import json, sys, time, ray\nfrom raygrid.sweep.cluster import find_orphaned_placement_groups\n"
            "ray.init(address=sys.argv[1], log_to_driver=False)\nfound = find_orphaned_placement_groups()\n"
            "for _ in range(3):\n    if not found: break\n    time.sleep(5)\n    found = find_orphaned_placement_groups()\n"
            "print(json.dumps(found))\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, cluster.address], env={**env(), **cluster.env()},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


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


@dataclass
class StatusWhileLaunching:
    """Once the fake cloud holds an on-demand launch (the spot type having
    been given up on), reads ``raygrid status --json`` until it shows units
    waiting for capacity and an on-demand node on the way, then lets the
    launches go. The hold keeps that state put while the test looks."""

    cluster: FakeAutoscalingCluster
    sweep: Path
    seen: dict[str, Any] | None = None  # the status that showed it

    def __call__(self, alive: set[str], driver: Driver) -> None:
        if self.seen is not None or not held_since(self.cluster, node_type=ONDEMAND_TYPE):
            return
        status = status_json(self.cluster, self.sweep)
        view = status.get("capacity", {})
        ondemand = view.get("node_types", {}).get(ONDEMAND_TYPE, {})
        if view.get("units_waiting_for_capacity", 0) >= 1 and ondemand.get("pending", 0) + ondemand.get("launching", 0):
            self.seen = status
            self.cluster.release_launches()


def spot_given_up(cluster: FakeAutoscalingCluster) -> list[dict[str, Any]] | None:
    """The spot launches, once every spot instance allocated has been terminated (None: not yet)."""
    spot = [e for e in cluster.launches() if e["type"] == SPOT_TYPE]
    allocated = {e["instance"] for e in spot if e["event"] == "allocated_never_running"}
    return spot if allocated == {e["instance"] for e in spot if e["event"] == "terminated"} else None


def test_a_sweep_grows_the_cluster_on_demand_when_spot_never_comes_and_leaves_it_idle(
    tmp_path: Path, tiny_model_dir: Path, reference: Outcome
) -> None:
    from raygrid.testing.faultrun import outcome

    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(tiny_model_dir, tmp_path / "runs"))
    sweep = _sweep_dir(spec)
    cluster = FakeAutoscalingCluster(max_workers=MAX_WORKERS, worker_cpus=1, idle_timeout_minutes=0.2,
                                     spot_failure=LaunchFailure.NEVER_RUNNING)  # fmt: skip
    watch = StatusWhileLaunching(cluster, sweep)
    try:
        cluster.start()
        assert cluster.worker_nodes() == []  # submitted at minimum size: the head alone
        cluster.hold_launches()  # on-demand nodes wait until the test has read the status
        # with its progress lines (in its log): they read the autoscaler's view too
        seen = _sweep(cluster, spec, tmp_path / "sweep.log", look=watch, quiet=False)
        # the autoscaler added workers for the queued units, never more than the spec runs at once
        assert 1 <= seen.peak <= CONCURRENCY, seen
        # no Train worker on the head (CPU 0 there): every one ran on a worker node
        placed = cluster.train_worker_nodes()
        assert placed and cluster.head_node_id not in placed and placed <= seen.workers, (placed, seen)
        # the sweep is over: the idle workers go (idle_timeout_minutes 0.2, plus the autoscaler's rounds)
        cluster.wait_for_workers(0, timeout_s=180)
        spot = cluster.wait_until(lambda: spot_given_up(cluster), 120, "termination of every spot instance")
        launches = cluster.launches()
    finally:
        left = cluster.shutdown()
    assert left == 0 and not cluster.pids()  # no raylet of the fake cluster outlives it

    # spot first (priority 1): allocated, never running, given up on (ALLOCATION_TIMEOUT) and terminated;
    # the sweep grew on the on-demand twin alone
    first_ondemand = min(e["t"] for e in launches if e["type"] == ONDEMAND_TYPE)
    assert spot[0]["event"] == "allocated_never_running" and spot[0]["t"] < first_ondemand, launches
    assert seen.types == {ONDEMAND_TYPE}, seen
    # while the on-demand nodes launched, status showed them on the way and the units waiting (not stuck)
    status = watch.seen
    assert status is not None, "status never showed an on-demand node on the way with units waiting"
    assert status["trials_running"] >= 1 and status["writer"]["ray_address"] == cluster.address
    view = status["capacity"]
    assert view["autoscaler"] and view["units_waiting_for_capacity"] >= 1 and view["nodes_coming"] >= 1
    assert view["node_types"][ONDEMAND_TYPE]["running"] == 0
    assert view["node_types"].get(SPOT_TYPE, {}).get("running", 0) == 0

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
    must be new), holding the replacement's launch; once the autoscaler has
    asked for it, kills the driver and resumes the sweep; lets the launch go
    once the resumed driver hands out a unit (so the new node is not idle
    long enough to be removed); then finds the node the unit's retried
    worker runs on."""

    cluster: FakeAutoscalingCluster
    sweep: Path
    spans: Path
    done: Preemption | None = None
    before: set[str] = field(default_factory=set)  # every worker node seen alive before the kill
    restarted: bool = False  # the driver was killed and resumed during the replacement's launch
    killed_at: float | None = None  # when
    released: bool = False  # the replacement's launch was let go
    resumed_on: str | None = None  # the node of the preempted unit's retried Train worker

    def __call__(self, alive: set[str], driver: Driver) -> None:
        from raygrid.testing.preemption import node_of_process, preempt_mid_unit, read_spans, worker_pids

        if self.done is None:
            self.before |= alive
            self.done = preempt_mid_unit(self.cluster, self.sweep, self.spans, before_step=STEPS, sole_worker=True,
                                         on_kill=self.cluster.hold_launches)  # fmt: skip
            if self.done is None:
                self.cluster.release_launches()  # nothing taken: nothing to hold
        elif not self.restarted:
            if held_since(self.cluster, self.done.at):  # the replacement is asked for, held
                driver.kill_and_resume()
                self.restarted, self.killed_at = True, driver.killed_at
        elif not self.released:
            asked = [float(str(s["t"])) for s in read_spans(self.spans) if s.get("event") == "suggest"]
            if self.killed_at is not None and any(t > self.killed_at for t in asked):  # the resumed driver asks
                self.cluster.release_launches()
                self.released = True
        elif self.resumed_on is None:
            pid = worker_pids(self.spans).get(self.done.unit)
            if pid is not None and pid != self.done.pid:
                self.resumed_on = node_of_process(pid)


def test_a_worker_node_lost_mid_unit_is_replaced_and_the_unit_resumes_across_a_driver_restart(
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
        launches = cluster.launches()
        # the killed driver's placement groups are gone (Ray can leave one created after the kill, which
        # would hold its node for good: the resumed driver removes it, raygrid.sweep.cluster)
        orphans = _orphaned_groups(cluster)
    finally:
        left = cluster.shutdown()
    assert left == 0 and not cluster.pids()
    assert orphans == [], orphans

    taken = watch.done
    assert taken is not None, ("no unit was ever mid-training after another had finished: nothing was preempted",
                               read_spans(spans)[-5:])  # fmt: skip
    assert 0 < taken.step < STEPS and taken.node_id in watch.before and taken.finished
    # the driver was killed while the autoscaler was launching the replacement (asked for, not yet up)
    assert watch.restarted, launches
    held = [e for e in launches if e["event"] == "held" and e["t"] > taken.at]  # the replacement's launch
    released = [e for e in launches if e["event"] == "released" and e["t"] > taken.at]
    assert watch.killed_at is not None and held and released, launches
    assert held[0]["t"] < watch.killed_at < released[0]["t"], launches
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
