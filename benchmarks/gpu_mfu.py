"""Model FLOPs utilisation of XLM-R base and large fine-tuning on one GPU.

Random-init models of the real configurations (``XLMRobertaConfig``: no hub
download) with a sequence-classification head train through raygrid's loop
(:func:`raygrid.train.loop.train_phase`: length-grouped dynamic padding,
bf16 autocast, fused AdamW, SDPA attention) on random token ids with
XNLI-like lengths (or ``--length`` for full fixed-length sequences).

FLOPs per step = 6 x N x tokens + 12 x layers x hidden x sum(seq_len^2)
(forward + backward; N = parameters outside the embedding tables, which do
lookups, not matrix products; the second term is attention's two matrix
products). Counted on the real tokens (``mfu``) and on the padded batch
(``mfu_padded``), against the GPU's peak dense bf16 FLOP/s from
:data:`PEAK_BF16_TFLOPS` (by ``torch.cuda.get_device_name()``, or
``--peak-tflops``). Steps after ``--warmup`` are timed.

    python benchmarks/gpu_mfu.py                       # base and large
    python benchmarks/gpu_mfu.py --models large --batch-size 32 --length 128
    python benchmarks/gpu_mfu.py --dry-run             # 2 CPU steps, tiny config

Without CUDA (and without ``--dry-run``) it says so and exits with code 2.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# sys.path[0] is benchmarks/ when run as a script: make the repository importable
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

#: Peak dense (no sparsity) bf16 tensor FLOP/s, in TFLOP/s, from the vendor
#: data sheets; matched against ``torch.cuda.get_device_name()`` in order.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM (HBM3)
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10G", 70.0),  # AWS's figure for its A10G
    ("A10", 125.0),
)

#: The XLM-R sizes (Conneau et al. 2020), and a tiny one for --dry-run.
SIZES: dict[str, dict[str, int]] = {
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
}
VOCAB = {"base": 250_002, "large": 250_002, "tiny": 1000}
PAD_ID = 1


def peak_tflops(device_name: str) -> float | None:
    """The table's peak for a device name (``None``: not in the table)."""
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return value
    return None


def step_flops(params: int, layers: int, hidden: int, lengths: list[int]) -> float:
    """Training FLOPs of one step over sequences of ``lengths`` tokens."""
    tokens = sum(lengths)
    return 6.0 * params * tokens + 12.0 * layers * hidden * sum(n * n for n in lengths)


def xnli_lengths(n: int, max_length: int, seed: int) -> list[int]:
    """MNLI/XNLI-like pair lengths in XLM-R tokens (median ~45, long tail)."""
    rng = random.Random(seed)
    return [max(8, min(max_length, int(rng.lognormvariate(math.log(45), 0.45)))) for _ in range(n)]


def _features(lengths: list[int], vocab: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"input_ids": [0] + [rng.randrange(5, vocab) for _ in range(n - 2)] + [2], "attention_mask": [1] * n,
         "labels": rng.randrange(3)}  # fmt: skip
        for n in lengths
    ]


