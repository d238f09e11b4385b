"""The local path on a real one-node Ray cluster (issue 18): one-worker units
run in Train V2's local mode inside their Tune trial's process, processes
are reused across units, and per-cell pruning still stops a unit for good."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sweep_helpers import raygrid, records

pytestmark = pytest.mark.e2e

PRUNED = """
name: pruned
seed: {seed}
model: {{name_or_path: {model}}}
data: {{source: bundled, local_dirs: [{data}], max_eval_examples: 32}}
intermediates: [none]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: &s
    # a rate that learns and one that cannot: a range would let most draws
    # learn nothing alike, tie the median and prune nothing
    learning_rate: {{type: categorical, choices: [1.0e-6, 2.0e-3]}}
    num_epochs: 4
    batch_size: 16
    max_seq_length: 48
  target: *s
n_trials: {{intermediate: 1, target: 8}}
sampler: {{type: random}}
early_stopping: {{type: median, min_resource: 1, n_startup_trials: 2}}
confirm: {{seeds: [0]}}
max_concurrent_trials: 2
storage: {storage}
"""


def _mnli_rows(root: Path, n: int) -> Path:
    """``n`` English MNLI training rows (the bundled fixture's, cycled): enough
    steps for the learning rates to tell apart, so the pruner has work."""
    from raygrid.tasks import fixture_path

    rows = [json.loads(line) for line in fixture_path("mnli", "train", "en").read_text().splitlines() if line.strip()]
    out = root / "mnli" / "train.en.jsonl"
    out.parent.mkdir(parents=True)
    out.write_text("".join(json.dumps({**rows[i % len(rows)], "idx": i}) + "\n" for i in range(n)))
    return root


def test_local_units_share_processes_and_a_pruned_one_writes_nothing_more(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raygrid.sweep.ray_backend import SPANS_ENV, UNIT_PATH_ENV

    monkeypatch.delenv(UNIT_PATH_ENV, raising=False)  # the default on one node
    data = _mnli_rows(tmp_path / "data", 300)
    # The random sampler's draws follow the cell keys, and those hold this
    # test's tmp paths: when the pruner's two startup trials both draw the
    # rate that learns nothing, later trials at that rate tie the median and
    # may all be kept (seen in a CI run). Another spec seed draws again: a
    # pruner that works prunes within a few draws, one that never prunes
    # fails every one of them.
    tried: list[list[str]] = []
    for seed in range(4):
        spans = tmp_path / f"spans{seed}.jsonl"
        monkeypatch.setenv(SPANS_ENV, str(spans))  # the CLI's Ray cluster (and so every trial) inherits it
        spec = tmp_path / f"p{seed}.yaml"
        spec.write_text(PRUNED.format(seed=seed, model=tiny_model_dir, storage=tmp_path / f"runs{seed}", data=data))
        done = raygrid("run", str(spec), "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        sweep = tmp_path / f"runs{seed}" / "pruned"
        time.sleep(5)  # a pruned unit that trained on would write by now
        by_key = records(sweep)
        statuses = sorted(r["status"] for r in by_key.values())
        assert len(by_key) == 8 + 1 and "failed" not in statuses
        pruned = [k for k, r in by_key.items() if r["status"] == "pruned"]
        if pruned:
            break
        tried.append(statuses)
    assert pruned, f"the median pruner stopped nothing in {len(tried)} draws: {tried}"  # lr 1e-6 trains nothing
    runs = {p.stem for p in (sweep / "results" / "_runs").glob("*.json")}
    assert not [k for k in pruned if k in runs or (sweep / "checkpoints" / k).exists()]
    assert not list((sweep / "train").glob("*")), "a unit's saved states outlived it"
    assert {r["path"] for r in by_key.values()} == {"local"}  # every record says how its unit ran
    status = raygrid("status", str(sweep), cwd=tmp_path)
    assert f"units finished by path: {len(by_key)} local" in status.stdout, status.stdout

    events = [json.loads(line) for line in spans.read_text().splitlines()]
    trial_pid = {e["unit"]: e["pid"] for e in events if e["event"] == "trial.start"}
    worker_pid = {e["unit"]: e["pid"] for e in events if e["event"] == "worker.start"}
    assert worker_pid and all(worker_pid[k] == trial_pid[k] for k in worker_pid)  # local mode: the trial's process
    assert len(set(trial_pid.values())) < len(trial_pid)  # Tune handed processes on (reuse_actors)
