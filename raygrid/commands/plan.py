"""``raygrid plan SPEC``: the GPU-hours a sweep will cost, from the spec alone.

No Ray, no GPU, no download: the grid (:func:`raygrid.grid.expand`), real
task sizes and a throughput per GPU (:mod:`raygrid.estimate`). Not to be
confused with :mod:`raygrid.sweep.plan` (the sweep's Optuna planner).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from raygrid.commands._args import positive_float, positive_int


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="estimate a sweep's GPU-hours from its spec",
        description="Estimate the cost of a sweep spec without running it: per stage the cells, trials and units "
        "of work, tokens and GPU-hours, with intermediate-checkpoint reuse (what raygrid does) and without "
        "(every target trial and confirm run retrains its intermediate task), plus zero-shot evaluation (clean "
        "and under each attack) and, with confirm.replicate_intermediate, each confirm seed's own intermediate "
        "training. An upper bound: no trial pruned, every sequence at max_seq_length. "
        "Exit 2 on a bad spec.",
    )
    p.add_argument("spec", metavar="SPEC", help="the sweep spec, e.g. search_spaces/xstilts.yaml")
    p.add_argument(
        "--throughput",
        type=positive_float,
        metavar="TOKENS_PER_S",
        help="training throughput per GPU in padded tokens/s (default: a conservative figure by model size; "
        "evaluation is taken as 3x faster)",
    )
    p.add_argument(
        "--epochs-policy",
        choices=("mean", "max"),
        default="mean",
        help="cost searched epochs / lengths / evaluations at their distribution's mean (default) or upper bound",
    )
    p.add_argument(
        "--concurrent-trials",
        type=positive_int,
        metavar="N",
        help="trials running at once, for the peak checkpoint disk under checkpoints.keep: best (default: the "
        "spec's max_concurrent_trials; if null, every cell is counted as in flight, the worst case)",
    )
    p.add_argument("--json", action="store_true", help="print the estimate as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygrid.errors import ConfigError
    from raygrid.estimate import EpochsPolicy, checkpoint_disk, estimate, resolve_throughput
    from raygrid.estimate.examples import example_store
    from raygrid.spec import load_spec

    spec = load_spec(args.spec)
    try:
        rate = resolve_throughput(spec.model.name_or_path, args.throughput)
    except ValueError as exc:
        raise ConfigError(f"{args.spec}: model.name_or_path: {exc}") from None
    result = estimate(spec, rate, policy=EpochsPolicy(args.epochs_policy))
    disk = checkpoint_disk(spec, result.grid, concurrent_trials=args.concurrent_trials)
    payload = {"spec": str(args.spec), **result.to_json(), "checkpoints": disk.to_json()}
    payload["examples"] = example_store(spec, result.grid).to_json()
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    _print_table(payload)
    _print_examples(payload["examples"])
    return 0


def _hours(value: float) -> str:
    return f"{value:,.1f}" if value >= 0.1 else f"{value:.3g}"


def _print_table(payload: dict[str, Any]) -> None:
    rate = payload["throughput"]
    print(f"spec        {payload['spec']}  ({payload['name']}, {payload['model']})")
    print(
        f"throughput  {rate['train_tokens_per_s_per_gpu']:,.0f} train / {rate['eval_tokens_per_s_per_gpu']:,.0f} "
        f"eval tokens/s per GPU: {rate['source']}"
    )
    caps = payload["data_caps"]
    per_task = "".join(f", {task} {cap}" for task, cap in sorted(caps.get("max_train_examples_per_task", {}).items()))
    print(
        f"per unit    {payload['gpus_per_unit']} GPU(s); searched values at their {payload['epochs_policy']}; "
        f"caps: train {caps['max_train_examples'] or 'none'}{per_task}, eval {caps['max_eval_examples'] or 'none'}; "
        f"{payload['attacks']} attack(s)"
    )
    print()
    header = f"{'cell':<34} {'units':>5} {'epochs':>6} {'len':>5} {'seq/epoch':>11} {'GPU-h/unit':>10} {'GPU-h':>9}"
    for stage in ("intermediate", "target", "confirm"):
        rows = [c for c in payload["cells"] if c["stage"] == stage]
        if not rows:
            continue
        print(f"[{stage}]")
        print(header)
        for c in rows:
            epochs = "-" if c["epochs"] is None else f"{c['epochs']:.3g}"
            length = "-" if c["max_seq_length"] is None else f"{c['max_seq_length']:.0f}"
            seqs = "-" if c["train_sequences_per_epoch"] is None else f"{c['train_sequences_per_epoch']:,.0f}"
            print(
                f"{c['name'][:34]:<34} {c['units']:>5} {epochs:>6} {length:>5} {seqs:>11} "
                f"{_hours(c['gpu_hours_per_unit']):>10} {_hours(c['gpu_hours']):>9}"
            )
        print()
    print(f"{'stage':<14} {'cells':>6} {'trials':>7} {'units':>6} {'GPU-hours':>10}")
    for name, s in payload["stages"].items():
        print(f"{name:<14} {s['cells']:>6} {s['trials']:>7} {s['units']:>6} {_hours(s['gpu_hours']):>10}")
    totals = payload["totals"]
    print()
    print(f"total, with intermediate-checkpoint reuse (raygrid):   {_hours(totals['gpu_hours_with_reuse'])} GPU-hours")
    print(
        f"total, without reuse (+{totals['retrained_intermediates']} intermediate retrains): "
        f"{_hours(totals['gpu_hours_without_reuse'])} GPU-hours"
    )
    print(f"of which zero-shot evaluation (clean + attacked):      {_hours(totals['eval_gpu_hours'])} GPU-hours")
    _print_replication(totals, has_intermediates=payload["stages"]["intermediate"]["cells"] > 0)
    pruner = payload["pruner"]
    note = f"early stopping ({pruner}) will cut some trials: " if pruner != "none" else ""
    print(f"upper bound: {note}no pruning assumed, every sequence counted at max_seq_length.")
    _print_disk(payload["checkpoints"])
    approximate = sorted({f"{c['name'].split(' -> ')[-1]}:{a}" for c in payload["cells"] for a in c["approximate_sizes"]})
    if approximate:
        print(f"sizes not in the table (task median used): {', '.join(approximate)}")


def _print_replication(totals: dict[str, Any], *, has_intermediates: bool) -> None:
    """Whether confirm seeds retrain their intermediate (``confirm.replicate_intermediate``)."""
    if totals["replicate_intermediate"] and totals["replicated_intermediates"]:
        print(
            f"of which intermediates retrained per confirm seed:    {_hours(totals['replicated_intermediate_gpu_hours'])} "
            f"GPU-hours ({totals['replicated_intermediates']} runs, confirm.replicate_intermediate)"
        )
    elif has_intermediates:
        print(
            "intermediates not replicated (confirm.replicate_intermediate: false): every confirm seed starts from "
            "its intermediate cell's one selected checkpoint, so intervals are conditional on it"
        )


def _gb(value: int | None) -> str:
    return "?" if value is None else f"{value / 1e9:,.1f} GB"


def _print_disk(disk: dict[str, Any]) -> None:
    print()
    size = "size unknown" if disk["parameters"] is None else f"{disk['parameters'] / 1e6:,.0f}M parameters"
    print(
        f"checkpoints {_gb(disk['bytes_per_checkpoint'])} each ({size}, fp32 safetensors): "
        f"{disk['trial_checkpoints']} trial + {disk['confirm_checkpoints']} confirm"
    )
    concurrent = disk["concurrent_trials"]
    running = "every cell in flight" if concurrent is None else f"{concurrent} trial(s) at once"
    for policy in ("best", "all"):
        figures = disk[policy]
        mark = " (this spec)" if policy == disk["policy"] else ""
        print(
            f"  keep: {policy + mark:<16} final {_gb(figures['final_bytes'])} ({figures['final_checkpoints']}), "
            f"peak ~{_gb(figures['peak_bytes'])} ({figures['peak_checkpoints']})"
            + (f", {running}" if policy == "best" else "")
        )
    if disk["resume_state_bytes"] is not None:
        print(f"  plus running trials' resume states (train/): ~{_gb(disk['resume_state_bytes'])} at most")


def _print_examples(store: dict[str, Any]) -> None:
    """The per-example store (results/_examples) the confirm runs will write."""
    print()
    if not store["runs"]:
        print("per-example rows: none (no confirm run of a target with an attack goal)")
        return
    per_target = ", ".join(f"{target} {rows:,}" for target, rows in sorted(store["rows_per_target"].items()))
    print(
        f"per-example rows (results/_examples): {store['rows']:,} rows ({per_target}) in {store['files']:,} files "
        f"of {store['runs']} confirm runs, ~{store['bytes'] / 1e6:,.0f} MB at {store['bytes_per_row']} bytes/row"
    )
