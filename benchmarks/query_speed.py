"""Speed and memory of ``raygrid best`` and ``raygrid analyze`` on a 1,000,000-row store,
with the per-example store of ``search_spaces/robustness.yaml`` beside it.

Usage:
    .venv/bin/python benchmarks/query_speed.py [--dir /tmp/raygrid-bench] [--keep] [--example-seeds N]
    .venv/bin/python benchmarks/query_speed.py --measure-bytes   # bytes per per-example row

Builds a synthetic sweep directory through :func:`raygrid.store.write_run`
(one file per run x target x language, exactly the sweep's layout): 7 XTREME
targets in all their catalogue languages, 11 intermediates (none, 9, all),
20 seeds, 6 attacks, 6 attack metrics + clean metrics + English dev rows per
run. Beside it, under ``results/_examples``, the per-example rows
(:mod:`raygrid.outcomes`) of robustness.yaml's confirm runs: its grid's
confirm cells (11 intermediates x XNLI, PAWS-X x 5 seeds), every language at
its test size, the clean pass and every attack the language supports, with
realistic outcomes (``--example-seeds``: only the first N seeds, a fraction;
read figures scale with the rows). Then times each command and each
per-example read in a fresh process and reads its peak RSS from
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from raygrid.estimate.examples import LanguagePlan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SPEC = ROOT / "search_spaces" / "robustness.yaml"
#: Per-example columns an analysis pairs on (runs, examples, outcomes).
ANALYSIS_COLUMNS = ("run_key", "language", "attack", "intermediate", "seed", "example_key", "clean_correct", "survived", "attacked_score")

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


def _hex(*parts: object) -> str:
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def example_frame(run_key: str, plan: LanguagePlan, *, intermediate: str, seed: int, cell_key: str, rng: np.random.Generator) -> pd.DataFrame:
    """Realistic per-example rows of one run in one language (classification):
    80 % right clean, attacks flip 5-40 % of those, fixed attacks spend 2
    queries, adaptive ones up to 200, perturbation rates are k/n_words."""
    import numpy as np
    import pandas as pd

    from raygrid.outcomes import EXAMPLE_COLUMNS
    from raygrid.version import SCHEMA_VERSION

    n, attacks = plan.examples, plan.attacks
    labels = 3 if plan.target == "xnli" else 2
    text = np.array([str(i) for i in range(labels)], dtype=object)
    gold = rng.integers(0, labels, n)
    right = rng.random(n) < 0.8
    clean_pred = np.where(right, gold, (gold + 1 + rng.integers(0, labels - 1, n)) % labels)
    keys = np.array([str(i) for i in range(n)], dtype=object)
    frames = []
    for attack in ("none", *attacks):
        clean = attack == "none"
        adaptive = attack.startswith("mlm")
        if clean:
            status = np.full(n, "clean", dtype=object)
            attacked = np.full(n, None, dtype=object)
            score = np.full(n, np.nan)
            survived = np.full(n, None, dtype=object)
            rate = np.full(n, np.nan)
            queries = np.ones(n, dtype=np.int64)
        else:
            success = right & (rng.random(n) < rng.uniform(0.05, 0.4))
            status = np.where(~right, "skipped", np.where(success, "successful", "failed")).astype(object)
            pred = np.where(success, (gold + 1) % labels, clean_pred)
            attacked = text[pred]
            score = (pred == gold).astype(float)
            survived = (right & ~success).astype(object)
            words = rng.integers(8, 40, n)
            rate = np.where(right, rng.integers(1, 6, n) / words, 0.0)
            queries = np.where(~right, 1, rng.integers(2, 200, n) if adaptive else 2).astype(np.int64)
        frames.append(pd.DataFrame({
            "run_key": run_key, "split": plan.split, "attack": attack, "example_key": keys, "stage": "confirm",
            "intermediate": intermediate, "intermediate_checkpoint": "" if intermediate == "none" else _hex("ckpt", intermediate),
            "seed": seed, "cell_key": cell_key, "gold": text[gold], "clean_prediction": text[clean_pred],
            "clean_score": (clean_pred == gold).astype(float), "clean_correct": right, "attacked_prediction": attacked,
            "attacked_score": score, "survived": survived, "status": status, "perturbation_rate": rate, "queries": queries,
            "schema_version": SCHEMA_VERSION,
        }))  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)[list(EXAMPLE_COLUMNS)]
    frame["task"] = plan.target
    frame["language"] = plan.language
    return frame


def build_examples(results: Path, seeds: int | None) -> tuple[int, int, int]:
    """Writes robustness.yaml's per-example store (its first ``seeds``
    confirm seeds) into ``results``; returns (runs, rows, estimated rows of
    the whole store)."""
    import numpy as np
    import pandas as pd

    from raygrid.estimate.examples import example_store, language_plans
    from raygrid.grid import Stage, expand
    from raygrid.spec import load_spec
    from raygrid.store import write_run

    spec = load_spec(EXAMPLE_SPEC)
    grid = expand(spec)
    kept = spec.confirm.seeds[:seeds] if seeds is not None else spec.confirm.seeds
    runs = rows = 0
    for cell in grid.cells_of(Stage.CONFIRM):
        if cell.seed not in kept:
            continue
        plans = language_plans(spec, str(cell.target), tuple(cell.languages))
        rng = np.random.default_rng(int(cell.key, 16) % 2**32)
        frame = pd.concat([example_frame(cell.key, p, intermediate=cell.intermediate, seed=int(cell.seed or 0),
                                         cell_key=cell.depends_on[0], rng=rng) for p in plans], ignore_index=True)  # fmt: skip
        write_run(results, cell.key, [], meta={"synthetic": True}, examples=frame)
        runs += 1
        rows += len(frame)
    return runs, rows, example_store(spec, grid).rows


def measure_bytes() -> None:
    """Bytes per per-example row and per file, on files written by write_run."""
    import tempfile

    import numpy as np

    from raygrid.estimate.examples import LanguagePlan
    from raygrid.store import write_run

    attacks = ("char_noise", "diacritics", "homoglyph", "invisible", "code_switch", "mlm_substitute")
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for n in (1, 5010):
            plan = LanguagePlan("xnli", "de", "test", n, attacks, True)
            frame = example_frame("06573c295390bb58", plan, intermediate="mnli", seed=3, cell_key="4fa81d8f0d64da71",
                                  rng=np.random.default_rng(0))  # fmt: skip
            manifest = write_run(Path(tmp) / str(n), "06573c295390bb58", [], examples=frame)
            sizes[n] = ((Path(tmp) / str(n) / manifest.examples[0]).stat().st_size, len(frame))
    (small, small_rows), (big, big_rows) = sizes[1], sizes[5010]
    per_row = (big - small) / (big_rows - small_rows)
    print(f"per-example file of {big_rows:,} rows (XNLI de, clean + 6 attacks): {big:,} bytes; "
          f"{per_row:.2f} bytes/row, {small - small_rows * per_row:,.0f} bytes/file")  # fmt: skip


def measure(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/raygrid-bench"))
    parser.add_argument("--keep", action="store_true", help="reuse an existing store in --dir")
    parser.add_argument("--example-seeds", type=int, metavar="N",
                        help="per-example store: only the first N confirm seeds of robustness.yaml (default: all)")
    parser.add_argument("--measure-bytes", action="store_true", help="only measure bytes per per-example row")
    args = parser.parse_args()
    if args.measure_bytes:
        measure_bytes()
        return 0
    raygrid = [sys.executable, "-m", "raygrid.cli"]
    if not (args.keep and (args.dir / "results").is_dir()):
        shutil.rmtree(args.dir, ignore_errors=True)
        t = time.perf_counter()
        n = build(args.dir)
        print(f"store: {n:,} rows written in {time.perf_counter() - t:.1f} s")
    if not (args.keep and (args.dir / "results" / "_examples").is_dir()):
        t = time.perf_counter()
        runs, rows, estimated = build_examples(args.dir / "results", args.example_seeds)
        print(f"per-example store: {rows:,} rows of {runs} runs written in {time.perf_counter() - t:.1f} s "
              f"({rows / estimated:.0%} of robustness.yaml's {estimated:,} estimated rows)")  # fmt: skip
    files = sum(1 for _ in (args.dir / "results").glob("target=*/language=*/*.parquet"))
    example_files = list((args.dir / "results" / "_examples").glob("target=*/language=*/*.parquet"))
    print(f"row files: {files:,}; per-example files: {len(example_files):,}, "
          f"{sum(p.stat().st_size for p in example_files) / 1e6:,.0f} MB")  # fmt: skip
    report = {}
    results = str(args.dir / "results")
    for label, call in (
        ("read_examples xnli (all columns)", f"read_examples({results!r}, targets=['xnli'])"),
        ("read_examples xnli (analysis columns)", f"read_examples({results!r}, targets=['xnli'], columns={list(ANALYSIS_COLUMNS)!r})"),
        ("read_examples xnli (analysis columns, categorical)",
         f"read_examples({results!r}, targets=['xnli'], columns={list(ANALYSIS_COLUMNS)!r}, categorical=True)"),
        ("read_examples xnli (all columns, categorical)", f"read_examples({results!r}, targets=['xnli'], categorical=True)"),
        ("read_examples xnli, de (all columns)", f"read_examples({results!r}, targets=['xnli'], languages=['de'])"),
        ("read_examples pawsx (all columns)", f"read_examples({results!r}, targets=['pawsx'])"),
    ):  # fmt: skip
        code = f"from raygrid.store import read_examples; df = {call}; print(len(df))"
        r = measure([sys.executable, "-c", code])
        report[label] = r
        print(f"{label:50s} rc={r['rc']} wall={r['wall_s']:.2f} s cpu={r['cpu_s']:.2f} s "
              f"peak RSS={r['peak_rss_mib']:.0f} MiB {r['err'] if r['rc'] else ''}")  # fmt: skip
    shutil.rmtree(args.dir / "results" / "_index", ignore_errors=True)
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
