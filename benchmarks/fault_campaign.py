"""Fault campaign: a small sweep killed at seeded random points, resumed,
and compared with one uninterrupted sweep of the same spec.

Each point is drawn from ``--seed``: a kill of the whole ``raygrid`` command
at the n-th sweep-wide hit of a fault point (:mod:`raygrid.faults`: a trial
record, a result row file or manifest, a journal append, a checkpoint
written or deleted, a segment change, a training step), or at a random time,
or a Train worker killed alone at its own 3rd step. The sweep
(:data:`raygrid.testing.faultrun.SPEC`: two trials at a time) is resumed
until it finishes; then its finished Optuna trials (unit keys, params,
values), trial records and result rows must equal the reference's. The
reference runs once, locally, with every point counted (``RAYGRID_FAULT=count``):
the hit numbers are drawn within what it reached.

Usage:
    python benchmarks/fault_campaign.py --points 20 --seed 1 --storage local
    python benchmarks/fault_campaign.py --points 6 --seed 1 --storage s3   # a moto S3 server on 127.0.0.1

Prints one line per point and a summary per kind of fault; exits 1 if any
point failed. ``--json FILE`` writes the table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from raygrid.faults import hits
from raygrid.testing.faultrun import SWEEP_NAME, Outcome, draw_faults, outcome, run_until_finished, spec_text

BUCKET = "faults"


def reference(root: Path, model: Path) -> tuple[Outcome, dict[str, int], float]:
    """The uninterrupted sweep (local): its outcome, the hits of every point,
    its seconds. One that finished in ``root`` before (``--out``) is reused."""
    done = root / "reference.json"
    if done.is_file():
        seconds = float(json.loads(done.read_text())["seconds"])
        return outcome(root / "reference" / SWEEP_NAME, root / "scratch"), hits(root / "reference-hits"), seconds
    spec = root / "reference.yaml"
    spec.write_text(spec_text(model, root / "reference"))
    runs = run_until_finished(spec, str(root / "reference" / SWEEP_NAME), cwd=root, logs=root / "reference.log",
                              faults="count", fault_dir=root / "reference-hits", max_runs=1)  # fmt: skip
    if not runs.finished:
        raise SystemExit(f"the reference sweep failed (exit {runs.exit_codes}); see {root / 'reference.log'}")
    done.write_text(json.dumps({"seconds": runs.seconds}))
    return outcome(root / "reference" / SWEEP_NAME, root / "scratch"), hits(root / "reference-hits"), runs.seconds


def draw_point(rng: random.Random, index: int, seed: int, counted: dict[str, int], reference_s: float) -> dict[str, Any]:
    """What point ``index`` does: kind 'point' (a sweep-wide kill at a fault
    point), 'time' (the group killed after a random delay) or 'worker' (a
    Train worker killed alone)."""
    kind = rng.choices(["point", "time", "worker"], weights=[7, 2, 1])[0]
    if kind == "time":
        return {"kind": kind, "faults": "", "kill_after_s": round(rng.uniform(10.0, 0.9 * reference_s), 1)}
    if kind == "worker":
        return {"kind": kind, "faults": "train.step:3:self", "kill_after_s": None}
    (fault,) = draw_faults(seed * 1000 + index, counted)
    return {"kind": kind, "faults": str(fault), "kill_after_s": None}


def run_point(
    root: Path, model: Path, index: int, point: dict[str, Any], storage: str, ref: Outcome, timeout_s: float
) -> dict[str, Any]:
    where = root / f"{storage}-p{index:02d}"
    where.mkdir()
    base = f"s3://{BUCKET}/p{index:02d}" if storage == "s3" else str(where / "runs")
    spec = where / "spec.yaml"
    spec.write_text(spec_text(model, base))
    sweep = f"{base}/{SWEEP_NAME}"
    runs = run_until_finished(spec, sweep, cwd=where, logs=where / "driver.log", faults=point["faults"],
                              fault_dir=where / "hits", kill_after_s=point["kill_after_s"], timeout_s=timeout_s)  # fmt: skip
    if runs.finished:
        diffs = outcome(sweep, where / "scratch").differences(ref)
    else:
        diffs = [f"did not finish{f' in {timeout_s:.0f} s' if runs.timed_out else ''} (exit codes {runs.exit_codes})"]
    return {
        "index": index,
        **point,
        "fired": runs.fired or (["timer"] if runs.timer_killed else []),
        "exit_codes": runs.exit_codes,
        "leftovers_killed": runs.leftovers_killed,
        "seconds": round(runs.seconds, 1),
        "differences": diffs,
        "ok": runs.finished and not diffs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--out", type=Path, help="working folder (default: a temporary one, removed); "
                        "a reference sweep finished there before is reused")
    parser.add_argument("--json", type=Path, help="write the table here")
    parser.add_argument("--timeout-s", type=float, default=3000.0, help="per point (a loaded 2-core machine is slow)")
    args = parser.parse_args(argv)

    from raygrid.testing.tiny import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="raygrid-faults-") as tmp:
        root = args.out or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        model = root / "tiny"
        if not (model / "config.json").is_file():
            build_tiny_model(model, seed=0)
        ref, counted, reference_s = reference(root, model)
        print(f"reference: {reference_s:.0f} s, {len(ref.trials)} trials, {len(ref.rows)} rows; hits {counted}",
              flush=True)  # fmt: skip
        rng = random.Random(args.seed)
        points = [draw_point(rng, i, args.seed, counted, reference_s) for i in range(args.points)]
        table = []
        with _storage(args.storage, root):
            for i, point in enumerate(points):
                row = run_point(root, model, i, point, args.storage, ref, args.timeout_s)
                table.append(row)
                print(line(row), flush=True)
    print(summary(table, args))
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "storage": args.storage, "reference_s": reference_s,
                                         "hits": counted, "points": table}, indent=2) + "\n")  # fmt: skip
    return 0 if all(r["ok"] for r in table) else 1


def line(row: dict[str, Any]) -> str:
    what = row["faults"] or f"after {row['kill_after_s']} s"
    verdict = "ok" if row["ok"] else "FAIL " + "; ".join(row["differences"])
    return (f"{row['index']:3d} {row['kind']:6s} {what:24s} fired={','.join(row['fired']) or '-':28s} "
            f"runs={row['exit_codes']} {row['seconds']:6.0f} s {verdict}")  # fmt: skip


KIND_NAMES = {"time": "random time", "worker": "train worker alone"}


def summary(table: list[dict[str, Any]], args: argparse.Namespace) -> str:
    by: dict[str, list[dict[str, Any]]] = {}
    for row in table:
        by.setdefault(row["faults"].split(":")[0] if row["kind"] == "point" else KIND_NAMES[row["kind"]], []).append(row)
    failures = sum(not r["ok"] for r in table)
    lines = [f"\nstorage {args.storage}, seed {args.seed}: {len(table)} points, {failures} failures",
             f"{'fault':22s} {'points':>6s} {'fired':>6s} {'failures':>8s}"]  # fmt: skip
    for name, rows in sorted(by.items()):
        fired, failed = sum(bool(r["fired"]) for r in rows), sum(not r["ok"] for r in rows)
        lines.append(f"{name:22s} {len(rows):6d} {fired:6d} {failed:8d}")
    return "\n".join(lines)


class _storage:
    """For ``s3``: a moto server on 127.0.0.1 whose AWS environment the sweeps inherit."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind, self.root, self.context = kind, root, None

    def __enter__(self) -> None:
        if self.kind != "s3":
            return
        from raygrid.testing.s3server import local_s3

        self.context = local_s3(BUCKET)
        os.environ.update(self.context.__enter__())
        os.environ["RAYGRID_CACHE_DIR"] = str(self.root / "node-cache")

    def __exit__(self, *exc: object) -> None:
        if self.context is not None:
            self.context.__exit__(*exc)


if __name__ == "__main__":
    started = time.time()
    code = main()
    print(f"campaign: {time.time() - started:.0f} s", file=sys.stderr)
    sys.exit(code)
