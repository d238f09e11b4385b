"""The `raygrid` command: start-up cost, catalogue output, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from raygrid.cli import main

HEAVY = ("torch", "ray", "transformers", "datasets", "pyarrow", "optuna")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from raygrid.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['tasks'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_tasks_json_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)
    names = {t["name"] for t in tasks}
    assert {"mnli", "anli", "qqp", "sst2", "squad", "squad_v2", "hellaswag", "commonsenseqa", "cosmosqa", "ccg"} <= names
    assert {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba"} <= names
    for task in tasks:
        assert set(task) >= {"name", "role", "format", "metric", "languages", "hub_id", "hub_configs"}
    xnli = next(t for t in tasks if t["name"] == "xnli")
    assert xnli["hub_id"] == "facebook/xnli" and "sw" in xnli["languages"]


def test_tasks_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--role", "target"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["name", "role", "format", "metric"] and len(lines) == 10


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("raygrid: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tiny_model_dir: Path, tmp_path: Path
) -> None:
    base = ["cell", "--model", str(tiny_model_dir), "--data", "bundled", "--output", str(tmp_path / "out")]
    msg = _error(capsys, [*base, "--intermediate", "none", "--target", "xnlii"])
    assert "xnlii" in msg and "xnli" in msg
    msg = _error(capsys, [*base, "--intermediate", "none", "--target", "xnli", "--languages", "de,tlh"])
    assert "tlh" in msg and "sw" in msg
    msg = _error(capsys, [*base, "--intermediate", "xnli", "--target", "pawsx"])
    assert "xnli" in msg and "mnli" in msg
    msg = _error(capsys, [*base, "--intermediate", "mnli", "--target", "mnli"])
    assert "mnli" in msg
    missing = str(tmp_path / "no-such-model")
    msg = _error(
        capsys, ["cell", "--model", missing, "--intermediate", "none", "--target", "xnli", "--output", str(tmp_path / "o")]
    )
    assert missing in msg
    msg = _error(capsys, [*base, "--intermediate", "none", "--target", "xnli", "--data-dir", str(tmp_path / "nope")])
    assert "nope" in msg
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()  # nothing half-written


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["cell", "--model", "x", "--intermediate", "none", "--target", "xnli", "--max-train-examples", "0"])
    assert exc.value.code == 2


def test_tiny_model_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny"
    assert main(["tiny-model", str(out)]) == 0
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    _error(capsys, ["tiny-model", str(out)])  # refuses to overwrite


def test_bad_data_fails_before_any_training(
    capsys: pytest.CaptureFixture[str], tiny_model_dir: Path, tmp_path: Path
) -> None:
    # a local override of XNLI's German test split with a malformed line:
    # the cell must stop before training MNLI, with the file and line named
    data = tmp_path / "data" / "xnli"
    data.mkdir(parents=True)
    (data / "test.de.jsonl").write_text('{"premise": "a", "hypothesis": "b", "label": 0}\n{"premise": \n')
    out = tmp_path / "out"
    argv = ["cell", "--model", str(tiny_model_dir), "--intermediate", "mnli", "--target", "xnli", "--data", "bundled",
            "--data-dir", str(tmp_path / "data"), "--languages", "de", "--output", str(out)]  # fmt: skip
    msg = _error(capsys, argv)
    assert "test.de.jsonl" in msg and ":2" in msg
    assert not out.exists()
