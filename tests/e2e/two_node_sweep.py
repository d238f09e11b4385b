"""A sweep on a two-node Ray cluster on 127.0.0.1 whose worker node is removed
in the middle of a trial (run by test_cluster_e2e.py in a subprocess).

Usage: python two_node_sweep.py MODEL_DIR OUT_DIR  -> prints one JSON line
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

import ray
from ray.cluster_utils import Cluster

from raygrid.spec import parse_spec
from raygrid.sweep.driver import run_sweep
from raygrid.sweep.ray_backend import TRIAL_RESOURCE


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


def main(model: str, out: str) -> None:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1", "resources": {TRIAL_RESOURCE: 1000}},
    )
    worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    spec = parse_spec(
        {
            "name": "two-node",
            "model": {"name_or_path": model},
            "data": {"source": "bundled", "max_eval_examples": 4},
            "intermediates": ["mnli"],
            "targets": [{"task": "bucc", "languages": ["de"]}],
            # one long trial: 48 examples / 16 = 3 steps an epoch, a checkpoint every epoch
            "search_space": {"intermediate": {"learning_rate": 1e-3, "num_epochs": 60, "batch_size": 16,
                                              "max_seq_length": 48, "evals_per_epoch": 1}},  # fmt: skip
            "n_trials": {"intermediate": 1, "target": 1},
            "confirm": {"seeds": [0]},
            "max_failures": 3,
            "storage": out,
        }
    )
    sweep = Path(out) / "two-node"
    events: dict[str, float] = {}
    outcome: dict[str, object] = {}

    def sweep_in_background() -> None:
        outcome["value"] = run_sweep(spec, address=cluster.address, quiet=True)

    # Ray's node start-up installs signal handlers: cluster changes must
    # happen on the main thread, so the sweep runs on another.
    runner = threading.Thread(target=sweep_in_background, daemon=True)
    runner.start()
    deadline = time.time() + 300
    while time.time() < deadline and runner.is_alive():
        if _latest_step(sweep) >= 30:  # well into the trial, several checkpoints registered
            cluster.remove_node(worker, allow_graceful=False)
            events["removed"] = time.time()
            # The new node has room for the lost worker's placement-group
            # bundle (Ray reschedules it) and for the restarted worker group.
            cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
            events["added"] = time.time()
            break
        time.sleep(0.2)
    runner.join(timeout=600)
    result = outcome["value"]
    records = [json.loads(p.read_text()) for p in sorted((sweep / "trials").glob("*.json"))]
    print(json.dumps({"events": events, "progress": result.progress, "records": records}))  # type: ignore[attr-defined]
    cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
