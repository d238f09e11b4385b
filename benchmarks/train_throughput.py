"""Training throughput through raygrid's Ray Train path, and token-cache memory.

``throughput``: tokens per second of one training phase run as the sweep
runs it (``run_unit`` inside a ``TorchTrainer`` worker, features from the
memory-mapped token cache, length-grouped dynamic padding) against a plain
transformers loop (``AutoModelForSequenceClassification`` + ``torch.optim.AdamW``
+ a ``DataLoader`` with ``DataCollatorWithPadding`` over the same
length-grouped batches) on the same model, data, threads and process count.
Tokens are non-padding tokens; the Train set-up (worker start, model and
data loading, tokenisation) is timed separately and excluded from the
ratio. Also prints the padded-token fraction of the batches.

    .venv/bin/python benchmarks/train_throughput.py throughput --examples 4000

``memory``: builds the token cache of MNLI-sized synthetic data (400k pairs,
realistic lengths), then runs two trial processes at once that map it and
read one epoch of collated batches through the training loop's batch path;
prints each process's RSS/PSS/USS (``/proc/<pid>/smaps_rollup``) and its
share of the mapped file (``/proc/<pid>/smaps``) against the file size.
``--in-memory`` adds one process that encodes in memory (no cache) for
comparison.

    .venv/bin/python benchmarks/train_throughput.py memory --pairs 400000

Prints one JSON object; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LABELS = ("entailment", "neutral", "contradiction")


# -- synthetic MNLI ----------------------------------------------------------------------------


def _words() -> list[str]:
    from raygrid.tasks.sources import FIXTURES_DIR

    corpus = FIXTURES_DIR.parent / "corpus" / "en.txt"
    words = sorted({w.strip(".,;:!?\"'()") for w in corpus.read_text(encoding="utf-8").split()} - {""})
    return words


def write_mnli(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` MNLI training rows (hub schema) with MNLI-like lengths:
    premise ~ lognormal(median 10 words), hypothesis ~ lognormal(median 5
    words). Returns the folder for ``DataSources(local_dirs=...)``."""
    rng = random.Random(seed)
    words = _words()
    out = root / "mnli" / "train.en.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)

    def sentence(median: float, sigma: float) -> str:
        k = max(2, min(120, int(rng.lognormvariate(math.log(median), sigma))))
        return " ".join(rng.choice(words) for _ in range(k)).capitalize() + "."

    with out.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = {"premise": sentence(10, 0.55), "hypothesis": sentence(5, 0.45), "label": i % 3, "idx": i}
            handle.write(json.dumps(row) + "\n")
    return root


def padded_fraction(lengths: list[int], batch_size: int, seed: int) -> float:
    """Padding share of one epoch of the loop's length-grouped batches."""
    from raygrid.train.batching import length_grouped_batches

    real = padded = 0
    for batch in length_grouped_batches(lengths, batch_size, seed=seed):
        longest = max(lengths[i] for i in batch)
        real += sum(lengths[i] for i in batch)
        padded += longest * len(batch)
    return 1 - real / padded


# -- throughput ------------------------------------------------------------------------------


