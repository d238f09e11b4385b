"""Sweeps killed at seeded fault points (raygrid.faults), two trials at a
time, resumed, and compared with one uninterrupted sweep of the same spec:
the same finished trials (unit keys, params, values), trial records and
result rows.

The uninterrupted sweep is also the one people look at: ``status``, ``best``
and ``analyze`` run over and over while it runs, and a second writer
(``raygrid resume``) is refused; it must end exactly as nobody had looked
(the killed sweeps, nobody looking at them, must match it). The killed
sweeps' ``tune/`` gets booby-trapped pickles before each resume: resume
never reads Tune's state.

The points rotate: the seed is ``RAYGRID_FAULT_SEED`` or today's date, and
is printed (``pytest -s``, or the failure's captured output) so that a
failure can be run again: ``RAYGRID_FAULT_SEED=N pytest tests/e2e/test_faults_e2e.py``.
The whole campaign: benchmarks/fault_campaign.py.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from raygrid.faults import Fault, hits
from raygrid.testing.faultrun import SWEEP_NAME, Outcome, Runs, draw_faults, outcome, run_until_finished, spec_text
from raygrid.testing.sweepdir import plant_pickle_traps
from sweep_helpers import raygrid

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = int(os.environ.get("RAYGRID_FAULT_SEED") or datetime.date.today().toordinal())
WORKER_KILL = Fault("train.step", 3, "self")  # a Train worker lost at its 3rd step, its node kept
BUCKET = "faults"


class Looker:
    """What a person does to a running sweep: status, best and analyze in a
    loop, and once a second ``raygrid resume`` (which must be refused)."""

    def __init__(self, root: Path, sweep: Path) -> None:
        self.root, self.sweep = root, sweep
        self.looks = self.most_running = 0
        self.failures_seen: list[int] = []
        self.second_writer: subprocess.CompletedProcess[str] | None = None
        self.driver_pid: int | None = None

    def __call__(self, process: subprocess.Popen[bytes]) -> None:
        status = raygrid("status", str(self.sweep), "--json", cwd=self.root, timeout=300)
        if status.returncode == 0:
            progress = json.loads(status.stdout)
            self.failures_seen.append(progress["failures"])
            self.most_running = max(self.most_running, progress["trials_running"])
            self.looks += 1
        raygrid("best", str(self.sweep), "--target", "xnli", "--json", cwd=self.root, timeout=300)
        if self.looks % 3 == 1:
            raygrid("analyze", str(self.sweep), "--permutations", "20", "--jobs", "1", "--out",
                    str(self.root / "report"), cwd=self.root, timeout=300)  # fmt: skip
        started = (self.sweep / "writer.lease").is_file() and (self.sweep / "sweep.json").is_file()
        if self.second_writer is None and started and process.poll() is None:
            self.driver_pid = process.pid
            self.second_writer = raygrid("resume", str(self.sweep), "--quiet", cwd=self.root, timeout=600)


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
def looked_at(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[Outcome, dict[str, int], Looker, Path]:
    """The uninterrupted sweep, every fault point counted (none fires), looked at while it runs."""
    root = tmp_path_factory.mktemp("reference")
    looker = Looker(root, root / "runs" / SWEEP_NAME)
    runs, sweep = _run(root, tiny_model_dir, str(root / "runs"), "count", max_runs=1, while_running=looker)
    return outcome(sweep, root / "scratch"), hits(root / "hits"), looker, Path(sweep)


@pytest.fixture(scope="module")
def reference(looked_at: tuple[Outcome, dict[str, int], Looker, Path]) -> tuple[Outcome, dict[str, int]]:
    return looked_at[0], looked_at[1]


@pytest.fixture(scope="module")
def faulted(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, reference: tuple[Outcome, dict[str, int]]
) -> tuple[list[Fault], Runs, Outcome]:
    """Local storage: two sweep-wide kills drawn from the seed, and a Train worker killed alone."""
    faults = [*draw_faults(SEED, reference[1], n=2), WORKER_KILL]
    print(f"fault seed {SEED}: {','.join(map(str, faults))}")
    root = tmp_path_factory.mktemp("faulted")
    traps = lambda: plant_pickle_traps(root / "runs" / SWEEP_NAME / "tune", root / "trap-fired")  # noqa: E731
    runs, sweep = _run(root, tiny_model_dir, str(root / "runs"), ",".join(map(str, faults)), before_resume=traps)
    assert not (root / "trap-fired").exists(), "a resume unpickled Tune's state from the sweep folder"
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
        # the resumed writer released its lease; no object holds a secret
        from raygrid.storage import Location
        from raygrid.sweep.lease import LEASE_FILE
        from raygrid.testing.s3server import object_keys

        keys = [k for k in object_keys(s3_env, BUCKET) if not k.endswith("/")]
        assert f"runs/{SWEEP_NAME}/{LEASE_FILE}" not in keys
        secret = s3_env["AWS_SECRET_ACCESS_KEY"].encode()
        assert not [k for k in keys if secret in Location.of(f"s3://{BUCKET}/{k}").read_bytes()]


CREATE_STUDY, SET_TRIAL_STATE_VALUES, SET_TRIAL_USER_ATTR = 0, 6, 8  # optuna's JournalOperation
FAIL = 3  # optuna.trial.TrialState.FAIL


def _trial_units_nobody_looked_at(spec: str, tmp_path: Path) -> set[str]:
    """The trial units of the spec, handed out by a planner in this process
    (a unit's key depends on its cell, index and parameters only)."""
    from raygrid.spec import parse_spec_text
    from raygrid.store import ResultRow, write_run
    from raygrid.sweep.plan import FINISHED, RESULTS_DIR, Planner, TrialRecord, Unit, UnitKind

    planner = Planner(parse_spec_text(spec, source="spec"), tmp_path / SWEEP_NAME)
    keys: set[str] = set()
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit) and len(keys) < 100, unit
        if unit.kind is UnitKind.TRIAL:
            keys.add(unit.key)
        else:  # a confirm run is done when its rows are
            row = ResultRow(run_key=unit.key, task="xnli", language="de", split="test", metric="accuracy", value=0.5)
            write_run(planner.sweep_dir / RESULTS_DIR, unit.key, [row])
        planner.complete(unit, TrialRecord(unit.key, "complete", -math.log(unit.params["learning_rate"]), checkpoint="c"))
    return keys


