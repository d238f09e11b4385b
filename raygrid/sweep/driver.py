"""Starting, resuming and inspecting a sweep (Ray is imported only to run one).

The sweep folder ``<storage>/<name>/`` (a local or shared folder, or
``s3://bucket/prefix/<name>``: see :mod:`raygrid.storage`)::

    spec.yaml         the spec as the sweep runs it (local paths made absolute)
    writer.lease      who writes the sweep now (raygrid.sweep.lease: one writer at a time)
    sweep.json        its fingerprint, the raygrid version, when it started
    optuna.journal    one Optuna study per cell (the source of truth for trials)
    trials/           one record per finished unit
    checkpoints/      safetensors checkpoints, one folder per unit key
    retention/        per done cell, which checkpoints checkpoints.keep: best deleted
    results/          the results store (Parquet; see docs/results.md)
    tune/ train/      Ray Tune's experiment state; Ray Train's runs
    tensorboard/      English-dev curves per cell and unit
    logs/ray.log      what Ray, Tune and Train print during a run (raygrid.sweep.quiet; --verbose: the terminal)

Nothing is created before the spec, the storage and the cluster's resources
have been checked.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid.errors import ConfigError
from raygrid.layout import RESULTS_DIR, SPEC_FILE, SWEEP_FILE, TUNE_DIR
from raygrid.spec import LEGACY_DEFAULTS, SweepSpec, check_storage
from raygrid.storage import Location, storage_problem
from raygrid.sweep.folder import read_spec_file, started_spec
from raygrid.version import __version__

if TYPE_CHECKING:
    from raygrid.sweep.quiet import RayOutput


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


def check_local_model(spec: SweepSpec) -> None:
    """A model path that cannot be a hub id (``./x``, ``/x``, ``~/x``,
    ``a/b/c``) must exist before anything starts, or every trial would fail
    on a "not found on the hub" error much later."""
    name = spec.model.name_or_path
    path = Path(name).expanduser()
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1
    if not looks_local or path.exists() or "://" in name:
        return
    hint = ""
    if Path(name).parts[:2] == (".cache", "world"):
        hint = " (the demo's world: run `raygrid world build .cache/world` or `make demo` first)"
    raise ConfigError(
        f"{spec.source}: model.name_or_path: no such directory {name!r}{hint}; "
        "allowed: an existing local model directory or a hub id (org/name)"
    )


def sweep_dir_of(spec: SweepSpec) -> Location:
    return Location.of(spec.sweep_uri)


def check_remote_storage(spec: SweepSpec) -> None:
    """An ``s3://`` storage must be reachable: credentials, endpoint, bucket
    (checked without writing anything)."""
    problem = storage_problem(spec.storage)
    if problem:
        raise ConfigError(
            f"{spec.source}: storage: {spec.storage!r}: {problem}; allowed: a writable local directory or an "
            "existing s3://bucket/prefix reachable with the AWS environment's endpoint and credentials"
        )


def _check_reachable(sweep_dir: Location) -> None:
    problem = storage_problem(sweep_dir.uri)
    if problem:
        raise ConfigError(f"{sweep_dir}: {problem}")


def _spec_yaml(spec: SweepSpec) -> str:
    import yaml

    header = f"# written by raygrid {__version__}: the spec this sweep runs (do not edit; see sweep.json)\n"
    return header + yaml.safe_dump(spec.normalised(), sort_keys=False, allow_unicode=True)


def _check_same(started: SweepSpec, spec: SweepSpec, sweep_dir: Location) -> None:
    if started.fingerprint() != spec.fingerprint():
        changed = "; ".join(started.diff(spec)) or "(fields that decide the results)"
        hint = "".join(
            f" ({part}.{name} has a new default since this sweep started; to go on with it, spell "
            f"`{name}: {json.dumps(legacy)}` under `{part}:` or use `raygrid resume`)"
            for (part, name), legacy in LEGACY_DEFAULTS
            if getattr(getattr(started, part), name) == legacy != getattr(getattr(spec, part), name)
        )
        raise ConfigError(
            f"{sweep_dir}: the sweep was started with another spec; changed: {changed}{hint}; "
            "resume it unchanged, or give the new spec another --name"
        )


@dataclass(frozen=True)
class SweepOutcome:
    sweep_dir: Path | Location  # a Path for a local sweep
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
    segment_trials: int | None = None,
    in_process: bool = False,
    trust_remote_code: bool = False,
    force_unlock: bool = False,
    verbose: bool = False,
) -> SweepOutcome:
    """Runs a sweep to the end (or resumes it, if its folder exists with the
    same spec). A folder started with a different spec is refused with what
    changed.

    The Tune experiment runs in child processes of ``segment_trials`` units
    each (:mod:`raygrid.sweep.segments`; ``None``: the default for the
    cluster, 0: one segment). ``in_process`` runs it here instead, in one
    segment (benchmarks that trace this process's heap).
    ``trust_remote_code`` (``--trust-remote-code``) reaches the workers in
    each trial's config, not through the sweep folder.

    The run holds the sweep folder's lease (:mod:`raygrid.sweep.lease`): a
    sweep that another writer holds is refused with who holds it, unless
    ``force_unlock`` (only when that writer is gone for good).

    What Ray, Tune and Train print goes to the sweep's log file
    (:mod:`raygrid.sweep.quiet`: ``<sweep>/logs/ray.log``), opened once
    the lease is held; raygrid's progress line stays on the terminal
    (``quiet``: not even that). ``verbose`` redirects nothing.
    """
    check_local_model(spec)
    spec = resolve_paths(spec)
    sweep_dir = sweep_dir_of(spec)
    if sweep_dir.remote:
        check_remote_storage(spec)
    existing = (sweep_dir / SWEEP_FILE).is_file()
    if existing:
        _check_same(started_spec(sweep_dir), spec, sweep_dir)
    elif resume:
        raise ConfigError(f"{sweep_dir}: not a sweep folder (no {SWEEP_FILE}); start it with `raygrid run`")
    else:
        check_storage(spec)
    from raygrid.sweep import quiet as ray_output

    with contextlib.nullcontext() if verbose else ray_output.RayOutput() as output:
        return _run(spec, sweep_dir, existing, output, address=address, quiet=quiet, trial_function=trial_function,
                    segment_trials=segment_trials, in_process=in_process, trust_remote_code=trust_remote_code,
                    force_unlock=force_unlock)  # fmt: skip


def _run(
    spec: SweepSpec,
    sweep_dir: Location,
    existing: bool,
    output: RayOutput | None,
    *,
    address: str | None,
    quiet: bool,
    trial_function: Any,
    segment_trials: int | None,
    in_process: bool,
    trust_remote_code: bool,
    force_unlock: bool,
) -> SweepOutcome:
    """:func:`run_sweep` once its checks that need no cluster have passed;
    ``output``: the :class:`~raygrid.sweep.quiet.RayOutput` that takes
    Ray's output (``None``: ``--verbose``)."""
    from raygrid.sweep import cluster, lease
    from raygrid.sweep import quiet as ray_output

    started = time.perf_counter()
    writer: lease.Lease | None = None
    try:
        cluster.start(address, spec)  # checks the cluster before anything is written
        sweep_dir.mkdir()
        # one writer per sweep, until the end of the run
        # the lease names the cluster joined with --address: `raygrid status` asks its autoscaler
        writer = lease.acquire(sweep_dir, force=force_unlock, log=ray_output.say,
                               ray_address=cluster.cluster_address() if address else None)  # fmt: skip
        if output is not None:  # the log is the writer's: opened once the lease is held
            log = output.to_file(ray_output.log_path(sweep_dir))
            if not quiet:
                ray_output.say(f"Ray's output goes to {log} (--verbose: to the terminal)")
        if not existing and (sweep_dir / SWEEP_FILE).is_file():  # another writer started it meanwhile
            _check_same(started_spec(sweep_dir), spec, sweep_dir)
            existing = True
        if not existing:
            (sweep_dir / SPEC_FILE).write_text(_spec_yaml(spec))
            meta = {
                "fingerprint": spec.fingerprint(),
                "raygrid_version": __version__,
                "started_at": time.time(),
                "spec": spec.normalised(),
            }
            (sweep_dir / SWEEP_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        from raygrid.sweep import segments

        if in_process:
            tune_errors = segments.run_segment(
                sweep_dir, address=address, segment_trials=0, quiet=quiet, trial_function=trial_function, started=None,
                trust_remote_code=trust_remote_code,
            ).tune_errors
        else:
            tune_errors = segments.run_segments(
                sweep_dir, address=address or cluster.cluster_address(), quiet=quiet,
                segment_trials=segment_trials, trial_function=trial_function, trust_remote_code=trust_remote_code,
            )  # fmt: skip
        progress = sweep_status(sweep_dir)
        if (sweep_dir / RESULTS_DIR).is_dir():
            from raygrid.store import refresh_index

            refresh_index(sweep_dir / RESULTS_DIR)  # the first `raygrid best` is then as fast as the next
    except KeyboardInterrupt:
        if writer is not None:
            writer.raise_if_lost()  # stopped because another writer took the lease: say so in one line
        raise
    finally:
        try:
            cluster.shutdown()
        finally:
            if writer is not None:
                writer.release()
    where = sweep_dir if sweep_dir.remote else sweep_dir.local
    return SweepOutcome(where, progress, time.perf_counter() - started, tune_errors)


def _open_sweep_dir(sweep_dir: Location | Path | str) -> Location:
    where = Location.of(sweep_dir)
    if where.remote:
        _check_reachable(where)
    return where


def resume_sweep(
    sweep_dir: Location | Path | str,
    *,
    address: str | None = None,
    quiet: bool = False,
    segment_trials: int | None = None,
    trust_remote_code: bool = False,
    force_unlock: bool = False,
    verbose: bool = False,
) -> SweepOutcome:
    """Resumes a sweep from its folder (local or ``s3://``). ``spec.yaml``
    must still be the spec the sweep started with (an edited one is refused
    with what changed). ``trust_remote_code`` is not remembered by the
    folder: a sweep run with it is resumed with it again. ``verbose``: as
    :func:`run_sweep`'s."""
    sweep_dir = _open_sweep_dir(sweep_dir)
    started = started_spec(sweep_dir)
    current = read_spec_file(sweep_dir / SPEC_FILE)
    _check_same(started, current, sweep_dir)
    # The folder given is the one resumed, wherever the spec says it was
    # started (a sweep copied or moved elsewhere, an S3 sweep downloaded):
    # storage and name are runtime fields, outside the fingerprint and keys.
    started = started.model_copy(update={"storage": str(sweep_dir.parent), "name": sweep_dir.name})
    return run_sweep(started, address=address, resume=True, quiet=quiet, segment_trials=segment_trials,
                     trust_remote_code=trust_remote_code, force_unlock=force_unlock, verbose=verbose)  # fmt: skip


def sweep_status(sweep_dir: Location | Path | str, *, cluster: bool = False) -> dict[str, Any]:
    """Cells done / running / pending, trials, failures and the best value
    per cell, from the sweep folder alone (no Ray, no cluster).

    ``cluster``: also, while a writer that joined a cluster with
    ``--address`` runs, what that cluster's autoscaler is doing (key
    ``capacity``: :mod:`raygrid.sweep.capacity`; absent otherwise)."""
    from raygrid.sweep.plan import JOURNAL, Planner, unit_paths

    sweep_dir = _open_sweep_dir(sweep_dir)
    spec = started_spec(sweep_dir)
    if not (sweep_dir / JOURNAL).is_file():
        raise ConfigError(f"{sweep_dir}: the sweep has not started any trial yet (no {JOURNAL})")
    # A read-only look: a private in-memory copy of the journal; nothing is
    # written to the folder and no RUNNING trial is failed (tests/sweep/test_readonly.py).
    progress = Planner(spec, sweep_dir, read_only=True).progress()
    writer, address = _writer_and_cluster(sweep_dir, cluster)
    out = {**progress, "unit_paths": unit_paths(sweep_dir), "writer": writer}
    if address is not None:
        from raygrid.sweep import capacity

        out["capacity"] = capacity.probe(address).to_json()
    return out


def _writer_and_cluster(sweep_dir: Location, cluster: bool) -> tuple[dict[str, Any] | None, str | None]:
    """Who holds the sweep's writer lease, and the cluster it joined (read
    only: a reader never takes or touches it)."""
    from raygrid.sweep.lease import writer_and_cluster

    return writer_and_cluster(sweep_dir, cluster=cluster)
