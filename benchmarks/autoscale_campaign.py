"""How fast Ray's autoscaler follows a raygrid sweep, and what a spot reclaim
mid-unit costs it, on the fake multi-node cluster of
raygrid/testing/autoscale.py (one machine, logical resources).

Runs the e2e test's spec (tests/e2e/test_autoscaling_e2e.py: 3 target
trials + 1 confirm run, one 1-CPU worker each, ``--concurrency`` at a time)
with ``raygrid run --address`` against a cluster at its minimum size (the
head alone). Once a unit is mid-training after another has finished, its
worker node is taken away (raygrid/testing/preemption.py; ``--no-preempt``:
never). Prints one JSON line:

    scale_up_s          sweep submitted -> first worker node alive
    first_unit_s        sweep submitted -> first Train worker alive (a unit running)
    peak_workers        most worker nodes alive at once
    sweep_s             sweep submitted -> `raygrid run` exited
    scale_down_s        `raygrid run` exited -> no worker node left
    idle_timeout_s      the cluster's idle_timeout_minutes, in seconds
    preempted_at_step   the preempted unit's newest registered checkpoint at the kill (of its --epochs x 3 steps)
    resumed_from_steps  what the preempted unit's record says it resumed from
    replacement_node_s  kill -> a worker node alive that was not there before (null: none was started)
    resumed_s           kill -> the preempted unit's retried Train worker started
    units_rerun_after_preemption  units finished before the kill that ran again or were rewritten (should be 0)
    differences         trials/records/rows that differ from --reference's (null without it)

Usage: python benchmarks/autoscale_campaign.py MODEL_DIR OUT_DIR [--epochs N]
[--concurrency N] [--no-preempt] [--reference SWEEP_DIR] (MODEL_DIR: a tiny
model, ``raygrid tiny-model DIR``; SWEEP_DIR: the same spec run
uninterrupted, e.g. by an earlier run with --no-preempt). A fake node's start
is a raylet and its workers on this machine: on a real cloud the instance's
boot and setup commands come on top (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from test_autoscaling_e2e import spec_text  # noqa: E402  (the e2e test's spec)

from raygrid.sweep.ray_backend import SPANS_ENV  # noqa: E402
from raygrid.testing.autoscale import FakeAutoscalingCluster  # noqa: E402
from raygrid.testing.preemption import (  # noqa: E402
    Preemption,
    node_of_process,
    preempt_mid_unit,
    read_spans,
    reruns,
    worker_pids,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--idle-timeout-minutes", type=float, default=0.2)
    parser.add_argument("--no-preempt", action="store_true")
    parser.add_argument("--reference", help="a finished sweep folder of the same spec, uninterrupted")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "spec.yaml"
    spec.write_text(spec_text(args.model, out / "runs", epochs=args.epochs, concurrency=args.concurrency))
    sweep = out / "runs" / "grow"
    spans = out / "spans.jsonl"
    cluster = FakeAutoscalingCluster(max_workers=3, worker_cpus=1, idle_timeout_minutes=args.idle_timeout_minutes,
                                     extra_env={SPANS_ENV: str(spans)})  # fmt: skip
    figures: dict[str, Any] = {"scale_up_s": None, "first_unit_s": None, "peak_workers": 0}
    taken: Preemption | None = None
    before: set[str] = set()  # worker nodes seen before the kill
    try:
        cluster.start()
        submitted = time.time()
        with open(out / "sweep.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "raygrid.cli", "run", str(spec), "--address", cluster.address, "--quiet"],
                env=cluster.env(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
            while process.poll() is None:
                alive = {w.node_id for w in cluster.worker_nodes()}
                now = time.time()
                figures["peak_workers"] = max(int(figures["peak_workers"] or 0), len(alive))
                if alive and figures["scale_up_s"] is None:
                    figures["scale_up_s"] = round(now - submitted, 1)
                if alive and figures["first_unit_s"] is None and cluster.train_worker_nodes(alive_only=True):
                    figures["first_unit_s"] = round(now - submitted, 1)
                if taken is None and not args.no_preempt:
                    before |= alive
                    taken = preempt_mid_unit(cluster, sweep, spans, before_step=args.epochs * 3)
                    if taken is not None:
                        figures["preempted_at_step"] = taken.step
                elif taken is not None:
                    if alive - before and "replacement_node_s" not in figures:
                        figures["replacement_node_s"] = round(now - taken.at, 1)
                    pid = worker_pids(spans).get(taken.unit)
                    if pid is not None and pid != taken.pid and "resumed_s" not in figures:
                        started = [s for s in read_spans(spans)
                                   if s.get("event") == "worker.start" and s.get("pid") == pid]  # fmt: skip
                        figures["resumed_s"] = round(float(str(started[-1]["t"])) - taken.at, 1) if started else None
                        figures["resumed_on_new_node"] = node_of_process(pid) not in before
                time.sleep(0.25)
        ended = time.time()
        figures["sweep_s"] = round(ended - submitted, 1)
        figures["exit_code"] = process.returncode
        cluster.wait_for_workers(0, timeout_s=600)
        figures["scale_down_s"] = round(time.time() - ended, 1)
        figures["idle_timeout_s"] = args.idle_timeout_minutes * 60
    finally:
        figures["processes_left"] = cluster.shutdown()
    if not args.no_preempt:
        figures.setdefault("preempted_at_step", None)
        figures.setdefault("replacement_node_s", None)
        figures.setdefault("resumed_s", None)
        if taken is not None:
            record = json.loads((sweep / "trials" / f"{taken.unit}.json").read_text())
            figures["resumed_from_steps"] = record.get("resumed_from_steps")
            figures["units_finished_before_preemption"] = len(taken.finished)
            figures["units_rerun_after_preemption"] = len(reruns(taken, sweep, spans))
    figures["differences"] = _differences(sweep, args.reference, out) if args.reference else None
    print(json.dumps(figures))


def _differences(sweep: Path, reference: str, out: Path) -> list[str]:
    from raygrid.testing.faultrun import outcome

    return outcome(sweep, out / "scratch").differences(outcome(Path(reference), out / "scratch"))


if __name__ == "__main__":
    main()
