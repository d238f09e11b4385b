"""Probe 4: two-node Ray cluster on 127.0.0.1 (ray.cluster_utils.Cluster), a Train V2
TorchTrainer whose worker node is removed mid-run, and the run continuing from its last
checkpoint on a replacement node (FailureConfig(max_failures=...)). Measures recovery.

Run: .venv/bin/python benchmarks/ray_probe/probe_node_loss.py
"""

from __future__ import annotations

import json
import os

# Before importing ray: make Ray resolve "this node" to 127.0.0.1. Without it, ray.init
# rewrites a 127.0.0.1 address to the machine's interface IP and cannot reach the GCS
# that Cluster bound to loopback (it hangs retrying).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
import tempfile
import threading
import time

import ray
from ray.cluster_utils import Cluster
from ray.train import Checkpoint, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

EPOCHS = 8


def train_loop(config: dict) -> None:
    start = 0
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            start = json.load(open(os.path.join(d, "state.json")))["epoch"] + 1
    node = ray.get_runtime_context().get_node_id()[:8]
    for epoch in range(start, EPOCHS):
        time.sleep(1.0)  # one "epoch"
        with open(config["log"], "a") as f:
            f.write(json.dumps({"epoch": epoch, "t": time.time(), "node": node, "start": start}) + "\n")
        with tempfile.TemporaryDirectory() as d:
            json.dump({"epoch": epoch}, open(os.path.join(d, "state.json"), "w"))
            ray.train.report({"epoch": epoch}, checkpoint=Checkpoint.from_directory(d))


def main() -> None:
    # all nodes on loopback; "train_slot" steers the Train worker off the head node
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    node = cluster.add_node(num_cpus=1, resources={"train_slot": 1}, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1")
    print("cluster address:", cluster.address, "nodes:", len(ray.nodes()))
    try:
        with tempfile.TemporaryDirectory() as root:
            log = os.path.join(root, "epochs.jsonl")
            trainer = TorchTrainer(
                train_loop,
                train_loop_config={"log": log},
                scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 1, "train_slot": 1}),
                run_config=RunConfig(name="node-loss", storage_path=root,
                                     failure_config=FailureConfig(max_failures=2)),
            )
            out: dict = {}
            th = threading.Thread(target=lambda: out.setdefault("result", trainer.fit()))
            t0 = time.time()
            th.start()
            while not os.path.exists(log) or len(open(log).read().splitlines()) < 3:
                time.sleep(0.1)
            time.sleep(0.3)  # let the 3rd checkpoint land
            t_kill = time.time()
            cluster.remove_node(node, allow_graceful=False)
            print(f"=== worker node removed at {t_kill - t0:.1f} s")
            replacement = cluster.add_node(num_cpus=1, resources={"train_slot": 1}, node_ip_address="127.0.0.1")
            print(f"    replacement node up after {time.time() - t_kill:.1f} s")
            th.join(timeout=100)
            rows = [json.loads(line) for line in open(log)]
            for r in rows:
                print(f"    epoch {r['epoch']} at {r['t'] - t0:5.1f} s on node {r['node']} (attempt started at epoch {r['start']})")
            after = [r for r in rows if r["t"] > t_kill]
            if after:
                print(f"=== recovery: first epoch after the kill reported {after[0]['t'] - t_kill:.1f} s after it "
                      f"(incl. 1 s of epoch), resumed at epoch {after[0]['start']}")
            res = out.get("result")
            print("result error:", None if res is None else res.error, "| total wall_s", round(time.time() - t0, 1))
            _ = replacement
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
