"""raygrid next to the simplest peer: Hugging Face ``Trainer.hyperparameter_search``.

The same tiny XLM-R (``raygrid.testing.tiny``), the same English task
(``--pairs`` MNLI-format premise/hypothesis pairs, the bundled fixture's
rows cycled; English XNLI dev for selection), learning rate log-uniform in
1e-5..1e-3, 1-2 epochs, batch 32, length 64, and five training runs each:

- ``hf-optuna``: ``Trainer.hyperparameter_search(backend="optuna")``, 5
  trials, serial, in one process;
- ``hf-ray``: the same with ``backend="ray"`` (a local Ray cluster of
  ``--cpus`` CPUs, one CPU per trial, so two trials at a time on 2 cores);
- ``raygrid``: ``raygrid run`` of a spec with one target cell (XNLI, zero-shot
  to German), 4 trials, then 1 confirm run of the best: 5 training runs,
  ``--cpus`` at once (its local Ray cluster has all of the machine's CPUs:
  run it on a machine of ``--cpus`` cores).

Each system runs in a fresh process, timed from the parent: its wall is
everything a user waits for (imports, Ray start where it has one, data,
training, evaluation). Prints the three walls and the ratios as one JSON
object:

    PYTHONPATH=. .venv/bin/python benchmarks/peer_search.py [--pairs 2000] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LR_LOW, LR_HIGH = 1e-5, 1e-3
EPOCHS = (1, 2)
BATCH, LENGTH = 32, 64
SYSTEMS = ("hf-optuna", "hf-ray", "raygrid")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prepare(root: Path, pairs: int) -> dict[str, str]:
    """The tiny model and the data every system reads; returns their paths."""
    from raygrid.tasks import fixture_path
    from raygrid.testing.tiny import build_tiny_model

    model = build_tiny_model(root / "tiny")
    train = _rows(fixture_path("mnli", "train", "en"))
    data = root / "data" / "mnli" / "train.en.jsonl"  # raygrid's local_dirs layout (XNLI trains on English MNLI)
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps({**train[i % len(train)], "idx": i}) + "\n" for i in range(pairs)))
    return {"model": str(model), "data_dir": str(root / "data"), "train": str(data),
            "dev": str(fixture_path("xnli", "dev", "en"))}  # fmt: skip


# -- Hugging Face Trainer.hyperparameter_search ---------------------------------------------------------


def _hf_trainer(paths: dict[str, str], out: Path) -> Any:
    import numpy as np
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)  # fmt: skip

    tokenizer = AutoTokenizer.from_pretrained(paths["model"])

    def encode(path: str) -> Any:
        rows = _rows(Path(path))
        data = Dataset.from_dict({"premise": [r["premise"] for r in rows], "hypothesis": [r["hypothesis"] for r in rows],
                                  "label": [int(r["label"]) for r in rows]})  # fmt: skip
        return data.map(lambda b: tokenizer(b["premise"], b["hypothesis"], truncation=True, max_length=LENGTH),
                        batched=True, remove_columns=["premise", "hypothesis"])  # fmt: skip

    def accuracy(prediction: Any) -> dict[str, float]:
        return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}

    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=BATCH, per_device_eval_batch_size=BATCH,
        eval_strategy="epoch", save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, seed=0, dataloader_num_workers=0,
    )  # fmt: skip
    return Trainer(
        model_init=lambda *_: AutoModelForSequenceClassification.from_pretrained(paths["model"], num_labels=3),
        args=args, train_dataset=encode(paths["train"]), eval_dataset=encode(paths["dev"]),
        data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy,
    )  # fmt: skip


def run_hf(backend: str, paths: dict[str, str], out: Path, runs: int, cpus: int) -> dict[str, Any]:
    if backend == "ray":
        import ray
        from ray import tune

        # never a bare ray.init(): it would join whatever cluster Ray's temp folder points at
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        space: Any = lambda _trial: {"learning_rate": tune.loguniform(LR_LOW, LR_HIGH),  # noqa: E731
                                     "num_train_epochs": tune.choice(list(EPOCHS))}  # fmt: skip
        extra: dict[str, Any] = {"resources_per_trial": {"cpu": 1}, "storage_path": str(out / "ray")}
    else:
        space = lambda trial: {"learning_rate": trial.suggest_float("learning_rate", LR_LOW, LR_HIGH, log=True),  # noqa: E731
                               "num_train_epochs": trial.suggest_int("num_train_epochs", *EPOCHS)}  # fmt: skip
        extra = {}
    trainer = _hf_trainer(paths, out)
    best = trainer.hyperparameter_search(direction="maximize", backend=backend, n_trials=runs, hp_space=space, **extra)
    return {"best_objective": float(best.objective), "best_params": {k: best.hyperparameters[k]
            for k in ("learning_rate", "num_train_epochs") if k in best.hyperparameters}}  # fmt: skip


# -- raygrid ------------------------------------------------------------------------------------------


def raygrid_spec(paths: dict[str, str], storage: Path, runs: int, cpus: int) -> str:
    """A one-cell spec: ``runs - 1`` trials and one confirm run (``runs`` training runs)."""
    space = {"learning_rate": {"type": "float", "low": LR_LOW, "high": LR_HIGH, "log": True},
             "num_epochs": {"type": "int", "low": EPOCHS[0], "high": EPOCHS[1]},
             "batch_size": BATCH, "max_seq_length": LENGTH}  # fmt: skip
    spec = {
        "name": "peer",
        "model": {"name_or_path": paths["model"]},
        "data": {"source": "bundled", "local_dirs": [paths["data_dir"]], "max_eval_examples": 100},
        "intermediates": ["none"],
        "targets": [{"task": "xnli", "languages": ["de"]}],
        "search_space": {"intermediate": space, "target": space},
        "n_trials": {"intermediate": 1, "target": runs - 1},
        "early_stopping": {"type": "none"},
        "confirm": {"seeds": [0]},
        "max_concurrent_trials": cpus,
        "storage": str(storage),
    }
    return json.dumps(spec)  # JSON is YAML


def run_raygrid(paths: dict[str, str], out: Path, runs: int, cpus: int) -> dict[str, Any]:
    spec = out / "peer.yaml"
    spec.write_text(raygrid_spec(paths, out / "runs", runs, cpus))
    done = subprocess.run([sys.executable, "-m", "raygrid.cli", "run", str(spec), "--quiet"], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"raygrid run failed ({done.returncode}): {done.stderr[-2000:]}")
    records = [json.loads(p.read_text()) for p in (out / "runs" / "peer" / "trials").glob("*.json")]
    return {"units": len(records), "complete": sum(r["status"] == "complete" for r in records),
            "best_objective": max((r["objective"] for r in records if r["objective"] is not None), default=None)}  # fmt: skip


# -- the comparison -----------------------------------------------------------------------------------


def one(system: str, paths: dict[str, str], out: Path, runs: int, cpus: int) -> dict[str, Any]:
    if system == "raygrid":
        return run_raygrid(paths, out, runs, cpus)
    return run_hf("optuna" if system == "hf-optuna" else "ray", paths, out, runs, cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000, help="English training pairs")
    parser.add_argument("--runs", type=int, default=5, help="training runs per system")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the Ray systems' local clusters")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the in-process peer (0: torch's default); a Ray trial gets 1 per CPU")
    parser.add_argument("--only", choices=SYSTEMS, action="append", help="run only these systems (repeatable)")
    parser.add_argument("--child", nargs=3, metavar=("SYSTEM", "PATHS_JSON", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.child:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        system, paths, out = args.child
        print(json.dumps(one(system, json.loads(paths), Path(out), args.runs, args.cpus)))
        return
    walls: dict[str, float] = {}
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="peer-search-") as tmp:
        root = Path(tmp)
        paths = prepare(root, args.pairs)
        for system in args.only or SYSTEMS:
            out = root / system
            out.mkdir()
            started = time.perf_counter()
            done = subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--cpus", str(args.cpus),
                                   "--threads", str(args.threads), "--child", system, json.dumps(paths), str(out)],
                                  capture_output=True, text=True, cwd=os.getcwd())  # fmt: skip
            walls[system] = round(time.perf_counter() - started, 1)
            if done.returncode != 0:
                raise SystemExit(f"{system} failed ({done.returncode}):\n{done.stderr[-3000:]}")
            details[system] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{system}: {walls[system]} s", file=sys.stderr, flush=True)
    ratios = {}
    if "raygrid" in walls:
        ratios = {f"raygrid/{peer}": round(walls["raygrid"] / walls[peer], 2) for peer in walls if peer != "raygrid"}
    print(json.dumps({"pairs": args.pairs, "runs_each": args.runs, "cpus": args.cpus, "load_average": os.getloadavg(),
                      "wall_s": walls, "ratios": ratios, "details": details}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
