"""A two-node Ray cluster on 127.0.0.1: the worker node is removed in the middle
of a trial, and the trial resumes from its checkpoint on a new node."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_helpers import env, kill_all, ray_session_pids

pytestmark = pytest.mark.e2e


def test_worker_node_removed_mid_trial_resumes_from_checkpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    since = time.time()
    script = Path(__file__).with_name("two_node_sweep.py")
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(tiny_model_dir), str(tmp_path / "runs")],
            env=env(), capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        kill_all(ray_session_pids(since))
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "removed" in report["events"], "the worker node was never removed"
    assert report["progress"]["done"] == report["progress"]["total"]
    trial = next(r for r in report["records"] if r["objective"] is not None)
    assert trial["status"] == "complete"
    # after the node loss it resumed from a checkpoint in the middle of its
    # 60 epochs x 3 steps (the node went at step 30 or later), not from scratch
    first_resume = trial["resumed_from_steps"][0]
    assert 0 < first_resume < 180
