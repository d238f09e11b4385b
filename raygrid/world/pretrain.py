"""Phase 1 in the world: a tiny XLM-R masked LM pretrained on the world corpus.

The tokenizer is raygrid's offline XLM-R-style Unigram tokenizer
(:func:`raygrid.testing.tiny.train_tokenizer`: multi-script initial
alphabet, byte fallback) trained on the corpus; the model is an
``XLMRobertaForMaskedLM`` trained with RoBERTa's masking (15% of tokens:
80% ``<mask>``, 10% a random token, 10% unchanged) for a fixed number of
steps, seeded, on the CPU. The result is saved with ``save_pretrained``
(safetensors) next to its tokenizer, so ``from_pretrained(dir)`` loads it as
any XLM-R checkpoint.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PretrainConfig:
    """Model sizes and the MLM schedule (defaults: about 2 minutes on 2 CPUs)."""

    vocab_size: int = 4500
    hidden_size: int = 64
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    intermediate_size: int = 128
    max_length: int = 64
    steps: int = 3600
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    mask_rate: float = 0.15
    split_cjk: bool = False  # True: one piece per Han/kana character (docs/world.md, "Iterations")
    # Dictionary alignment (docs/world.md, "What is in it"): the MLM loss plus
    # ``alignment_weight`` x the mean squared distance between the input
    # embeddings of each one-token foreign word and of its English
    # translation (explicit-alignment multilingual pretraining); 0: MLM only.
    # Without it the tiny model learns no alignment in its budget (docs/world.md).
    alignment_weight: float = 10.0
    threads: int = 1  # a 64-wide model gains little from 2; on a shared CPU, OpenMP spin-waits cost far more


def _mask(ids: Any, special: Any, vocab: int, mask_id: int, rate: float, gen: Any) -> tuple[Any, Any]:
    import torch

    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=gen) < rate) & ~special
    labels[~chosen] = -100
    u = torch.rand(ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand_pos = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand_pos] = torch.randint(5, vocab, ids.shape, generator=gen)[rand_pos]
    return inputs, labels


def _one_token_pairs(tokenizer: Any, translations: Sequence[tuple[str, str]]) -> tuple[Any, Any]:
    """(English token ids, foreign token ids) of every translation whose
    foreign word is one token (the English side: its first token)."""
    import torch

    space = _space_id(tokenizer)
    english: list[int] = []
    foreign: list[int] = []
    for en, other in translations:
        source = [t for t in tokenizer(en, add_special_tokens=False)["input_ids"] if t != space]
        target = [t for t in tokenizer(other, add_special_tokens=False)["input_ids"] if t != space]
        if len(target) == 1 and source and target[0] not in source:
            english.append(source[0])
            foreign.append(target[0])
    return torch.tensor(english, dtype=torch.long), torch.tensor(foreign, dtype=torch.long)


def _space_id(tokenizer: Any) -> int | None:
    ids = tokenizer.convert_tokens_to_ids(["▁"])
    return ids[0] if ids and ids[0] != tokenizer.unk_token_id else None


def pretrain(
    lines: Sequence[str],
    out_dir: Path,
    *,
    seed: int,
    config: PretrainConfig = PretrainConfig(),
    log: Callable[[str], None] = lambda message: None,
    translations: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Trains tokenizer + MLM on ``lines`` and saves both to ``out_dir``.

    ``translations`` are (English word, word of another language) pairs,
    pulled together by ``config.alignment_weight``.

    Returns:
        What was measured: seconds, the final MLM loss, parameter count.
    """
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from raygrid.testing.tiny import train_tokenizer

    started = time.perf_counter()
    cpu_started = time.process_time()
    threads = torch.get_num_threads()
    rng_state = torch.random.get_rng_state()
    torch.set_num_threads(config.threads)
    try:
        tokenizer = train_tokenizer(lines, vocab_size=config.vocab_size, split_cjk=config.split_cjk)
        encoded = tokenizer(list(lines), truncation=True, max_length=config.max_length)["input_ids"]
        model_config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=514,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        # The global generator drives the initialisation and every dropout
        # mask: seeded here, so the same seed gives the same model in any
        # process; the caller's state comes back in the finally below.
        torch.manual_seed(seed)
        model = XLMRobertaForMaskedLM(model_config)
        gen = torch.Generator().manual_seed(seed)
        pairs = _one_token_pairs(tokenizer, translations) if config.alignment_weight > 0 else None
        anchored = 0 if pairs is None else len(pairs[0])
        if pairs is not None:
            log(f"dictionary alignment: {anchored} of {len(translations)} word pairs")
        order = random.Random(seed)
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.learning_rate,
        )

        def lr_at(step: int) -> float:
            if step < config.warmup_steps:
                return (step + 1) / config.warmup_steps
            progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
        pad = tokenizer.pad_token_id
        specials = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        indices: list[int] = []
        model.train()
        losses: list[float] = []
        for step in range(config.steps):
            if len(indices) < config.batch_size:
                fresh = list(range(len(encoded)))
                order.shuffle(fresh)
                indices.extend(fresh)
            batch = [encoded[i] for i in indices[: config.batch_size]]
            del indices[: config.batch_size]
            width = max(len(b) for b in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            for row, b in enumerate(batch):
                ids[row, : len(b)] = torch.tensor(b)
            attention = (ids != pad).long()
            special = torch.isin(ids, specials)
            inputs, labels = _mask(ids, special, len(tokenizer), tokenizer.mask_token_id, config.mask_rate, gen)
            # The LM head only on the masked positions: most of a tiny model's cost is the vocabulary.
            hidden = model.roberta(input_ids=inputs, attention_mask=attention).last_hidden_state
            chosen = labels != -100
            logits = model.lm_head(hidden[chosen])
            loss = mlm = torch.nn.functional.cross_entropy(logits, labels[chosen])
            if pairs is not None and anchored:
                table = model.get_input_embeddings().weight
                gap = table[pairs[1]] - table[pairs[0]]
                loss = loss + config.alignment_weight * gap.pow(2).sum(1).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(mlm.item())
            if (step + 1) % 100 == 0:
                recent = losses[-100:]
                log(
                    f"pretraining step {step + 1}/{config.steps}: MLM loss {sum(recent) / len(recent):.3f} "
                    f"({time.perf_counter() - started:.0f} s)"
                )
        model.eval()
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)  # safetensors
        tokenizer.save_pretrained(out_dir)
        tail = losses[-100:]
        measured = {
            "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu_started, 1),  # all threads together
            "final_mlm_loss": round(sum(tail) / len(tail), 4),
            "parameters": sum(p.numel() for p in model.parameters()),
            "vocab_size": len(tokenizer),
            "lines": len(lines),
            "aligned_word_pairs": anchored,
            "config": asdict(config),
        }
        (out_dir / "raygrid_world_model.json").write_text(json.dumps(measured, indent=2) + "\n")
        return measured
    finally:
        torch.set_num_threads(threads)
        torch.random.set_rng_state(rng_state)


__all__ = ["PretrainConfig", "pretrain"]
