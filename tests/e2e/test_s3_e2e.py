"""A sweep on s3:// (a local moto S3 server on 127.0.0.1) with real Ray on
the tiny model: the driver killed with SIGKILL mid-sweep, then resumed from
the S3 URI alone; status and best read the results from S3."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from sweep_helpers import kill_all, ray_session_pids, raygrid, start

pytest.importorskip("moto.server", reason="needs the dev extra (moto[server])")

pytestmark = pytest.mark.e2e

BUCKET = "sweeps"

SPEC = """
name: small
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
storage: runs/
"""


def _records(sweep: str) -> dict[str, dict[str, object]]:
    from raygrid.storage import Location

    trials = Location.of(sweep) / "trials"
    return {n[:-5]: json.loads((trials / n).read_bytes()) for n in trials.names() if n.endswith(".json")}


def _finished_trials(sweep: str, tmp: Path) -> list[tuple[str, str, str]]:
    """(cell, unit key, state) of every finished Optuna trial in the journal on S3, orphans excluded."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from raygrid.storage import Location

    local = tmp / "optuna.journal"
    local.write_bytes((Location.of(sweep) / "optuna.journal").read_bytes())
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(local)))
    out = []
    for summary in optuna.get_all_study_summaries(storage):
        for trial in optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(deepcopy=False):
            if trial.state.is_finished() and not trial.user_attrs.get("raygrid_orphaned"):
                out.append((summary.study_name, str(trial.user_attrs["raygrid_unit"]), trial.state.name))
    return sorted(out)


def test_a_sweep_on_s3_killed_then_resumed(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from raygrid.testing.s3server import local_s3, object_keys

    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir))
    workdir = tmp_path / "wd"  # the drivers' working directory: must stay empty
    workdir.mkdir()
    with local_s3(BUCKET) as s3_env:
        for name, value in s3_env.items():
            monkeypatch.setenv(name, value)  # the subprocesses (and their Ray workers) inherit them
        monkeypatch.setenv("RAYGRID_CACHE_DIR", str(tmp_path / "node-cache"))
        sweep = f"s3://{BUCKET}/runs/small"

        since = time.time()
        driver = start("run", str(spec), "--storage", f"s3://{BUCKET}/runs", "--quiet", cwd=workdir, log=tmp_path / "driver.log")
        deadline = time.time() + 600
        while len(_records(sweep)) < 2 and time.time() < deadline and driver.poll() is None:
            time.sleep(0.5)
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        time.sleep(3)  # somewhere inside the third unit
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        time.sleep(2)
        kill_all(ray_session_pids(since, owner=driver.pid))
        before = _records(sweep)
        assert len(before) >= 2
        from ray import tune

        from raygrid.storage import Location

        tune_fs, tune_path = (Location.of(sweep) / "tune").arrow()
        assert tune.Tuner.can_restore(tune_path, storage_filesystem=tune_fs)  # resume restores Tune from S3

        resumed = raygrid("resume", sweep, "--quiet", cwd=workdir)
        assert resumed.returncode == 0, resumed.stderr[-3000:]

        status = raygrid("status", sweep, "--json", cwd=workdir)
        assert status.returncode == 0, status.stderr[-3000:]
        progress = json.loads(status.stdout)
        assert progress["done"] == progress["total"] == 1 + 2 + 2 and progress["failures"] == 0
        # every unit done once: 2 mnli trials + 2 target trials in Optuna, each with its record
        finished = _finished_trials(sweep, tmp_path)
        after = _records(sweep)
        complete = sum(state == "COMPLETE" for *_, state in finished)
        assert len(finished) == 4 and {state for *_, state in finished} <= {"COMPLETE", "PRUNED"}
        assert len({key for _, key, _ in finished}) == 4 and {key for _, key, _ in finished} <= set(after)
        for key, record in before.items():  # no finished unit ran again: its record is untouched
            assert after[key] == record

        best = raygrid("best", sweep, "--target", "xnli", "--json", cwd=workdir)
        assert best.returncode == 0, best.stderr[-3000:]
        rows = json.loads(best.stdout)
        assert {row["language"] for row in rows} == {"de", "en"}  # the target language + English dev
        assert all(row["checkpoint"].startswith(f"{sweep}/checkpoints/") for row in rows)

        keys = object_keys(s3_env, BUCKET)
        prefix = "runs/small/"
        assert {f"{prefix}spec.yaml", f"{prefix}sweep.json", f"{prefix}optuna.journal"} <= set(keys)
        assert any(k.startswith(f"{prefix}results/_runs/") for k in keys)
        assert any(k.startswith(f"{prefix}tune/") for k in keys)  # Tune's experiment state
        assert sum(k.endswith("/raygrid.json") and "/checkpoints/" in k for k in keys) == complete + 2  # + the confirm runs
        secret = s3_env["AWS_SECRET_ACCESS_KEY"].encode()
        objects = [k for k in keys if not k.endswith("/")]  # "folder/" keys: empty markers Ray/pyarrow make
        assert not [k for k in objects if secret in Location.of(f"s3://{BUCKET}/{k}").read_bytes()]
    assert list(workdir.iterdir()) == []  # only caches (RAYGRID_CACHE_DIR, Ray's /tmp) outside S3


def test_best_and_analyze_read_a_sweep_on_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The results contract (raygrid best, raygrid analyze) on a synthetic sweep folder uploaded to S3."""
    import pandas as pd

    from analysis.synthetic import confirm_rows, trial_rows, write_sweep_dir
    from raygrid.storage import Location
    from raygrid.testing.s3server import local_s3
    from raygrid.testing.sweepdir import check_best_and_analyze, run_cli

    rows = confirm_rows(languages=("ar", "de", "en", "zh"), seeds=3, n_attacked=200, rng=0)
    local = write_sweep_dir(tmp_path / "sweep", pd.concat([rows, trial_rows()]))
    with local_s3(BUCKET) as s3_env:
        for name, value in s3_env.items():
            monkeypatch.setenv(name, value)
        uri = f"s3://{BUCKET}/synthetic"
        Location.of(uri).upload(local)
        remote = check_best_and_analyze(uri, target="xnli", out_dir=tmp_path / "report")  # type: ignore[arg-type]
        assert run_cli(["analyze", uri]).returncode == 2  # --out is required: the report is written locally
    here = check_best_and_analyze(local, target="xnli", out_dir=tmp_path / "report-local")
    assert remote["best"] == here["best"] and remote["oracle"] == here["oracle"]
