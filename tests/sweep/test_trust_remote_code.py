"""``--trust-remote-code``: only the command line turns it on, and it reaches
the code that loads models (a sweep's workers, ``raygrid cell``) without
passing through the sweep folder. The spec's refusal is in tests/spec."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from raygrid.cli import main as cli_main
from raygrid.errors import ConfigError
from raygrid.storage import Location
from raygrid.sweep import segments
from raygrid.sweep.driver import SPEC_FILE, SWEEP_FILE, _spec_yaml, started_spec
from raygrid.sweep.plan import Planner, Unit
from raygrid.sweep.ray_backend import CellSearcher, _unit_context
from raygrid.sweep.work import UnitContext, run_unit
from raygrid.train.loop import Placement

from test_plan import _spec


def _sweep_folder(tmp_path: Path, *, trust_in_folder: bool = False) -> Path:
    """A sweep folder as ``raygrid run`` writes it; ``trust_in_folder``: someone
    edited its sweep.json to turn remote code on."""
    spec = _spec(tmp_path)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / SPEC_FILE).write_text(_spec_yaml(spec))
    data = spec.normalised()
    data["model"]["trust_remote_code"] = trust_in_folder
    (sweep / SWEEP_FILE).write_text(json.dumps({"fingerprint": spec.fingerprint(), "spec": data}))
    return sweep


def test_a_sweep_folder_that_turns_remote_code_on_is_refused(tmp_path: Path) -> None:
    sweep = _sweep_folder(tmp_path, trust_in_folder=True)
    with pytest.raises(ConfigError) as info:
        started_spec(Location.of(sweep))
    assert str(info.value).startswith(f"{sweep / SWEEP_FILE}: model.trust_remote_code: ")
    assert "--trust-remote-code on the command line" in str(info.value)


@pytest.mark.parametrize("flag", [True, False])
def test_the_flag_reaches_the_workers_in_the_trial_config_only(tmp_path: Path, flag: bool) -> None:
    sweep = _sweep_folder(tmp_path)
    searcher = CellSearcher(started_spec(Location.of(sweep)), sweep, trust_remote_code=flag)
    config = searcher.suggest("t0")
    assert isinstance(config, dict) and config["trust_remote_code"] is flag
    ctx = _unit_context(json.loads(json.dumps(config)), "trainer")  # what a Train worker gets (the spec from the folder)
    assert ctx.trust_remote_code is flag and ctx.unit == searcher.live["t0"]
    assert "trust" not in (sweep / "optuna.journal").read_text()  # nothing of it is written into the folder


class _Loaded(Exception):
    pass


def test_a_unit_loads_its_tokenizer_and_model_with_the_contexts_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import raygrid.cell
    import raygrid.models

    asked: list[tuple[str, bool]] = []

    def tokenizer(source: Any, *, trust_remote_code: bool = False) -> Any:
        asked.append(("tokenizer", trust_remote_code))
        return SimpleNamespace()

    def model(source: Any, tasks: Any, *, seed: int, trust_remote_code: bool = False) -> Any:
        asked.append(("model", trust_remote_code))
        raise _Loaded

    monkeypatch.setattr(raygrid.models, "load_tokenizer", tokenizer)
    monkeypatch.setattr(raygrid.cell, "phase_data", lambda *args, **kwargs: None)
    monkeypatch.setattr(raygrid.cell, "phase_model", model)
    spec = _spec(tmp_path)
    planner = Planner(spec, tmp_path / "sweep")
    unit = planner.next_unit()
    assert isinstance(unit, Unit)
    for flag in (True, False):
        ctx = UnitContext(spec, tmp_path / "sweep", unit, planner.grid.by_key[unit.cell_key], trust_remote_code=flag)
        with pytest.raises(_Loaded):
            run_unit(ctx, Placement())
    assert asked == [("tokenizer", True), ("model", True), ("tokenizer", False), ("model", False)]


@pytest.mark.parametrize("flag", [True, False])
def test_the_segment_process_gets_the_flag_on_its_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: bool
) -> None:
    commands: list[list[str]] = []

    class Child:
        def __init__(self, command: list[str]) -> None:
            commands.append(command)

        def wait(self, timeout: float | None = None) -> int:
            return 1

    monkeypatch.setattr(segments.subprocess, "Popen", Child)
    with pytest.raises(segments.SweepProcessError):
        segments._run_child(Location.of(tmp_path), address="127.0.0.1:1", quiet=True, segment_trials=None,
                            trial_function=None, started=0.0, trust_remote_code=flag)  # fmt: skip
    assert ("--trust-remote-code" in commands[0]) is flag
    parsed: dict[str, Any] = {}
    monkeypatch.setattr(segments, "_die_with", lambda parent: None)
    monkeypatch.setattr(segments, "run_segment", lambda sweep_dir, **kwargs: parsed.update(kwargs) or _report())
    child_argv = commands[0][3:]  # after `python -m raygrid.sweep.segments`: the child's own parser
    child_argv[child_argv.index("--report") + 1] = str(tmp_path / "report.json")  # its scratch folder is gone
    assert segments.main(child_argv) == 0
    assert parsed["trust_remote_code"] is flag


def _report() -> segments.SegmentReport:
    return segments.SegmentReport(finished=True, drained=False, issued=0, tune_errors=0)


@pytest.mark.parametrize(
    ("argv", "target", "call"),
    [
        (["run", "{spec}"], "raygrid.sweep.driver.run_sweep", "run"),
        (["resume", "{sweep}"], "raygrid.sweep.driver.resume_sweep", "resume"),
        (["cell", "--model", "m", "--intermediate", "none", "--target", "xnli"], "raygrid.cell.run_cell", "cell"),
    ],
    ids=["run", "resume", "cell"],
)
@pytest.mark.parametrize("flag", [True, False])
def test_run_resume_and_cell_take_the_flag(
    argv: list[str], target: str, call: str, flag: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    got: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def record(*args: Any, **kwargs: Any) -> Any:
        got.update(kwargs)
        raise Stop

    module, _, name = target.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), name, record)
    spec = tmp_path / "s.yaml"
    spec.write_text(json.dumps({"name": "s", "model": {"name_or_path": "m"}, "intermediates": ["none"],
                                "targets": [{"task": "xnli"}]}))  # fmt: skip
    line = [a.format(spec=spec, sweep=tmp_path / "sweep") for a in argv] + (["--trust-remote-code"] if flag else [])
    with pytest.raises(Stop):
        cli_main(line)
    assert got["trust_remote_code"] is flag

