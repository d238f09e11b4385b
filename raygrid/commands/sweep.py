"""``raygrid run``, ``raygrid resume`` and ``raygrid status``: the sweep."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from raygrid.commands._args import add_trust_remote_code
from raygrid.errors import ConfigError

DEMO_SPEC = "search_spaces/demo.yaml"


def default_spec() -> Path:
    """``search_spaces/demo.yaml``: in the working directory, else in the
    source tree raygrid was installed from."""
    here = Path(DEMO_SPEC)
    if here.is_file():
        return here
    repo = Path(__file__).resolve().parents[2] / DEMO_SPEC
    if repo.is_file():
        return repo
    raise ConfigError(f"no SPEC given and {DEMO_SPEC} not found; give a spec file, e.g. raygrid run {DEMO_SPEC}")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a sweep (Ray Tune + Optuna over the transfer grid)",
        description="Run a sweep: one Ray Tune experiment, one Optuna study per cell, every trial a Ray Train run, "
        "then the confirm stage per seed with zero-shot evaluation per language. Resumes the sweep if its folder "
        "exists with the same spec.",
    )
    p.add_argument("spec", nargs="?", metavar="SPEC", help=f"sweep spec (default: {DEMO_SPEC})")
    p.add_argument(
        "--storage",
        help="override the spec's storage: a local or shared directory, or s3://bucket/prefix (endpoint and "
        "credentials from the AWS environment: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)",
    )
    p.add_argument("--address", help="join this Ray cluster (default: start Ray locally)")
    p.add_argument("--name", help="override the spec's name (the sweep folder is <storage>/<name>)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_verbose(p)
    _add_segment_trials(p)
    add_trust_remote_code(p)
    _add_force_unlock(p)
    p.set_defaults(func=run)

    p = sub.add_parser(
        "resume",
        help="resume an interrupted sweep",
        description="Resume a sweep from its folder: finished trials are not run again, finished results are kept, "
        "the Optuna studies continue. The folder's spec must be unchanged.",
    )
    p.add_argument("sweep_dir", metavar="DIR", help="the sweep folder: a local path or s3://bucket/prefix/NAME")
    p.add_argument("--address", help="join this Ray cluster (default: start Ray locally)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_verbose(p)
    _add_segment_trials(p)
    add_trust_remote_code(p)
    _add_force_unlock(p)
    p.set_defaults(func=resume)

    p = sub.add_parser(
        "status",
        help="progress of a sweep, from its folder (no cluster needed)",
        description="Cells done / running / pending, trials, failures and the best value per cell so far. While "
        "the sweep runs on a cluster it joined with --address: that cluster's nodes per node type (running, "
        "launching, pending, failed launches) and the units waiting for capacity, from its autoscaler.",
    )
    p.add_argument("sweep_dir", metavar="DIR", help="the sweep folder: a local path or s3://bucket/prefix/NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show what Ray, Tune and Train print (cluster start, Tune's tables, warnings) on the terminal; by "
        "default it goes to the sweep's log, <sweep>/logs/ray.log, and the terminal shows raygrid's progress",
    )


def _add_segment_trials(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--segment-trials",
        type=_segment_trials,
        metavar="N",
        help="run the Tune experiment in driver processes of N trials each, a fresh one per segment, so the driver's "
        "memory does not grow with the sweep (default: max(200, 50 x the trials that run at once); 0: one process)",
    )


def _add_force_unlock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force-unlock",
        action="store_true",
        help="break the sweep's writer lease (<sweep>/writer.lease) and take it, whoever holds it. RISK: if that "
        "writer still runs, two writers corrupt the Optuna journal and the Tune state (on S3 one's trials are lost). "
        "Use it only when the holder named by the error is gone for good",
    )


def _segment_trials(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number of trials >= 1, or 0 (one process)")
    return value


_SEEDED = re.compile(r"^(?P<cell>.+) \(seed (?P<seed>-?\d+)\)$")


def _seed_list(seeds: list[int]) -> str:
    """``[0, 1, 2, 4]`` -> ``seeds 0-2, 4``; one seed -> ``seed 3``."""
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return "seeds " + ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _seeds_grouped(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The status table's rows: the confirm runs of one target cell that
    share a status on one row (``none -> xnli (seeds 0-4)  done``), in the
    order their first run comes; every other cell as it is (``--json``
    keeps one entry per run)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    seeds: dict[tuple[str, str], list[int]] = {}
    rows: list[dict[str, Any]] = []
    for cell in cells:
        match = _SEEDED.match(str(cell["name"])) if cell["stage"] == "confirm" else None
        if match is None:
            rows.append(cell)
            continue
        key = (match["cell"], str(cell["status"]))
        if key not in groups:
            groups[key] = {**cell, "name": match["cell"]}
            seeds[key] = []
            rows.append(groups[key])
        seeds[key].append(int(match["seed"]))
    for key, row in groups.items():
        row["name"] = f"{row['name']} ({_seed_list(sorted(seeds[key]))})"
    return rows


def _print_progress(progress: dict[str, Any], stream: Any = None) -> None:
    out = stream or sys.stdout
    print(
        f"cells: {progress['done']} done, {progress['running']} running, {progress['pending']} pending, "
        f"{progress['blocked']} blocked (of {progress['total']}); trials finished: {progress['trials_finished']}, "
        f"failed: {progress['failures']}",
        file=out,
    )
    header = ("stage", "cell", "status", "trials", "best")
    rows = []
    for cell in _seeds_grouped(progress["cells"]):
        trials = ""
        if cell["n_trials"]:
            trials = f"{cell.get('complete', 0)}+{cell.get('pruned', 0)}p+{cell.get('failed', 0)}f/{cell['n_trials']}"
        best = "" if cell.get("best_value") is None else f"{cell['best_value']:.4f}"
        rows.append((cell["stage"], cell["name"], cell["status"], trials, best))
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=out)


def run(args: argparse.Namespace) -> int:
    from raygrid.spec import load_spec
    from raygrid.sweep.driver import run_sweep

    spec = load_spec(args.spec or default_spec())
    changes = {k: v for k, v in (("storage", args.storage), ("name", args.name)) if v}
    if changes:
        spec = spec.replace(**changes)
    outcome = run_sweep(spec, address=args.address, quiet=args.quiet, segment_trials=args.segment_trials,
                        trust_remote_code=args.trust_remote_code, force_unlock=args.force_unlock,
                        verbose=args.verbose)  # fmt: skip
    _print_progress(outcome.progress)
    print(f"sweep: {outcome.sweep_dir}  ({outcome.seconds:.0f}s)")
    return 0


def resume(args: argparse.Namespace) -> int:
    from raygrid.sweep.driver import resume_sweep

    outcome = resume_sweep(
        args.sweep_dir, address=args.address, quiet=args.quiet, segment_trials=args.segment_trials,
        trust_remote_code=args.trust_remote_code,
        force_unlock=args.force_unlock, verbose=args.verbose,
    )  # fmt: skip
    _print_progress(outcome.progress)
    print(f"sweep: {outcome.sweep_dir}  ({outcome.seconds:.0f}s)")
    return 0


def status(args: argparse.Namespace) -> int:
    from raygrid.sweep.driver import sweep_status

    progress = sweep_status(args.sweep_dir, cluster=True)
    if args.json:
        print(json.dumps(progress, indent=2))
    else:
        _print_progress(progress)
        if progress.get("unit_paths"):
            ran = ", ".join(f"{n} {path}" for path, n in progress["unit_paths"].items())
            print(f"units finished by path: {ran} (local: in the trial's process; trainer: Train worker actors)")
        if progress.get("writer"):
            print(f"writer: {progress['writer']['description']}")
        if progress.get("capacity"):
            from raygrid.sweep.capacity import Capacity, describe

            print("\n".join(describe(Capacity.from_json(progress["capacity"]))))
    return 0
