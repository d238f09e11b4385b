"""Training and forward-only throughput of XLM-R base/large on one GPU, in
padded tokens/s: the figure ``raygrid plan --throughput`` takes.

Random-init models built from the two XLM-R configurations (no download: the
weights do not change the speed), bf16 autocast, AdamW, sequence
classification, every sequence exactly ``--length`` tokens.

    python benchmarks/plan_throughput.py --length 256 --batch 32 --steps 20
"""

from __future__ import annotations

import argparse
import json
import time


def measure(size: str, length: int, batch: int, steps: int) -> dict[str, float]:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    dims = {"base": (12, 768, 3072, 12), "large": (24, 1024, 4096, 16)}[size]
    config = XLMRobertaConfig(
        vocab_size=250_002, num_hidden_layers=dims[0], hidden_size=dims[1], intermediate_size=dims[2],
        num_attention_heads=dims[3], max_position_embeddings=514, type_vocab_size=1, num_labels=3,
    )  # fmt: skip
    model = XLMRobertaForSequenceClassification(config).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(5, 250_000, (batch, length), device="cuda")
    labels = torch.randint(0, 3, (batch,), device="cuda")

    def train_step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):
        train_step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        train_step()
    torch.cuda.synchronize()
    train = steps * batch * length / (time.perf_counter() - start)
    model.eval()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        big = torch.randint(5, 250_000, (batch * 2, length), device="cuda")
        for _ in range(3):
            model(input_ids=big)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            model(input_ids=big)
        torch.cuda.synchronize()
    forward = steps * batch * 2 * length / (time.perf_counter() - start)
    return {"size": size, "length": length, "batch": batch, "train_tokens_per_s": train, "eval_tokens_per_s": forward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="base,large")
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    import torch

    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__}))
    for size in args.sizes.split(","):
        print(json.dumps(measure(size, args.length, args.batch, args.steps)), flush=True)


if __name__ == "__main__":
    main()
