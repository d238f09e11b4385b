"""A running sweep survives being looked at: ``status``, ``best`` and
``analyze`` called over and over while two trials run at once (real Ray,
tiny model) leave the journal, the trial records and the results exactly as
an unobserved sweep writes them."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from sweep_helpers import kill_all, ray_session_pids, raygrid, records, start

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SPEC = """
name: observed
seed: 0
model: {{name_or_path: {model}}}
data: {{source: bundled, max_train_examples: 32, max_eval_examples: 8}}
intermediates: [none, mnli]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: &s
    learning_rate: {{type: float, low: 1.0e-4, high: 3.0e-3, log: true}}
    num_epochs: {{type: int, low: 1, high: 2}}
    batch_size: 16
    max_seq_length: 48
  target: *s
n_trials: {{intermediate: 3, target: 2}}
confirm: {{seeds: [0]}}
max_concurrent_trials: 2
storage: {storage}
"""

CREATE_STUDY, SET_TRIAL_STATE_VALUES, SET_TRIAL_USER_ATTR = 0, 6, 8  # optuna's JournalOperation
FAIL = 3  # optuna.trial.TrialState.FAIL


def _expected_trial_units(spec_file: Path, tmp_path: Path) -> set[str]:
    """The trial units of the same spec, handed out by a planner in this
    process with nobody looking (a unit's key depends on its cell, index and
    parameters only: not on outcomes or timing)."""
    from raygrid.spec import load_spec
    from raygrid.sweep.plan import FINISHED, Planner, TrialRecord, Unit, UnitKind

    spec = load_spec(spec_file).replace(storage=str(tmp_path / "reference"))
    planner = Planner(spec, tmp_path / "reference" / "observed")
    keys: set[str] = set()
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        if unit.kind is UnitKind.TRIAL:
            keys.add(unit.key)
        planner.complete(unit, TrialRecord(unit.key, "complete", -math.log(unit.params["learning_rate"]), checkpoint="c"))
    return keys


def test_status_best_and_analyze_during_a_sweep_with_two_trials_at_once_change_nothing(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir, storage=tmp_path / "runs"))
    sweep = tmp_path / "runs" / "observed"
    since = time.time()
    driver = start("run", str(spec), "--quiet", cwd=tmp_path, log=tmp_path / "driver.log")
    looks, most_running, deadline = 0, 0, time.time() + 1200
    try:
        while driver.poll() is None:
            assert time.time() < deadline, (tmp_path / "driver.log").read_text()[-3000:]
            status = raygrid("status", str(sweep), "--json", cwd=tmp_path, timeout=120)
            if status.returncode == 0:
                progress = json.loads(status.stdout)
                assert progress["failures"] == 0, progress  # a look never fails a running trial
                most_running = max(most_running, progress["trials_running"])
                looks += 1
            raygrid("best", str(sweep), "--target", "xnli", "--json", cwd=tmp_path, timeout=120)
            raygrid("analyze", str(sweep), "--bootstrap", "20", "--jobs", "1", "--out", str(tmp_path / "report"),
                    cwd=tmp_path, timeout=300)  # fmt: skip
    finally:
        if driver.poll() is None:
            driver.kill()
            kill_all(ray_session_pids(since, owner=driver.pid))
    assert driver.returncode == 0, (tmp_path / "driver.log").read_text()[-3000:]
    assert looks >= 3 and most_running >= 1, (looks, most_running)

    journal = [json.loads(line) for line in (sweep / "optuna.journal").read_bytes().splitlines()]
    studies = [r["study_name"] for r in journal if r["op_code"] == CREATE_STUDY]
    assert len(studies) == len(set(studies)) == 3  # one create-study record per cell, however often it was read
    assert not [r for r in journal if r["op_code"] == SET_TRIAL_STATE_VALUES and r["state"] == FAIL]
    assert not [r for r in journal if r["op_code"] == SET_TRIAL_USER_ATTR and "raygrid_orphaned" in r["user_attr"]]
    units = [r["user_attr"]["raygrid_unit"] for r in journal
             if r["op_code"] == SET_TRIAL_USER_ATTR and "raygrid_unit" in r["user_attr"]]  # fmt: skip
    assert len(units) == len(set(units))  # no unit handed out twice
    assert set(units) == _expected_trial_units(spec, tmp_path)  # the same trials as nobody looking
    finished = records(sweep)
    assert set(units) <= set(finished) and all(r["status"] == "complete" for r in finished.values())
    assert not any(p.name.startswith("optuna.journal.") for p in sweep.iterdir())  # no lock, no torn copy left