def _spec(model: str, storage: Path, data_dir: Path, args: argparse.Namespace) -> Any:
    from raygrid.spec import parse_spec

    params = {
        "learning_rate": 1e-4,
        "num_epochs": args.epochs,
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
    }
    return parse_spec(
        {
            "name": "throughput",
            "model": {"name_or_path": model},
            "data": {"source": "bundled", "local_dirs": [str(data_dir)], "max_eval_examples": 8},
            "intermediates": ["none"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "search_space": {"intermediate": params, "target": params},
            "n_trials": {"intermediate": 1, "target": 1},
            "confirm": {"seeds": [0]},
            "storage": str(storage),
            "resources": {"num_workers": 1, "cpus_per_worker": args.threads},
        }
    )


def _raygrid_worker(config: dict[str, Any]) -> None:
    """A Train worker: what the sweep's worker does, keeping the last
    evaluation's counters (tokens, loop seconds) for the benchmark."""
    import ray.train

    from raygrid.sweep.ray_backend import _placement, _TrainReporter, _unit_context
    from raygrid.sweep.work import run_unit

    class Keep(_TrainReporter):
        last: dict[str, float] = {}

        def report(self, metrics: Any, state_dir: Path | None) -> None:
            Keep.last = dict(metrics)
            super().report(metrics, state_dir)

    import torch

    started = time.perf_counter()
    ctx = _unit_context(config)
    record = run_unit(ctx, _placement(False, False), reporter=Keep())
    # Train V2's Result.metrics are those of the last checkpointed report: write ours to a file
    extra = {**Keep.last, "unit_s": time.perf_counter() - started, "trial_s": record.seconds or 0.0,
             "torch_threads": torch.get_num_threads()}  # fmt: skip
    (ctx.sweep_dir / "bench_worker.json").write_text(json.dumps(extra))
    ray.train.report({"bench_done": 1.0})


def raygrid_run(model: str, root: Path, data_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    import ray
    import yaml
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from raygrid.sweep.plan import Planner, Unit

    spec = _spec(model, root, data_dir, args)
    sweep = root / spec.name
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec.normalised(), sort_keys=False))
    unit = Planner(spec, sweep).next_unit()
    assert isinstance(unit, Unit)
    ray.init(address="local", num_cpus=args.threads, include_dashboard=False, log_to_driver=False)
    try:
        started = time.perf_counter()
        trainer = TorchTrainer(
            _raygrid_worker,
            train_loop_config={"sweep_dir": str(sweep), "unit": unit.to_config()},
            scaling_config=ScalingConfig(num_workers=1, use_gpu=False, resources_per_worker={"CPU": args.threads}),
            run_config=RunConfig(name="bench", storage_path=str(root / "train")),
        )
        trainer.fit()
        wall = time.perf_counter() - started
    finally:
        ray.shutdown()
    m = json.loads((sweep / "bench_worker.json").read_text())
    return {
        "tokens": m["tokens_seen"],
        "loop_s": m["seconds"],
        "tokens_per_s": m["tokens_seen"] / m["seconds"],
        "fit_wall_s": wall,
        "setup_s": wall - m["seconds"],
        "steps": m["step"],
        "torch_threads": m["torch_threads"],
    }


