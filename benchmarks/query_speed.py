"""Speed and memory of ``raygrid best`` and ``raygrid analyze`` on a 1,000,000-row store.

Usage:
    .venv/bin/python benchmarks/query_speed.py [--dir /tmp/raygrid-bench] [--keep]

Builds a synthetic sweep directory through :func:`raygrid.store.write_run`
(one file per run x target x language, exactly the sweep's layout): 7 XTREME
targets in all their catalogue languages, 11 intermediates (none, 9, all),
20 seeds, 6 attacks, 6 attack metrics + clean metrics + English dev rows per
run. Then times each command in a fresh process and reads its peak RSS from
``resource.getrusage(RUSAGE_CHILDREN)`` of a wrapper process. Targets: best
< 2 s and < 500 MiB; analyze < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

TARGETS = {"xnli": ("accuracy",), "pawsx": ("accuracy",), "xquad": ("f1", "exact_match"), "mlqa": ("f1", "exact_match"),
           "tydiqa": ("f1", "exact_match"), "panx": ("f1",), "udpos": ("accuracy",)}  # fmt: skip
INTERMEDIATES = ("none", "mnli", "anli", "qqp", "sst2", "squad", "squad_v2", "hellaswag", "commonsenseqa", "cosmosqa", "all")
ATTACKS = ("polygloss", "bumblebee", "typo", "homoglyph", "diacritics", "mlm_substitution")

_MEASURE = """
import resource, subprocess, sys, time, json
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "wall_s": wall, "cpu_s": use.ru_utime + use.ru_stime, "peak_rss_mib": use.ru_maxrss / 1024, "err": proc.stderr[-500:]}))
"""


def build(root: Path) -> int:
    import pandas as pd

    from analysis.synthetic import Planted, confirm_rows, write_sweep_dir
    from raygrid.tasks import get_task

    frames = []
    for k, (target, metrics) in enumerate(TARGETS.items()):
        languages = get_task(target).languages
        planted = [Planted("hellaswag", tuple(lang for lang in ("ar", "ur", "fa") if lang in languages), robust_gain=0.03)]
        frames.append(confirm_rows(target=target, languages=languages, intermediates=INTERMEDIATES, attacks=ATTACKS,
                                   seeds=20, planted=planted, clean_metrics=metrics, rng=k))  # fmt: skip
    rows = pd.concat(frames, ignore_index=True)
    write_sweep_dir(root, rows)
    return len(rows)


def measure(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/raygrid-bench"))
    parser.add_argument("--keep", action="store_true", help="reuse an existing store in --dir")
    args = parser.parse_args()
    raygrid = [sys.executable, "-m", "raygrid.cli"]
    if not (args.keep and (args.dir / "results").is_dir()):
        shutil.rmtree(args.dir, ignore_errors=True)
        t = time.perf_counter()
        n = build(args.dir)
        print(f"store: {n:,} rows written in {time.perf_counter() - t:.1f} s")
    files = sum(1 for _ in (args.dir / "results").glob("target=*/language=*/*.parquet"))
    print(f"row files: {files:,}")
    shutil.rmtree(args.dir / "results" / "_index", ignore_errors=True)
    report = {}
    # A query never writes to the sweep it reads: without the index (a sweep
    # still running) it reads the row files; the writer builds the index at
    # the end of the sweep (raygrid.store.refresh_index), timed here too.
    r = measure([*raygrid, "best", str(args.dir), "--target", "panx", "--json"])
    print(f"{'best, no index (sweep still running)':42s} rc={r['rc']} wall={r['wall_s']:.2f} s cpu={r['cpu_s']:.2f} s "
          f"peak RSS={r['peak_rss_mib']:.0f} MiB")
    t = time.perf_counter()
    from raygrid.store import refresh_index

    refresh_index(args.dir / "results")
    print(f"{'refresh_index (the writer, end of sweep)':42s} wall={time.perf_counter() - t:.2f} s")
    for label, argv in (
        ("best, index present", [*raygrid, "best", str(args.dir), "--target", "panx", "--json"]),
        ("best --attack --selection oracle, warm", [*raygrid, "best", str(args.dir), "--target", "xnli", "--attack", "typo", "--selection", "oracle"]),
        ("analyze (all targets)", [*raygrid, "analyze", str(args.dir), "--out", str(args.dir.with_name(args.dir.name + "-report"))]),
    ):  # fmt: skip
        r = measure(argv)
        report[label] = r
        print(f"{label:42s} rc={r['rc']} wall={r['wall_s']:.2f} s cpu={r['cpu_s']:.2f} s "
              f"peak RSS={r['peak_rss_mib']:.0f} MiB {r['err'] if r['rc'] else ''}")
    print("load average:", " ".join(f"{x:.1f}" for x in os.getloadavg()), f"on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
