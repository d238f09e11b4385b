"""Results on s3:// (a local moto S3 server on 127.0.0.1): best and analyze
read a sweep folder from S3. A real sweep on S3 killed at a seeded point,
resumed from the S3 URI alone and compared with an uninterrupted one:
tests/e2e/test_faults_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("moto.server", reason="needs the dev extra (moto[server])")

pytestmark = pytest.mark.e2e

BUCKET = "sweeps"


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
