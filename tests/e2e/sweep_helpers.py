"""Helpers of the end-to-end sweep tests: a workspace, the CLI in a
subprocess, Ray processes left behind by a killed driver."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def workspace(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A working directory with the tiny model, and the machinery spec as the
    embedded default (search_spaces/demo.yaml)."""
    root = tmp_path / "ws"
    (root / ".cache").mkdir(parents=True)
    shutil.copytree(tiny_model_dir, root / ".cache" / "tiny-xlmr")
    shutil.copytree(REPO / "search_spaces", root / "search_spaces")
    shutil.copyfile(REPO / "tests" / "e2e" / "machinery.yaml", root / "search_spaces" / "demo.yaml")
    return root


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
        RAY_DEDUP_LOGS="0",
    )
    return out


def raygrid(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raygrid.cli", *args], cwd=cwd, env=env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def start(*args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "raygrid.cli", *args], cwd=cwd, env=env(), stdout=handle, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def ray_session_pids(since: float, owner: int | None = None) -> list[int]:
    """Ray processes of the sessions started after ``since`` (by process
    ``owner`` only, when given: Ray ends a session folder's name with the pid
    of the process that started it).

    A session's start is read from its folder's name (Ray names it with the
    local start time), not the folder's mtime: an older session that is still
    running (another sweep on the machine) keeps touching its folder and
    must not be killed; nor must a session another test, or another person,
    started meanwhile (give ``owner``)."""
    names = {
        os.path.basename(p)
        for p in glob.glob("/tmp/ray/session_2*")
        if _session_start(p) >= since - 1 and (owner is None or p.endswith(f"_{owner}"))
    }
    pids = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = Path(cmdline).read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(name in text for name in names):
            pids.append(int(cmdline.split("/")[2]))
    return pids


def _session_start(folder: str) -> float:
    """``session_2026-11-26_00-51-16_698726_1696`` -> its start, epoch seconds."""
    import datetime

    parts = os.path.basename(folder).split("_")
    try:
        start = datetime.datetime.strptime(f"{parts[1]}_{parts[2]}", "%Y-%m-%d_%H-%M-%S")
    except (IndexError, ValueError):
        return os.path.getmtime(folder)
    return start.timestamp() + int(parts[3]) / 1e6 if parts[3].isdigit() else start.timestamp()


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def records(sweep: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((sweep / "trials").glob("*.json"))}


def finished_trials(sweep: Path) -> set[tuple[str, str]]:
    """(cell, params) of every finished Optuna trial, orphans excluded."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(sweep / "optuna.journal")))
    out = set()
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for trial in study.get_trials(deepcopy=False):
            if trial.state.is_finished() and not trial.user_attrs.get("raygrid_orphaned"):
                out.add((summary.study_name, json.dumps(trial.params, sort_keys=True) + trial.state.name))
    return out


def result_rows(sweep: Path) -> set[tuple[Any, ...]]:
    from raygrid.store import read_rows

    return {
        (r["run_key"], r["task"], r["language"], r["split"], r["attack"], r["metric"], round(r["value"], 6))
        for r in read_rows(sweep / "results")
    }