class _Timer:
    """Train-loop callback: (seconds, examples) at each evaluation."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, float, int]] = []

    def on_evaluate(self, event: Any, model: Any) -> None:
        self.marks.append((event.step, event.seconds, event.examples_seen))


def measure(size: str, args: argparse.Namespace, device: str) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, XLMRobertaConfig

    from raygrid.tasks.types import FormatName, Role, TaskSpec
    from raygrid.train import TrainConfig
    from raygrid.train.loop import Placement, TaskData, train_phase

    dims = SIZES[size]
    config = XLMRobertaConfig(vocab_size=VOCAB[size], max_position_embeddings=514, type_vocab_size=1,
                              pad_token_id=PAD_ID, num_labels=3, **dims)  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="sdpa")
    embedding = sum(p.numel() for n, p in model.named_parameters() if ".embeddings." in n)
    params = sum(p.numel() for p in model.parameters()) - embedding
    steps = args.warmup + args.steps
    n = steps * args.batch_size
    lengths = [args.length] * n if args.length else xnli_lengths(n, args.max_seq_length, seed=1)
    features = _features(lengths, VOCAB[size], seed=2)
    task = TaskSpec(name="synthetic", role=Role.INTERMEDIATE, format=FormatName.CLASSIFICATION, metric="accuracy",
                    languages=("en",), hub=None, columns=("text_a", "label"), adapter=dict,
                    label_names=("a", "b", "c"))  # fmt: skip
    train = TrainConfig(learning_rate=1e-5, num_epochs=1, batch_size=args.batch_size, max_seq_length=max(lengths),
                        doc_stride=1, evals_per_epoch=steps, keep_best=False, compile=args.compile)  # fmt: skip
    timer = _Timer()
    tokenizer = SimpleNamespace(pad_token_id=PAD_ID)  # the loop only pads with it (no dev rows to encode)
    result = train_phase(model, [TaskData(task, features, None)], train, tokenizer,  # type: ignore[arg-type]
                         placement=Placement(device=device), callbacks=[timer])  # fmt: skip
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    # the steps after warm-up: the batches the loop drew, in its order
    from raygrid.train.batching import BatchStream

    stream = BatchStream(lengths, args.batch_size, seed=train.seed)
    batches = [next(stream) for _ in range(result.steps)]
    timed = batches[args.warmup :]
    start = next(s for step, s, _ in timer.marks if step == args.warmup) if args.warmup else 0.0
    seconds = timer.marks[-1][1] - start
    real = sum(step_flops(params, dims["num_hidden_layers"], dims["hidden_size"], [lengths[i] for i in b]) for b in timed)
    padded = sum(
        step_flops(params, dims["num_hidden_layers"], dims["hidden_size"], [max(lengths[i] for i in b)] * len(b))
        for b in timed
    )
    tokens = sum(lengths[i] for b in timed for i in b)
    return {
        "model": f"xlm-roberta-{size}",
        "non_embedding_params_m": round(params / 1e6, 1),
        "batch_size": args.batch_size,
        "lengths": f"fixed {args.length}" if args.length else "XNLI-like (median 45)",
        "timed_steps": len(timed),
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds),
        "tflops": round(real / seconds / 1e12, 1),
        "tflops_padded": round(padded / seconds / 1e12, 1),
        "final_loss": round(result.history[-1]["train_loss"], 4) if result.history else None,
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device.startswith("cuda") else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=["base", "large"], default=["base", "large"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, help="fixed tokens per sequence (default: XNLI-like lengths)")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, if not in the table")
    parser.add_argument("--compile", action="store_true", help="TrainConfig.compile (torch.compile)")
    parser.add_argument("--cudnn-sdp", action="store_true",
                        help="allow cuDNN attention (raygrid's loop turns it off on CUDA; this turns it back on)")
    parser.add_argument("--dry-run", action="store_true", help="2 steps of a tiny config on CPU (tests the script)")
    args = parser.parse_args(argv)
    import torch

    if args.dry_run:
        args.models, args.warmup, args.steps, args.batch_size = ["tiny"], 1, 1, 4
        results = [measure("tiny", args, "cpu")]
        out = {"device": "cpu (dry run)", "peak_tflops": None, "results": results}
        print(json.dumps(out))
        return out
    if not torch.cuda.is_available():
        print("gpu_mfu: no CUDA GPU on this machine; run it where one is (or use --dry-run to test the script)",
              file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    if args.cudnn_sdp:  # train_phase turns it off on CUDA: make it turn it on, to measure the difference
        import raygrid.train.loop as loop

        loop._prefer_shape_agnostic_attention = lambda: torch.backends.cuda.enable_cudnn_sdp(True)
    name = torch.cuda.get_device_name()
    peak = args.peak_tflops or peak_tflops(name)
    if peak is None:
        print(f"gpu_mfu: {name!r} is not in PEAK_BF16_TFLOPS; pass --peak-tflops", file=sys.stderr)
        raise SystemExit(2)
    results = []
    for size in args.models:
        row = measure(size, args, "cuda")
        row["mfu"] = round(row["tflops"] / peak, 3)
        row["mfu_padded"] = round(row["tflops_padded"] / peak, 3)
        results.append(row)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    out = {"device": name, "peak_tflops": peak, "torch": torch.__version__, "cudnn_sdp": args.cudnn_sdp,
           "results": results}  # fmt: skip
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