def plain_run(model: str, data_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    """A plain transformers fine-tuning loop over the same rows and batches."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        get_linear_schedule_with_warmup,
    )

    from raygrid.train.batching import length_grouped_batches

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model)
    rows = [json.loads(line) for line in (data_dir / "mnli" / "train.en.jsonl").read_text().splitlines()]
    enc = tokenizer([r["premise"] for r in rows], [r["hypothesis"] for r in rows], truncation=True,
                    max_length=args.max_seq_length)  # fmt: skip
    features = [
        {"input_ids": ids, "attention_mask": mask, "labels": r["label"]}
        for ids, mask, r in zip(enc["input_ids"], enc["attention_mask"], rows)
    ]
    lengths = [len(f["input_ids"]) for f in features]
    batches = [b for e in range(args.epochs) for b in length_grouped_batches(lengths, args.batch_size, seed=e)]
    loader = DataLoader(features, batch_sampler=batches, collate_fn=DataCollatorWithPadding(tokenizer))
    net = AutoModelForSequenceClassification.from_pretrained(model, num_labels=3, attn_implementation="sdpa")
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * len(batches)), len(batches))
    net.train()
    tokens = 0
    started = time.perf_counter()
    for batch in loader:
        tokens += int(batch["attention_mask"].sum())
        loss = net(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - started
    return {"tokens": tokens, "loop_s": seconds, "tokens_per_s": tokens / seconds, "steps": len(batches)}


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    from raygrid.testing.tiny import build_tiny_model
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = args.model or str(build_tiny_model(root / "tiny"))
        data_dir = write_mnli(root / "data", args.examples)
        tokenizer = AutoTokenizer.from_pretrained(model)
        rows = [json.loads(line) for line in (data_dir / "mnli" / "train.en.jsonl").read_text().splitlines()]
        lengths = [len(x) for x in tokenizer([r["premise"] for r in rows], [r["hypothesis"] for r in rows],
                                             truncation=True, max_length=args.max_seq_length)["input_ids"]]  # fmt: skip
        runs: list[dict[str, Any]] = []
        for repeat in range(args.repeats):  # interleaved: the shared machine's load hits both alike
            plain = plain_run(model, data_dir, args)
            ours = raygrid_run(model, root / f"sweep{repeat}", data_dir, args)
            runs.append({"plain": plain, "raygrid": ours, "ratio": ours["tokens_per_s"] / plain["tokens_per_s"]})
    best_plain = max(r["plain"]["tokens_per_s"] for r in runs)
    best_ours = max(r["raygrid"]["tokens_per_s"] for r in runs)
    return {
        "mode": "throughput",
        "model": args.model or "tiny random XLM-R (raygrid.testing.tiny)",
        "examples": args.examples,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "mean_tokens": round(sum(lengths) / len(lengths), 1),
        "padded_token_fraction": round(padded_fraction(lengths, args.batch_size, seed=0), 4),
        "runs": [
            {
                "plain_tok_s": round(r["plain"]["tokens_per_s"]),
                "raygrid_tok_s": round(r["raygrid"]["tokens_per_s"]),
                "ratio": round(r["ratio"], 3),
                "raygrid_train_setup_s": round(r["raygrid"]["setup_s"], 1),
                "tokens_equal": r["plain"]["tokens"] == r["raygrid"]["tokens"],
                "raygrid_worker_threads": r["raygrid"]["torch_threads"],
            }
            for r in runs
        ],
        "best_ratio": round(best_ours / best_plain, 3),
    }


# -- memory ----------------------------------------------------------------------------------


def _smaps(pid: int, file: Path | None) -> dict[str, float]:
    """MiB: the process's Rss/Pss/USS, and Rss/Pss of its mappings of ``file``."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        out[key] = int(value.split()[0]) / 1024
    result = {
        "rss_mib": out["Rss"],
        "pss_mib": out["Pss"],
        "uss_mib": out.get("Private_Clean", 0.0) + out.get("Private_Dirty", 0.0),
    }
    if file is not None:
        rss = pss = 0.0
        inside = False
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):  # a mapping header
                inside = line.rstrip().endswith(str(file))
            elif inside and first == "Rss:":
                rss += int(line.split()[1]) / 1024
            elif inside and first == "Pss:":
                pss += int(line.split()[1]) / 1024
        result.update({"file_rss_mib": rss, "file_pss_mib": pss})
    return result


def _wait_for(path: Path, timeout: float = 3600) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if time.time() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.2)


def trial_reader(args: argparse.Namespace) -> None:
    """One 'trial' process: phase_data (cache hit, or in memory), then one
    epoch of collated batches through the loop's batch path; measures itself
    once every reader is done, so they all hold their data at once."""
    from raygrid.cell import phase_data
    from raygrid.formats import get_format
    from raygrid.models import load_tokenizer
    from raygrid.tasks import DataSources, get_task
    from raygrid.train import TrainConfig
    from raygrid.train.batching import length_grouped_batches
    from raygrid.train.loop import feature_lengths, feature_rows

    sync = Path(args.sync)
    tokenizer = load_tokenizer(args.model)
    config = TrainConfig(max_seq_length=args.max_seq_length, doc_stride=64, batch_size=args.batch_size)
    task = get_task("xnli")
    sources = DataSources(local_dirs=(Path(args.data),), bundled=True)
    started = time.perf_counter()
    data = phase_data(task, sources, tokenizer, config, max_eval_examples=8,
                      cache_dir=Path(args.cache) if args.cache else None)  # fmt: skip
    open_s = time.perf_counter() - started
    before = _smaps(os.getpid(), None)
    fmt = get_format(task.format)
    lengths = feature_lengths(data.train)
    real = padded = 0
    started = time.perf_counter()
    for batch in length_grouped_batches(lengths, args.batch_size, seed=0):
        tensors = fmt.collate(feature_rows(data.train, batch), int(tokenizer.pad_token_id))
        real += int(tensors["attention_mask"].sum())
        padded += tensors["attention_mask"].numel()
    epoch_s = time.perf_counter() - started
    (sync / f"done-{args.name}").touch()
    for other in args.wait_for:
        _wait_for(sync / f"done-{other}")
    path = getattr(data.train, "path", None)
    after = _smaps(os.getpid(), path)
    (sync / f"{args.name}.json").write_text(json.dumps({
        "name": args.name, "features": len(data.train), "open_s": round(open_s, 2), "epoch_s": round(epoch_s, 1),
        "padded_token_fraction": round(1 - real / padded, 4), "before_epoch": before, "after_epoch": after,
    }))  # fmt: skip
    (sync / f"measured-{args.name}").touch()
    for other in args.wait_for:  # keep the mapping alive until every reader has measured
        _wait_for(sync / f"measured-{other}")


