"""Sweeps killed at seeded fault points (raygrid.faults), two trials at a
time, resumed, and compared with one uninterrupted sweep of the same spec:
the same finished trials (unit keys, params, values), trial records and
result rows.

The points rotate: the seed is ``RAYGRID_FAULT_SEED`` or today's date, and
is printed (``pytest -s``, or the failure's captured output) so that a
failure can be run again: ``RAYGRID_FAULT_SEED=N pytest tests/e2e/test_faults_e2e.py``.
The whole campaign: benchmarks/fault_campaign.py.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import pytest

from raygrid.faults import Fault, hits
from raygrid.testing.faultrun import SWEEP_NAME, Outcome, Runs, draw_faults, outcome, run_until_finished, spec_text

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = int(os.environ.get("RAYGRID_FAULT_SEED") or datetime.date.today().toordinal())
WORKER_KILL = Fault("train.step", 3, "self")  # a Train worker lost at its 3rd step, its node kept
BUCKET = "faults"


def _run(root: Path, model: Path, storage: str, faults: str, **kwargs: Any) -> tuple[Runs, str]:
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "spec.yaml"
    spec.write_text(spec_text(model, storage))
    sweep = f"{storage}/{SWEEP_NAME}"
    runs = run_until_finished(spec, sweep, cwd=root, logs=root / "driver.log", faults=faults,
                              fault_dir=root / "hits", **kwargs)  # fmt: skip
    assert runs.finished, f"exit codes {runs.exit_codes}\n" + (root / "driver.log").read_text()[-4000:]
    return runs, sweep


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[Outcome, dict[str, int]]:
    """The uninterrupted sweep, every fault point counted (none fires)."""
    root = tmp_path_factory.mktemp("reference")
    runs, sweep = _run(root, tiny_model_dir, str(root / "runs"), "count", max_runs=1)
    return outcome(sweep, root / "scratch"), hits(root / "hits")


@pytest.fixture(scope="module")
def faulted(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, reference: tuple[Outcome, dict[str, int]]
) -> tuple[list[Fault], Runs, Outcome]:
    """Local storage: two sweep-wide kills drawn from the seed, and a Train worker killed alone."""
    faults = [*draw_faults(SEED, reference[1], n=2), WORKER_KILL]
    print(f"fault seed {SEED}: {','.join(map(str, faults))}")
    root = tmp_path_factory.mktemp("faulted")
    runs, sweep = _run(root, tiny_model_dir, str(root / "runs"), ",".join(map(str, faults)))
    print(f"fault seed {SEED}: fired {runs.fired}, exit codes {runs.exit_codes}, {runs.seconds:.0f} s")
    return faults, runs, outcome(sweep, root / "scratch")


def test_the_reference_reached_every_write_window(reference: tuple[Outcome, dict[str, int]]) -> None:
    ref, counted = reference
    assert len(ref.trials) == 2 + 2 and len(ref.records) == 2 + 2 + 2 and ref.rows
    # 6 units (4 trials, 2 confirm runs): a record, a manifest, a checkpoint and 2 epochs x 2 steps each
    assert counted["record.write"] == counted["result.manifest"] == counted["checkpoint.write"] == 6
    assert counted["result.rows"] >= 6 and counted["train.step"] == 6 * 2 * 2
    assert counted["journal.append"] > 0 and counted["segment.change"] >= 1 and counted["checkpoint.delete"] >= 4


def test_seeded_kills_with_two_trials_at_a_time_then_resume_match_the_uninterrupted_sweep(
    reference: tuple[Outcome, dict[str, int]], faulted: tuple[list[Fault], Runs, Outcome]
) -> None:
    faults, runs, got = faulted
    assert str(faults[0]) in runs.fired, f"seed {SEED}: the first fault never fired: {runs.fired}"
    assert len(runs.exit_codes) >= 2 and runs.exit_codes[0] != 0  # killed, then resumed
    assert got.differences(reference[0]) == [], f"seed {SEED}, faults {faults}"


def test_a_train_worker_killed_without_its_node_resumes_from_its_last_checkpoint(
    reference: tuple[Outcome, dict[str, int]], faulted: tuple[list[Fault], Runs, Outcome]
) -> None:
    _, runs, got = faulted
    assert str(WORKER_KILL) in runs.fired
    # the unit it cut went on from a saved state (a step of its 4), not from scratch
    resumed = [steps for steps in got.resumed_from_steps.values() if steps]
    assert resumed and all(0 < step < 4 for steps in resumed for step in steps), got.resumed_from_steps
    assert got.records == reference[0].records  # and ended as it would have


def test_a_sweep_on_s3_killed_at_a_seeded_point_matches_the_uninterrupted_sweep(
    tmp_path: Path, tiny_model_dir: Path, reference: tuple[Outcome, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("moto.server", reason="needs the dev extra (moto[server])")
    from raygrid.testing.s3server import local_s3

    (fault,) = draw_faults(SEED + 1, reference[1])
    print(f"fault seed {SEED}: on S3 {fault}")
    with local_s3(BUCKET) as s3_env:
        for name, value in s3_env.items():
            monkeypatch.setenv(name, value)  # the CLI's processes (and their Ray workers) inherit them
        monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "node-cache"))
        runs, sweep = _run(tmp_path, tiny_model_dir, f"s3://{BUCKET}/runs", str(fault))
        assert runs.fired == [str(fault)] and runs.exit_codes[0] != 0
        assert outcome(sweep, tmp_path / "scratch").differences(reference[0]) == [], f"seed {SEED}, fault {fault}"
