"""Starting, resuming and inspecting a sweep (Ray is imported only to run one).

The sweep folder ``<storage>/<name>/``::

    spec.yaml         the spec as the sweep runs it (local paths made absolute)
    sweep.json        its fingerprint, the raygrid version, when it started
    optuna.journal    one Optuna study per cell (the source of truth for trials)
    trials/           one record per finished unit
    checkpoints/      safetensors checkpoints, one folder per unit key
    results/          the results store (Parquet; see docs/results.md)
    tune/ train/      Ray Tune's experiment state; Ray Train's runs
    tensorboard/      English-dev curves per cell and unit

Nothing is created before the spec, the storage and the cluster's resources
have been checked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygrid import __version__
from raygrid.errors import ConfigError
from raygrid.fileio import atomic_write_text
from raygrid.spec import SweepSpec, check_storage, load_spec, parse_spec

SPEC_FILE = "spec.yaml"
SWEEP_FILE = "sweep.json"


def resolve_paths(spec: SweepSpec) -> SweepSpec:
    """Local paths (model directory, data folders, storage) made absolute:
    trials run in other working directories, on other processes and nodes."""
    changes: dict[str, Any] = {}
    model = Path(spec.model.name_or_path).expanduser()
    if model.exists() and not model.is_absolute():
        changes["model"] = {**spec.model.model_dump(mode="json"), "name_or_path": str(model.resolve())}
    if spec.data.local_dirs:
        dirs = [str(Path(d).expanduser().resolve()) for d in spec.data.local_dirs]
        if dirs != list(spec.data.local_dirs):
            changes["data"] = {**spec.data.model_dump(mode="json"), "local_dirs": dirs}
    if "://" not in spec.storage and not Path(spec.storage).is_absolute():
        changes["storage"] = str(Path(spec.storage).expanduser().resolve())
    return spec.replace(**changes) if changes else spec


def sweep_dir_of(spec: SweepSpec) -> Path:
    if "://" in spec.storage:
        raise ConfigError(
            f"{spec.source}: storage: {spec.storage!r}: object storage is not supported yet; "
            "allowed: a local or shared-filesystem directory"
        )
    return Path(spec.sweep_uri)


def _spec_yaml(spec: SweepSpec) -> str:
    import yaml

    header = f"# written by raygrid {__version__}: the spec this sweep runs (do not edit; see sweep.json)\n"
    return header + yaml.safe_dump(spec.normalised(), sort_keys=False, allow_unicode=True)


def _check_same(started: SweepSpec, spec: SweepSpec, sweep_dir: Path) -> None:
    if started.fingerprint() != spec.fingerprint():
        changed = "; ".join(started.diff(spec)) or "(fields that decide the results)"
        raise ConfigError(
            f"{sweep_dir}: the sweep was started with another spec; changed: {changed}; "
            "resume it unchanged, or give the new spec another --name"
        )


def _started_spec(sweep_dir: Path) -> SweepSpec:
    meta_path = sweep_dir / SWEEP_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        raise ConfigError(f"{sweep_dir}: not a sweep folder (no readable {SWEEP_FILE})") from None
    return parse_spec(meta["spec"], source=str(meta_path))


@dataclass(frozen=True)
class SweepOutcome:
    sweep_dir: Path
    progress: dict[str, Any]
    seconds: float
    tune_errors: int


def run_sweep(
    spec: SweepSpec,
    *,
    address: str | None = None,
    resume: bool = False,
    quiet: bool = False,
    trial_function: Any = None,
) -> SweepOutcome:
    """Runs a sweep to the end (or resumes it, if its folder exists with the
    same spec). A folder started with a different spec is refused with what
    changed."""
    spec = resolve_paths(spec)
    sweep_dir = sweep_dir_of(spec)
    existing = (sweep_dir / SWEEP_FILE).is_file()
    if existing:
        _check_same(_started_spec(sweep_dir), spec, sweep_dir)
    elif resume:
        raise ConfigError(f"{sweep_dir}: not a sweep folder (no {SWEEP_FILE}); start it with `raygrid run`")
    else:
        check_storage(spec)
    from raygrid.sweep import ray_backend

    started = time.perf_counter()
    try:
        ray_backend.start(address, spec)  # checks the cluster before anything is written
        if not existing:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(sweep_dir / SPEC_FILE, _spec_yaml(spec))
            meta = {
                "fingerprint": spec.fingerprint(),
                "raygrid_version": __version__,
                "started_at": time.time(),
                "spec": spec.normalised(),
            }
            atomic_write_text(sweep_dir / SWEEP_FILE, json.dumps(meta, indent=2) + "\n")
        results = ray_backend.run_tuner(
            spec, sweep_dir, address=address, restore=existing, quiet=quiet, trial_function=trial_function
        )
        searcher = ray_backend.current_searcher()
        progress = searcher.planner.progress() if searcher is not None else sweep_status(sweep_dir)
    finally:
        ray_backend.shutdown()
    if (sweep_dir / "results").is_dir():
        from raygrid.store import refresh_index

        refresh_index(sweep_dir / "results")  # the first `raygrid best` is then as fast as the next
    return SweepOutcome(sweep_dir, progress, time.perf_counter() - started, int(results.num_errors))


def resume_sweep(sweep_dir: Path | str, *, address: str | None = None, quiet: bool = False) -> SweepOutcome:
    """Resumes a sweep from its folder. ``spec.yaml`` must still be the spec
    the sweep started with (an edited one is refused with what changed)."""
    sweep_dir = Path(sweep_dir)
    started = _started_spec(sweep_dir)
    current = load_spec(sweep_dir / SPEC_FILE)
    _check_same(started, current, sweep_dir)
    return run_sweep(started, address=address, resume=True, quiet=quiet)


def sweep_status(sweep_dir: Path | str) -> dict[str, Any]:
    """Cells done / running / pending, trials, failures and the best value
    per cell, from the sweep folder alone (no Ray, no cluster)."""
    from raygrid.sweep.plan import Planner

    sweep_dir = Path(sweep_dir)
    spec = _started_spec(sweep_dir)
    if not (sweep_dir / "optuna.journal").is_file():
        raise ConfigError(f"{sweep_dir}: the sweep has not started any trial yet (no optuna.journal)")
    # A read-only look: the planner must not fail RUNNING trials of a live sweep.
    planner = Planner(spec, sweep_dir, live_trials=_all_running)
    return planner.progress()


class _AllRunning(dict):  # type: ignore[type-arg]
    """``live_trials`` that treats every RUNNING trial as alive."""

    def get(self, key: Any, default: Any = None) -> Any:
        return _Everything()


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(())


_all_running = _AllRunning()
