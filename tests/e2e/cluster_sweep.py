"""Sweeps on a multi-node Ray cluster on 127.0.0.1 whose membership changes
mid-sweep (run by test_cluster_e2e.py in a subprocess).

Scenarios:
    two-node    a head (no CPU) + one worker node, one long trial; the worker
                node is removed at step >= 30 and a new node added: the trial
                resumes from its checkpoint.
    three-node  a head + two worker nodes, a small grid (6 units, two trials at
                a time); one worker node is removed while trials run and
                another added: the sweep finishes with nothing lost; then the
                same spec runs again, undisturbed, on a one-node local Ray,
                for the comparison.

Usage: python cluster_sweep.py SCENARIO MODEL_DIR OUT_DIR  -> prints one JSON line
"""

from __future__ import annotations

import os

# Before ray is imported: keep every node of the cluster on loopback (without
# it ray.init rewrites 127.0.0.1 to the machine's address and hangs).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from raygrid.spec import parse_spec
from raygrid.sweep.driver import run_sweep
from raygrid.sweep.cluster import TRIAL_RESOURCE


def _latest_step(sweep: Path) -> int:
    from raygrid.train.loop import is_saved_state, saved_step

    steps = [0]
    for state in (sweep / "train").glob("*/checkpoint_*"):
        try:
            if is_saved_state(state):
                steps.append(saved_step(state))
        except Exception:  # noqa: BLE001 - a checkpoint being written or removed
            continue
    return max(steps)


def _free_port() -> int:
    """A free loopback port for this cluster's dashboard (the State API and
    Train's cleaner need one; another Ray on the machine may hold 8265)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _records(sweep: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((sweep / "trials").glob("*.json")):
        try:
            out[path.stem] = {**json.loads(path.read_text()), "mtime_ns": path.stat().st_mtime_ns}
        except (OSError, ValueError):  # being written
            continue
    return out


def _node_running_a_train_worker(address: str, candidates: list[Any]) -> Any | None:
    """The first of ``candidates`` hosting a live Ray Train worker (State API)."""
    from ray.util.state import list_actors

    busy = {a.node_id for a in list_actors(address=address, filters=[("state", "=", "ALIVE")], limit=1000) if "TrainWorker" in a.class_name}
    return next((node for node in candidates if node.node_id in busy), None)


def _spec(scenario: str, model: str, out: str) -> Any:
    common = {
        "model": {"name_or_path": model},
        "data": {"source": "bundled", "max_eval_examples": 4},
        "confirm": {"seeds": [0], "replicate_intermediate": False},  # node loss, not replication, is tested here
        "max_failures": 3,
        "storage": out,
    }
    if scenario == "two-node":
        return parse_spec(
            {
                **common,
                "name": "two-node",
                "intermediates": ["mnli"],
                "targets": [{"task": "bucc", "languages": ["de"]}],
                # one long trial: 48 examples / 16 = 3 steps an epoch, a checkpoint every epoch
                "search_space": {"intermediate": {"learning_rate": 1e-3, "num_epochs": 60, "batch_size": 16,
                                                  "max_seq_length": 48, "evals_per_epoch": 1}},  # fmt: skip
                "n_trials": {"intermediate": 1, "target": 1},
            }
        )
    space = {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}, "num_epochs": 12,
             "batch_size": 16, "max_seq_length": 48}  # fmt: skip
    return parse_spec(
        {
            **common,
            "name": "three-node",
            "intermediates": ["none", "mnli"],
            "targets": [{"task": "xnli", "languages": ["de", "ru"]}],
            "search_space": {"intermediate": space, "target": space},
            "n_trials": {"intermediate": 2, "target": 1},
        }
    )


def main(scenario: str, model: str, out: str) -> None:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1", "resources": {TRIAL_RESOURCE: 1000},
                        "include_dashboard": True, "dashboard_port": _free_port()},  # fmt: skip
    )
    # The driver joins before any worker node exists: every node is on
    # 127.0.0.1, and a driver attached to a worker node's raylet would die
    # with it.
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    workers = [cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1") for _ in range(1 if scenario == "two-node" else 2)]
    cluster.wait_for_nodes()
    spec = _spec(scenario, model, out)
    sweep = Path(out) / spec.name
    events: dict[str, float] = {}
    outcome: dict[str, object] = {}
    before: dict[str, dict[str, Any]] = {}

    def sweep_in_background() -> None:
        outcome["value"] = run_sweep(spec, address=cluster.address, quiet=True)

    # Ray's node start-up installs signal handlers: cluster changes must
    # happen on the main thread, so the sweep runs on another.
    runner = threading.Thread(target=sweep_in_background, daemon=True)
    runner.start()
    threshold = 30 if scenario == "two-node" else 12  # well into a trial, several checkpoints registered
    deadline = time.time() + 400
    while time.time() < deadline and runner.is_alive():
        victim = _node_running_a_train_worker(cluster.address, workers) if _latest_step(sweep) >= threshold else None
        if victim is not None:
            before = _records(sweep)
            cluster.remove_node(victim, allow_graceful=False)
            events["removed"] = time.time()
            # The new node has room for the lost worker's placement-group
            # bundle (Ray reschedules it) and for the restarted worker group.
            cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
            events["added"] = time.time()
            break
        time.sleep(0.5)
    runner.join(timeout=900)
    result = outcome["value"]
    after = _records(sweep)
    from raygrid.store import read_rows

    rows = [r for r in read_rows(sweep / "results") if r["stage"] == "confirm"]
    ray.shutdown()
    cluster.shutdown()
    differences = None
    if scenario == "three-node":
        # The same spec again, undisturbed, on a one-node local Ray (its units
        # on the local path, raygrid.sweep.ray_backend.unit_path: a few seconds
        # each instead of a Train worker group's start-up; the values do not
        # depend on the path): the sweep that lost a node must end with the
        # same trials, records and rows, values included.
        from raygrid.testing.faultrun import outcome

        reference = run_sweep(spec.replace(storage=str(Path(out) / "reference")), quiet=True)
        differences = outcome(sweep, Path(out) / "scratch").differences(outcome(str(reference.sweep_dir), Path(out) / "scratch"))
    print(
        json.dumps(
            {
                "events": events,
                "progress": result.progress,  # type: ignore[attr-defined]
                "records": list(after.values()),
                "finished_before_removal": {k: v for k, v in before.items() if v["status"] == "complete"},
                "confirm_rows": sorted({(r["intermediate"], r["language"], r["split"], r["metric"]) for r in rows}),
                "differences_from_an_undisturbed_sweep": differences,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