def memory(args: argparse.Namespace) -> dict[str, Any]:
    from raygrid.cell import phase_data
    from raygrid.models import load_tokenizer
    from raygrid.tasks import DataSources, get_task
    from raygrid.testing.tiny import build_tiny_model
    from raygrid.train import TrainConfig

    root = Path(args.dir or tempfile.mkdtemp(prefix="raygrid-mem-"))
    model = args.model or str(build_tiny_model(root / "tiny"))
    data_dir = root / "data"
    if not (data_dir / "mnli" / "train.en.jsonl").is_file():
        write_mnli(data_dir, args.pairs)
    cache = root / "sweep" / "cache" / "tokens"
    started = time.perf_counter()
    config = TrainConfig(max_seq_length=args.max_seq_length, doc_stride=64, batch_size=args.batch_size)
    data = phase_data(get_task("xnli"), DataSources(local_dirs=(data_dir,), bundled=True), load_tokenizer(model),
                      config, max_eval_examples=8, cache_dir=cache)  # fmt: skip
    build_s = time.perf_counter() - started
    file = data.train.path
    assert file is not None
    size_mib = file.stat().st_size / 2**20
    features = len(data.train)
    del data
    sync = root / "sync"
    sync.mkdir(exist_ok=True)
    for stale in sync.iterdir():
        stale.unlink()
    names = ["trial-a", "trial-b"] + (["in-memory"] if args.in_memory else [])
    procs = []
    for name in names:
        cmd = [sys.executable, __file__, "_reader", "--name", name, "--model", model, "--data", str(data_dir),
               "--sync", str(sync), "--max-seq-length", str(args.max_seq_length), "--batch-size", str(args.batch_size),
               "--wait-for", *[n for n in names if n != name]]  # fmt: skip
        if name != "in-memory":
            cmd += ["--cache", str(cache)]
        procs.append(subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}))
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"reader {proc.args} failed with exit code {proc.returncode}")
    readers = [json.loads((sync / f"{name}.json").read_text()) for name in names]
    return {
        "mode": "memory",
        "pairs": args.pairs,
        "features": features,
        "arrow_file_mib": round(size_mib, 1),
        "build_s": round(build_s, 1),
        "readers": readers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--model", help="model directory (default: a freshly built tiny XLM-R)")
    p.add_argument("--examples", type=int, default=4000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=1, help="torch threads = CPUs of the Train worker")
    p.add_argument("--repeats", type=int, default=2)
    p = sub.add_parser("memory")
    p.add_argument("--model", help="model directory (default: a freshly built tiny XLM-R)")
    p.add_argument("--pairs", type=int, default=400_000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--dir", help="work folder (kept; reuses its data and cache)")
    p.add_argument("--in-memory", action="store_true", help="add a reader that encodes in memory (no cache)")
    p = sub.add_parser("_reader")  # internal: one trial process of the memory mode
    for flag in ("--name", "--model", "--data", "--sync", "--cache"):
        p.add_argument(flag)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--wait-for", nargs="*", default=[])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.mode == "_reader":
        trial_reader(args)
        return
    result = throughput(args) if args.mode == "throughput" else memory(args)
    print(json.dumps(result, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
