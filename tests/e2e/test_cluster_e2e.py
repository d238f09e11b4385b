"""A multi-node Ray cluster on 127.0.0.1 whose membership changes mid-sweep:
three nodes, one lost in the middle of a trial (which resumes from its
checkpoint) and another gained while the grid runs; the sweep finishes with
nothing lost, with the same values as the same spec run undisturbed on one
node. (The two-node scenario of tests/e2e/cluster_sweep.py, one node
removed mid-trial, is the same claim on a smaller cluster: run it by hand,
``python tests/e2e/cluster_sweep.py two-node MODEL OUT``; CI's time goes to
the three-node one.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import env, kill_all, ray_session_pids

pytestmark = pytest.mark.e2e


def _run(scenario: str, tiny_model_dir: Path, out: Path) -> dict[str, Any]:
    since = time.time()
    script = Path(__file__).with_name("cluster_sweep.py")
    process = subprocess.Popen(
        [sys.executable, str(script), scenario, str(tiny_model_dir), str(out)],
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=1200)
    finally:
        process.kill()
        kill_all(ray_session_pids(since, owner=process.pid))
    assert process.returncode == 0, stderr[-4000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    assert "removed" in report["events"] and "added" in report["events"], "the cluster never changed"
    assert report["progress"]["done"] == report["progress"]["total"]
    assert report["progress"]["failures"] == 0
    return report


def test_three_node_cluster_loses_and_gains_a_node_mid_sweep(tmp_path: Path, tiny_model_dir: Path) -> None:
    report = _run("three-node", tiny_model_dir, tmp_path / "runs")
    assert report["progress"]["total"] == 1 + 2 + 2  # cells: mnli; none->xnli, mnli->xnli; their confirm cells
    records = {r["key"]: r for r in report["records"]}
    # units: 2 mnli trials, 1 trial per target cell, 1 confirm run per target cell; each ran to completion once
    assert len(records) == 2 + 2 + 2 and all(r["status"] == "complete" for r in records.values())
    # a unit cut by the node loss resumed from a checkpoint in the middle of
    # its 12 epochs x 3 steps (the node went at step 12 or later), not from scratch
    resumed = [step for r in records.values() for step in r["resumed_from_steps"]]
    assert resumed and all(0 < step < 36 for step in resumed), records
    # nothing finished before the node loss ran again (its record was never rewritten)
    for key, old in report["finished_before_removal"].items():
        assert records[key]["mtime_ns"] == old["mtime_ns"], key
    # every confirm run's results are there: both intermediates, both languages, clean test rows
    got = {(i, lang) for i, lang, split, _ in report["confirm_rows"] if split == "test"}
    assert got == {(i, lang) for i in ("none", "mnli") for lang in ("de", "ru")}
    # and with the same values as the same spec run again undisturbed (one local node): trials, records, rows
    assert report["differences_from_an_undisturbed_sweep"] == []
