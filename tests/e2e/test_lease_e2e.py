"""One writer per sweep, end to end: while `raygrid run` writes a sweep,
`raygrid resume` of the same folder is refused in one line naming the
running driver, and the running sweep finishes normally."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sweep_helpers import raygrid, start

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SPEC = """
name: leased
seed: 0
model: {{name_or_path: {model}}}
data: {{source: bundled, max_train_examples: 32, max_eval_examples: 8}}
intermediates: [none, mnli]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: &s
    learning_rate: {{type: float, low: 1.0e-4, high: 3.0e-3, log: true}}
    num_epochs: 1
    batch_size: 16
    max_seq_length: 48
  target: *s
n_trials: {{intermediate: 2, target: 1}}
confirm: {{seeds: [0]}}
max_concurrent_trials: 1
storage: {storage}
"""


def test_a_second_writer_is_refused_while_the_sweep_runs_and_the_sweep_finishes(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir, storage=tmp_path / "runs"))
    sweep = tmp_path / "runs" / "leased"
    log = tmp_path / "driver.log"
    driver = start("run", str(spec), "--quiet", cwd=tmp_path, log=log)
    try:
        deadline = time.time() + 600
        while not (sweep / "writer.lease").is_file():
            assert time.time() < deadline and driver.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        holder = json.loads((sweep / "writer.lease").read_text())
        assert (holder["pid"], holder["host"]) == (driver.pid, socket.gethostname())  # the supervisor holds it

        refused = raygrid("resume", str(sweep), "--quiet", cwd=tmp_path, timeout=600)
        assert refused.returncode == 2, refused.stderr[-3000:]
        line = refused.stderr.strip().splitlines()[-1]
        assert line.startswith(
            f"raygrid: error: {sweep}: the sweep is being written by pid {driver.pid} on host {socket.gethostname()} since "
        ), line
        assert line.endswith(f"(writer.lease); wait for it, or if that process is gone for good: raygrid resume {sweep} --force-unlock")
        assert driver.poll() is None, "the refused writer must not disturb the running one"
        assert json.loads((sweep / "writer.lease").read_text())["token"] == holder["token"]

        assert driver.wait(timeout=1200) == 0, log.read_text()[-3000:]
    finally:
        if driver.poll() is None:  # a failed assertion: stop our driver as Ctrl-C would (it stops its own Ray)
            driver.send_signal(signal.SIGINT)
            try:
                driver.wait(timeout=180)
            except subprocess.TimeoutExpired:
                driver.kill()
    assert not (sweep / "writer.lease").exists()  # released at the end
    progress = json.loads(raygrid("status", str(sweep), "--json", cwd=tmp_path, timeout=300).stdout)
    assert progress["done"] == progress["total"] and progress["failures"] == 0 and progress["writer"] is None
