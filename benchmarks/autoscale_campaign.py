"""How fast Ray's autoscaler follows a raygrid sweep, on the fake multi-node
cluster of raygrid/testing/autoscale.py (one machine, logical resources).

Runs the e2e test's spec (tests/e2e/test_autoscaling_e2e.py: 3 target
trials + 1 confirm run, two at a time, one 1-CPU worker each) with
``raygrid run --address`` against a cluster at its minimum size (the head
alone) and prints one JSON line:

    scale_up_s        sweep submitted -> first worker node alive
    first_unit_s      sweep submitted -> first Train worker alive (a unit running)
    peak_workers      most worker nodes alive at once
    sweep_s           sweep submitted -> `raygrid run` exited
    scale_down_s      `raygrid run` exited -> no worker node left
    idle_timeout_s    the cluster's idle_timeout_minutes, in seconds

Usage: python benchmarks/autoscale_campaign.py MODEL_DIR OUT_DIR [--epochs N]
(MODEL_DIR: a tiny model, ``raygrid tiny-model DIR``). A fake node's start is
a raylet and its workers on this machine: on a real cloud the instance's
boot and setup commands come on top (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from test_autoscaling_e2e import SPEC  # noqa: E402  (the e2e test's spec)

from raygrid.testing.autoscale import FakeAutoscalingCluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--idle-timeout-minutes", type=float, default=0.2)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "spec.yaml"
    spec.write_text(SPEC.format(model=args.model, storage=out / "runs", epochs=args.epochs))
    cluster = FakeAutoscalingCluster(max_workers=3, worker_cpus=1, idle_timeout_minutes=args.idle_timeout_minutes)
    figures: dict[str, float | int | None] = {"scale_up_s": None, "first_unit_s": None, "peak_workers": 0}
    try:
        cluster.start()
        submitted = time.time()
        with open(out / "sweep.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "raygrid.cli", "run", str(spec), "--address", cluster.address, "--quiet"],
                env=cluster.env(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
            while process.poll() is None:
                alive = cluster.worker_nodes()
                figures["peak_workers"] = max(int(figures["peak_workers"] or 0), len(alive))
                if alive and figures["scale_up_s"] is None:
                    figures["scale_up_s"] = round(time.time() - submitted, 1)
                if alive and figures["first_unit_s"] is None and cluster.train_worker_nodes(alive_only=True):
                    figures["first_unit_s"] = round(time.time() - submitted, 1)
                time.sleep(0.5)
        ended = time.time()
        figures["sweep_s"] = round(ended - submitted, 1)
        figures["exit_code"] = process.returncode
        cluster.wait_for_workers(0, timeout_s=600)
        figures["scale_down_s"] = round(time.time() - ended, 1)
        figures["idle_timeout_s"] = args.idle_timeout_minutes * 60
    finally:
        figures["processes_left"] = cluster.shutdown()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
