"""White-box attacks on the model under test: HotFlip and embedding PGD.

Both need the model's gradient w.r.t. its input embeddings, so they are
defined for formats whose loss is a plain cross-entropy over one label:
classification (XNLI, PAWS-X). Other formats are refused with a one-line
error.

* ``hotflip`` (Ebrahimi et al. 2018): per round, one forward/backward gives
  ``g`` = d loss / d embedding at every position; the first-order gain of
  replacing token ``i`` by ``v`` is ``(E[v] - E[i]) . g_i``. Replacement
  tokens are restricted to pieces of the *same script* as the piece
  replaced, with the same word-start status (``▁``), excluding special and
  byte-fallback pieces. The top ``candidates_per_word`` (position, token)
  pairs are decoded back to text and queried as text (so the reported
  result is on real, re-tokenised text); the best is kept; rounds go on
  until success, ``max_fraction`` of the words, or the query budget.
  Departure: the original HotFlip flips characters with beam search; this is
  its token-level variant (as in Wallace et al. 2019's triggers).
* ``embedding_pgd`` (Madry et al. 2018; Huang et al. 2021 for XLM-R on
  XNLI/PAWS-X): ``steps`` signed/normalised gradient-ascent steps on a
  per-token perturbation of the word embeddings, projected onto the
  ``epsilon`` ball (``l2`` per token, or ``linf``); reports robust accuracy.
  No text is produced: the sample file shows the original rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raygrid.attacks import scripts as sc
from raygrid.attacks.attack import Attack, Edits
from raygrid.attacks.metrics import FAILED, SKIPPED, SUCCESSFUL, Outcome
from raygrid.attacks.segment import words as segment_words
from raygrid.errors import ConfigError
from raygrid.tasks.types import FormatName


@dataclass(frozen=True)
class HotflipPlaceholder:
    """Language check for hotflip (it edits tokens, not words)."""

    language: str
    name: str = "hotflip"

    def check_language(self, language: str) -> None:
        sc.language_script(language)

    def applies(self, word: str) -> bool:
        return True

    def edit(self, word: str, rng: Any) -> str | None:
        raise ConfigError("hotflip is a white-box attack: it needs the model (raygrid attack), not raygrid perturb")

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset()


def _require_classification(attack: Attack, victim: Any) -> None:
    if victim.format is not FormatName.CLASSIFICATION:
        raise ConfigError(
            f"attack {attack.name!r} is defined for classification tasks; task {victim.task.name!r} is {victim.format.value}"
        )


def _encode(victim: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    return victim.tokenizer(
        [r["text_a"] for r in rows],
        [r["text_b"] for r in rows] if rows and rows[0].get("text_b") is not None else None,
        truncation="longest_first",
        max_length=victim.settings.encode.max_seq_length,
        padding=True,
        return_tensors="pt",
    )


def run_white_box(
    attack: Attack, victim: Any, goal: Any, data: list[dict[str, Any]], clean: list[Any], skipped: list[bool], language: str, *, seed: int
) -> tuple[list[dict[str, Any]], list[Any], list[Outcome]]:
    """Runs a white-box attack: PGD for a family that edits embeddings,
    HotFlip token flips for one that edits text."""
    _require_classification(attack, victim)
    if attack.edits is Edits.EMBEDDINGS:
        return _pgd(attack, victim, data, clean, skipped)
    return _hotflip(attack, victim, goal, data, clean, skipped, language)


def _pgd(attack: Attack, victim: Any, data: list[dict[str, Any]], clean: list[Any], skipped: list[bool]) -> Any:
    import torch

    model = victim.model
    device = victim.settings.device
    model.to(device)
    was_training = model.training
    model.eval()
    eps, steps, step = float(attack.extra["epsilon"]), int(attack.extra["steps"]), float(attack.extra["step_size"])
    linf = attack.extra["norm"] == "linf"
    todo = [i for i, s in enumerate(skipped) if not s]
    outs = list(clean)
    bs = victim.settings.batch_size
    try:
        for lo in range(0, len(todo), bs):
            idx = todo[lo : lo + bs]
            enc = {k: v.to(device) for k, v in _encode(victim, [data[i] for i in idx]).items()}
            labels = torch.tensor([int(data[i]["label"]) for i in idx], device=device)
            with torch.no_grad():
                embeds = model.get_input_embeddings()(enc["input_ids"])
            mask = enc["attention_mask"].unsqueeze(-1).to(embeds.dtype)
            delta = torch.zeros_like(embeds, requires_grad=True)
            rest = {k: v for k, v in enc.items() if k != "input_ids"}
            for _ in range(steps):
                logits = model(inputs_embeds=embeds + delta, **rest).logits
                loss = torch.nn.functional.cross_entropy(logits, labels)
                (grad,) = torch.autograd.grad(loss, delta)
                with torch.no_grad():
                    if linf:
                        delta += step * grad.sign() * mask
                        delta.clamp_(-eps, eps)
                    else:
                        delta += step * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-12) * mask
                        norms = delta.norm(dim=-1, keepdim=True)
                        delta *= torch.clamp(eps / norms.clamp_min(1e-12), max=1.0)
            with torch.no_grad():
                probs = torch.softmax(model(inputs_embeds=embeds + delta, **rest).logits.float(), dim=-1).tolist()
            for i, p in zip(idx, probs, strict=True):
                outs[i] = p
            victim.queries += len(idx) * (steps + 1)
    finally:
        model.train(was_training)
    outcomes = []
    for i, r in enumerate(data):
        if skipped[i]:
            outcomes.append(Outcome(SKIPPED, 0.0, 1))
        else:
            wrong = max(range(len(outs[i])), key=lambda k: outs[i][k]) != int(r["label"])
            outcomes.append(Outcome(SUCCESSFUL if wrong else FAILED, 0.0, 1 + steps + 1))
    return [dict(r) for r in data], outs, outcomes


@functools.lru_cache(maxsize=8)
def _script_vocab(tokenizer: Any) -> dict[tuple[str, bool], list[int]]:
    """(script, starts-a-word) -> vocabulary ids of such pieces."""
    special = set(tokenizer.all_special_ids)
    groups: dict[tuple[str, bool], list[int]] = {}
    for piece, idx in tokenizer.get_vocab().items():
        if idx in special or (piece.startswith("<0x") and piece.endswith(">")):
            continue
        body = piece.lstrip("▁")
        script = sc.word_script(body)
        if not body or script in (sc.COMMON, sc.UNKNOWN):
            continue
        if any(sc.script_of(c) not in (script, sc.INHERITED) for c in body):
            continue
        groups.setdefault((script, piece.startswith("▁")), []).append(idx)
    return groups


def _decode_pair(tokenizer: Any, ids: list[int], seq_ids: list[int | None]) -> tuple[str, str | None]:
    parts: dict[int, list[int]] = {}
    for tok, s in zip(ids, seq_ids, strict=True):
        if s is not None:
            parts.setdefault(s, []).append(tok)
    texts = [tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(parts.get(s, []))).strip() for s in (0, 1)]
    return texts[0], (texts[1] if 1 in parts else None)


def _hotflip(attack: Attack, victim: Any, goal: Any, data: list[dict[str, Any]], clean: list[Any], skipped: list[bool], language: str) -> Any:
    import torch

    model, tokenizer = victim.model, victim.tokenizer
    device = victim.settings.device
    model.to(device)
    was_training = model.training
    model.eval()
    vocab = _script_vocab(tokenizer)
    emb_matrix = model.get_input_embeddings().weight
    finals, outs, outcomes = [], [], []
    try:
        for i, row in enumerate(data):
            if skipped[i]:
                finals.append(row)
                outs.append(clean[i])
                outcomes.append(Outcome(SKIPPED, 0.0, 1))
                continue
            n_words = sum(len(segment_words(row[f], language)) for f in ("text_a", "text_b") if row.get(f))
            max_flips = attack.word_budget(n_words, fixed=False)
            enc = _encode(victim, [row])
            ids = enc["input_ids"][0].tolist()
            seq_ids = enc.sequence_ids(0)
            flipped: set[int] = set()
            current_row, current_out = dict(row), clean[i]
            current_score = goal.score(clean[i], row, clean[i])
            queries, success = 0, False
            label = torch.tensor([int(row["label"])], device=device)
            while len(flipped) < max_flips and queries < attack.query_budget:
                input_ids = torch.tensor([ids], device=device)
                embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
                logits = model(inputs_embeds=embeds, attention_mask=torch.ones_like(input_ids)).logits
                (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, label), embeds)
                grad = grad[0]
                pairs: list[tuple[float, int, int]] = []
                pieces = tokenizer.convert_ids_to_tokens(ids)
                for pos, (tok, s) in enumerate(zip(ids, seq_ids, strict=True)):
                    if s is None or pos in flipped:
                        continue
                    body = pieces[pos].lstrip("▁")
                    script = sc.word_script(body)
                    allowed = vocab.get((script, pieces[pos].startswith("▁")))
                    if not allowed:
                        continue
                    cand = torch.tensor(allowed, device=device)
                    gain = (emb_matrix[cand] - emb_matrix[tok]) @ grad[pos]
                    k = min(attack.candidates_per_word, len(allowed))
                    top = gain.topk(k)
                    pairs.extend((float(v), pos, int(allowed[j])) for v, j in zip(top.values.tolist(), top.indices.tolist(), strict=True) if allowed[j] != tok)
                if not pairs:
                    break
                pairs.sort(key=lambda p: -p[0])
                pairs = pairs[: min(attack.candidates_per_word, attack.query_budget - queries)]
                rows, flips = [], []
                for _, pos, new in pairs:
                    trial = list(ids)
                    trial[pos] = new
                    a, b = _decode_pair(tokenizer, trial, seq_ids)
                    rows.append({**row, "text_a": a, "text_b": b if row.get("text_b") is not None else None})
                    flips.append((pos, trial))
                results = victim.query(rows)
                queries += len(rows)
                scores = [goal.score(o, row, clean[i]) for o in results]
                j = max(range(len(rows)), key=lambda j: (scores[j], -j))
                if goal.succeeded(results[j], row, clean[i]) or scores[j] > current_score:
                    pos, ids = flips[j]
                    flipped.add(pos)
                    current_row, current_out, current_score = rows[j], results[j], scores[j]
                    if goal.succeeded(results[j], row, clean[i]):
                        success = True
                        break
                else:
                    break
            finals.append(current_row)
            outs.append(current_out)
            fraction = len(flipped) / n_words if n_words else 0.0
            outcomes.append(Outcome(SUCCESSFUL if success else FAILED, fraction, 1 + queries))
    finally:
        model.train(was_training)
    return finals, outs, outcomes


__all__ = ["HotflipPlaceholder", "run_white_box"]
