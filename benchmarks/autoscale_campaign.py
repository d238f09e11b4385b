"""How fast Ray's autoscaler follows a raygrid sweep, what a refused spot
type and a spot reclaim mid-unit cost it, and what ``raygrid status`` shows
meanwhile, on the fake multi-node cluster of raygrid/testing/autoscale.py
(one machine, logical resources; node types as cluster.yaml's: a spot type,
priority 1, and its on-demand twin, priority 0).

Runs the e2e test's spec (tests/e2e/test_autoscaling_e2e.py: 3 target
trials + 1 confirm run, one 1-CPU worker each, ``--concurrency`` at a time)
with ``raygrid run --address`` against a cluster at its minimum size (the
head alone). ``--spot-failure`` makes the spot type fail to launch
(raygrid/testing/fake_cloud.py): ``never_running`` (allocated, never runs
Ray: autoscaler v2 gives up after its ALLOCATION_TIMEOUT and falls back on
the on-demand type) or ``launch_error`` (fails at once: Ray 2.60 asks for
spot again and again; ``--give-up-after S`` stops the sweep once S seconds
have passed with no worker node). Once a unit is mid-training after another
has finished, its worker node is taken away (raygrid/testing/preemption.py;
``--no-preempt``: never); ``--restart-driver`` then holds the replacement's
launch, kills the driver (kill -9) once the autoscaler has asked for it,
restarts it with ``raygrid resume`` and lets the launch go. ``raygrid
status --json`` is read every ``--status-every`` seconds. Prints one JSON
line:

    scale_up_s          sweep submitted -> first worker node alive
    first_unit_s        sweep submitted -> first Train worker alive (a unit running)
    peak_workers        most worker nodes alive at once
    worker_types        the node types of the worker nodes that came up
    spot                spot launches: allocated (never running) / refused at once / terminated; the first
                        allocation -> its termination (given_up_s: ALLOCATION_TIMEOUT plus a round)
    sweep_s             sweep submitted -> the driver exited (the resumed one, with --restart-driver)
    scale_down_s        driver exited -> no worker node left
    idle_timeout_s      the cluster's idle_timeout_minutes, in seconds
    status              reads of `raygrid status --json`: count, slowest, the first that showed units waiting
                        with nodes on the way (its time after submission, its capacity view)
    preempted_at_step   the preempted unit's newest registered checkpoint at the kill (of its --epochs x 3 steps)
    resumed_from_steps  what the preempted unit's record says it resumed from
    replacement_node_s  kill -> a worker node alive that was not there before (null: none was started)
    resumed_s           kill -> the preempted unit's retried Train worker started
    driver_restart      --restart-driver, seconds after the node kill: the replacement asked for (held), the
                        driver killed and resumed, the resumed driver handing out a unit, the launch let go
    units_rerun_after_preemption  units finished before the kill that ran again or were rewritten (should be 0)
    differences         trials/records/rows that differ from --reference's (null without it)

Usage: python benchmarks/autoscale_campaign.py MODEL_DIR OUT_DIR [--epochs N]
[--concurrency N] [--spot-failure none|never_running|launch_error]
[--give-up-after S] [--no-preempt] [--restart-driver] [--record-states DIR]
[--reference SWEEP_DIR] (MODEL_DIR: a tiny model, ``raygrid tiny-model
DIR``; SWEEP_DIR: the same spec run uninterrupted, e.g. by an earlier run
with --no-preempt; ``--record-states``: the autoscaler's GetClusterStatus
reply, as protobuf JSON, each time raygrid's view of it changes: the
recorded states tests/sweep/test_capacity.py parses). A fake node's start
is a raylet and its workers on this machine: on a real cloud the instance's
boot and setup commands come on top (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from test_autoscaling_e2e import Driver, held_since, spec_text, status_json  # noqa: E402  (the e2e test's)

from raygrid.sweep.ray_backend import SPANS_ENV  # noqa: E402
from raygrid.testing.autoscale import SPOT_TYPE, FakeAutoscalingCluster  # noqa: E402
from raygrid.testing.fake_cloud import LaunchFailure  # noqa: E402
from raygrid.testing.preemption import (  # noqa: E402
    Preemption,
    node_of_process,
    preempt_mid_unit,
    read_spans,
    reruns,
    worker_pids,
)


class StateRecorder:
    """Writes the autoscaler's reply each time raygrid's view of it changes (``--record-states``)."""

    def __init__(self, folder: Path, address: str, started: float) -> None:
        self.folder, self.address, self.started = folder, address, started
        self.last: dict[str, Any] | None = None
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self) -> None:
        from google.protobuf.json_format import MessageToJson
        from ray.core.generated.autoscaler_pb2 import GetClusterStatusReply

        from raygrid.sweep import capacity

        try:
            data = capacity.reply_bytes(self.address, timeout_s=5.0)
        except Exception:  # noqa: BLE001 - a missed sample
            return
        view = capacity.from_reply(self.address, data).to_json()
        if view == self.last:
            return
        self.last = view
        reply = GetClusterStatusReply()
        reply.ParseFromString(data)
        self.count += 1
        name = f"{self.count:02d}-{time.time() - self.started:05.1f}s"
        (self.folder / f"{name}.json").write_text(MessageToJson(reply) + "\n")
        (self.folder / f"{name}.view.json").write_text(json.dumps(view, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--idle-timeout-minutes", type=float, default=0.2)
    parser.add_argument("--spot-failure", choices=["none", *(f.value for f in LaunchFailure)], default="none")
    parser.add_argument("--give-up-after", type=float, default=0.0, help="seconds with no worker node: stop (0: never)")
    parser.add_argument("--no-preempt", action="store_true")
    parser.add_argument("--restart-driver", action="store_true")
    parser.add_argument("--status-every", type=float, default=10.0)
    parser.add_argument("--record-states", help="a folder for the autoscaler's replies")
    parser.add_argument("--reference", help="a finished sweep folder of the same spec, uninterrupted")
    args = parser.parse_args()
    if args.restart_driver and args.no_preempt:
        parser.error("--restart-driver: the driver is restarted during the preempted node's replacement; "
                     "allowed: without --no-preempt")  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "spec.yaml"
    spec.write_text(spec_text(args.model, out / "runs", epochs=args.epochs, concurrency=args.concurrency))
    sweep = out / "runs" / "grow"
    spans = out / "spans.jsonl"
    failure = None if args.spot_failure == "none" else LaunchFailure(args.spot_failure)
    cluster = FakeAutoscalingCluster(max_workers=3, worker_cpus=1, idle_timeout_minutes=args.idle_timeout_minutes,
                                     extra_env={SPANS_ENV: str(spans)}, spot_failure=failure)  # fmt: skip
    figures: dict[str, Any] = {"scale_up_s": None, "first_unit_s": None, "peak_workers": 0, "spot_failure": args.spot_failure}
    status: dict[str, Any] = {"reads": 0, "slowest_s": 0.0, "first_waiting_with_nodes_coming": None}
    types: set[str] = set()
    taken: Preemption | None = None
    before: set[str] = set()  # worker nodes seen before the kill
    restart: dict[str, Any] = {}
    launches: list[dict[str, Any]] = []
    try:
        cluster.start()
        submitted = time.time()
        record = StateRecorder(Path(args.record_states), cluster.address, submitted) if args.record_states else None
        driver = Driver(cluster, spec, out / "sweep.log")
        driver.run()
        assert driver.process is not None
        next_status = submitted
        while driver.process.poll() is None:
            nodes = cluster.worker_nodes()
            alive = {w.node_id for w in nodes}
            types |= {w.node_type for w in nodes}
            now = time.time()
            figures["peak_workers"] = max(int(figures["peak_workers"] or 0), len(alive))
            if alive and figures["scale_up_s"] is None:
                figures["scale_up_s"] = round(now - submitted, 1)
            if alive and figures["first_unit_s"] is None and cluster.train_worker_nodes(alive_only=True):
                figures["first_unit_s"] = round(now - submitted, 1)
            if record is not None:
                record()
            if args.status_every and now >= next_status and sweep.is_dir():
                next_status = now + args.status_every
                _read_status(cluster, sweep, status, submitted)
            if args.give_up_after and not types and now - submitted > args.give_up_after:
                figures["gave_up_after_s"] = round(now - submitted, 1)
                driver.process.kill()
                break
            if taken is None and not args.no_preempt:
                before |= alive
                hold = cluster.hold_launches if args.restart_driver else None
                taken = preempt_mid_unit(cluster, sweep, spans, before_step=args.epochs * 3, on_kill=hold)
                if taken is not None:
                    figures["preempted_at_step"] = taken.step
                elif hold is not None:
                    cluster.release_launches()
            elif taken is not None:
                if args.restart_driver and "killed_s" not in restart:
                    held = held_since(cluster, taken.at)
                    if held:  # the replacement is asked for: kill the driver during its launch
                        restart["replacement_asked_s"] = round(held[0]["t"] - taken.at, 1)
                        driver.kill_and_resume()
                        restart["killed_s"] = round(time.time() - taken.at, 1)
                elif args.restart_driver and "released_s" not in restart and driver.killed_at is not None:
                    asked = [float(str(s["t"])) for s in read_spans(spans) if s.get("event") == "suggest"]
                    if any(t > driver.killed_at for t in asked):  # the resumed driver hands out a unit
                        restart["resumed_asks_s"] = round(min(t for t in asked if t > driver.killed_at) - taken.at, 1)
                        cluster.release_launches()
                        restart["released_s"] = round(time.time() - taken.at, 1)
                if alive - before and "replacement_node_s" not in figures:
                    figures["replacement_node_s"] = round(now - taken.at, 1)
                pid = worker_pids(spans).get(taken.unit)
                if pid is not None and pid != taken.pid and "resumed_s" not in figures:
                    started = [s for s in read_spans(spans)
                               if s.get("event") == "worker.start" and s.get("pid") == pid]  # fmt: skip
                    figures["resumed_s"] = round(float(str(started[-1]["t"])) - taken.at, 1) if started else None
                    figures["resumed_on_new_node"] = node_of_process(pid) not in before
            time.sleep(0.25)
        driver.process.wait()
        ended = time.time()
        figures["sweep_s"] = round(ended - submitted, 1)
        figures["exit_code"] = driver.process.returncode
        if "gave_up_after_s" not in figures:
            cluster.wait_for_workers(0, timeout_s=600)
            figures["scale_down_s"] = round(time.time() - ended, 1)
        figures["idle_timeout_s"] = args.idle_timeout_minutes * 60
        launches = cluster.launches()
    finally:
        figures["processes_left"] = cluster.shutdown()
    figures["worker_types"] = sorted(types)
    figures["spot"] = _spot_figures(launches)
    figures["status"] = status
    if args.record_states:
        figures["states_recorded"] = record.count if record is not None else 0
    if args.restart_driver:
        figures["driver_restart"] = restart or None
    if not args.no_preempt:
        figures.setdefault("preempted_at_step", None)
        figures.setdefault("replacement_node_s", None)
        figures.setdefault("resumed_s", None)
        if taken is not None and (sweep / "trials" / f"{taken.unit}.json").is_file():
            record_of = json.loads((sweep / "trials" / f"{taken.unit}.json").read_text())
            figures["resumed_from_steps"] = record_of.get("resumed_from_steps")
            figures["units_finished_before_preemption"] = len(taken.finished)
            figures["units_rerun_after_preemption"] = len(reruns(taken, sweep, spans))
    finished = "gave_up_after_s" not in figures
    figures["differences"] = _differences(sweep, args.reference, out) if args.reference and finished else None
    print(json.dumps(figures))


def _read_status(cluster: FakeAutoscalingCluster, sweep: Path, status: dict[str, Any], submitted: float) -> None:
    """One ``raygrid status --json``: its wall time, and the first view with units waiting for nodes on the way."""
    started = time.time()
    read = status_json(cluster, sweep)
    status["reads"] += 1
    status["slowest_s"] = max(status["slowest_s"], round(time.time() - started, 1))
    view = read.get("capacity", {})
    if status["first_waiting_with_nodes_coming"] is None and view.get("units_waiting_for_capacity") and view.get("nodes_coming"):
        status["first_waiting_with_nodes_coming"] = {"at_s": round(started - submitted, 1), "capacity": view}


def _spot_figures(launches: list[dict[str, Any]]) -> dict[str, Any]:
    spot = [e for e in launches if e["type"] == SPOT_TYPE]
    allocated = [e for e in spot if e["event"] == "allocated_never_running"]
    ended = {e["instance"]: e["t"] for e in spot if e["event"] == "terminated"}
    given_up = [ended[e["instance"]] - e["t"] for e in allocated if e["instance"] in ended]
    return {
        "allocated_never_running": len(allocated),
        "refused_at_once": sum(e["event"] == "refused" for e in spot),
        "running": sum(e["event"] == "running" for e in spot),
        "given_up_s": round(min(given_up), 1) if given_up else None,
    }


def _differences(sweep: Path, reference: str, out: Path) -> list[str]:
    from raygrid.testing.faultrun import outcome

    return outcome(sweep, out / "scratch").differences(outcome(Path(reference), out / "scratch"))


if __name__ == "__main__":
    main()
