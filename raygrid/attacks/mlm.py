"""In-language word substitution proposed by a masked LM (BAE-R, Garg &
Ramakrishnan 2020; BERT-Attack, Li et al. 2020).

The word is replaced by one mask token and the MLM's top-k pieces at that
position are read; candidates are whole words: for spaced languages only
pieces that start a word (XLM-R's ``▁``), for every language only pieces
whose letters are all in the original word's script (a Latin piece never
replaces a Cyrillic word), never the original word itself.

The MLM is the masked LM of the model family: ``mlm=`` a path or hub id, by
default the checkpoint's base model (``raygrid.json``'s ``model``) when it
loads with its MLM head, else a one-line error asking for ``mlm=``.

Departure from BAE: one mask per word (BAE-R), no sentence-encoder
similarity filter, and the MLM's queries are not counted as queries of the
model under test.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raygrid.attacks import scripts as sc
from raygrid.attacks.document import Document
from raygrid.attacks.segment import UNSPACED
from raygrid.errors import ConfigError, ModelError


def resolve_mlm_source(model: Any) -> str:
    """The base checkpoint of a model under test (see the module docstring)."""
    from raygrid.models import is_checkpoint, read_checkpoint_meta

    path = str(getattr(getattr(model, "config", None), "_name_or_path", "") or "")
    seen = set()
    while path and is_checkpoint(path) and path not in seen:
        seen.add(path)
        meta = read_checkpoint_meta(path)
        path = str(meta.get("model") or meta.get("parent") or "")
    if not path:
        raise ConfigError("mlm_substitute: cannot tell the model's base checkpoint; pass mlm=PATH_OR_HUB_ID")
    return path


@functools.lru_cache(maxsize=4)
def load_mlm(source: str) -> tuple[Any, Any]:
    """(masked LM, tokenizer) of ``source`` (:func:`raygrid.models.load_masked_lm`),
    cached; an error when it has no MLM head."""
    from raygrid.models import load_masked_lm

    try:
        return load_masked_lm(source)
    except ModelError as exc:
        raise ModelError(f"mlm_substitute: {exc}; pass mlm=PATH_OR_HUB_ID of a masked LM") from None


@dataclass
class MlmSubstitute:
    """Contextual transformation; :meth:`bind` attaches the model under test."""

    language: str
    mlm: str | None = None
    top_k: int = 20
    name: str = "mlm_substitute"
    _source: str | None = field(default=None, repr=False)

    def check_language(self, language: str) -> None:
        sc.language_script(language)

    def bind(self, victim: Any) -> None:
        self._source = self.mlm or resolve_mlm_source(victim.model)
        load_mlm(self._source)

    def applies(self, word: str) -> bool:
        return sc.word_script(word) not in (sc.COMMON, sc.UNKNOWN)

    def extra_scripts(self, word: str) -> frozenset[str]:
        return frozenset()

    def edit(self, word: str, rng: Any) -> str | None:  # pragma: no cover - contextual only
        return None

    def contextual_candidates(self, doc: Document, current: Mapping[int, str], i: int, n: int) -> list[str]:
        import torch

        if self._source is None:
            raise ConfigError("mlm_substitute: bind() the attack to a model first (evaluate_attacks does)")
        model, tokenizer = load_mlm(self._source)
        mask = tokenizer.mask_token
        slot_index, _ = doc.words[i]
        slot = doc.slots[slot_index]
        row = doc.render({**current, i: mask})
        value = row[slot.field]
        text = " ".join(value) if isinstance(value, list) else value
        enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)
        positions = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()
        if len(positions) == 0:
            return []
        with torch.inference_mode():
            logits = model(**enc).logits[0, int(positions[0])]
        ids = logits.topk(min(self.top_k, logits.shape[-1])).indices.tolist()
        original = doc.word(i)
        script = sc.word_script(original)
        out: list[str] = []
        for piece in tokenizer.convert_ids_to_tokens(ids):
            if piece is None or piece in tokenizer.all_special_tokens:
                continue
            starts = piece.startswith("▁")
            word = piece.lstrip("▁")
            if not word or (self.language not in UNSPACED and not starts):
                continue
            if any(sc.script_of(c) not in (script, sc.INHERITED) for c in word) or word == original:
                continue
            if word not in out:
                out.append(word)
            if len(out) == n:
                break
        return out


__all__ = ["MlmSubstitute", "load_mlm", "resolve_mlm_source"]