def test_looking_at_a_running_sweep_changes_nothing(
    looked_at: tuple[Outcome, dict[str, int], Looker, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    _, _, looker, sweep = looked_at
    assert looker.looks >= 3 and looker.most_running >= 1, (looker.looks, looker.most_running)
    assert set(looker.failures_seen) == {0}  # a look never failed a running trial
    journal = [json.loads(line) for line in (sweep / "optuna.journal").read_bytes().splitlines()]
    studies = [r["study_name"] for r in journal if r["op_code"] == CREATE_STUDY]
    assert len(studies) == len(set(studies)) == 3  # one create-study record per cell, however often read
    assert not [r for r in journal if r["op_code"] == SET_TRIAL_STATE_VALUES and r["state"] == FAIL]
    assert not [r for r in journal if r["op_code"] == SET_TRIAL_USER_ATTR and "raygrid_orphaned" in r["user_attr"]]
    units = [r["user_attr"]["raygrid_unit"] for r in journal
             if r["op_code"] == SET_TRIAL_USER_ATTR and "raygrid_unit" in r["user_attr"]]  # fmt: skip
    assert len(units) == len(set(units))  # no unit handed out twice
    assert set(units) == _trial_units_nobody_looked_at(spec_text(tiny_model_dir, tmp_path), tmp_path)
    assert not any(p.name.startswith("optuna.journal.") for p in sweep.iterdir())  # no lock, no torn copy left


def test_a_second_writer_was_refused_naming_the_running_one(looked_at: tuple[Outcome, dict[str, int], Looker, Path]) -> None:
    _, _, looker, sweep = looked_at
    refused = looker.second_writer
    assert refused is not None, "the lease was never seen while the sweep ran"
    assert refused.returncode == 2, refused.stderr[-3000:]
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(
        f"raygrid: error: {sweep}: the sweep is being written by pid {looker.driver_pid} on host {socket.gethostname()} since "
    ), line
    assert line.endswith(f"(writer.lease); wait for it, or if that process is gone for good: raygrid resume {sweep} --force-unlock")
    assert not (sweep / "writer.lease").exists()  # released at the end
