"""How aligned are the world model's languages? Word translation retrieval.

    PYTHONPATH=$PWD python benchmarks/world_alignment.py --world .cache/world

For every content concept of the world (60), the English word and its word
in language L are embedded (the mean of the word's input embeddings,
``static``, and of its last-layer states read alone, ``contextual``); each
English word retrieves its nearest L word by cosine similarity after
centring. Prints, per language, precision@1 over all concepts, over the
cognates and over the fresh (non-cognate) words. Chance is 1/60 = 0.017.
Zero-shot transfer that rests on meaning needs these well above chance;
docs/world.md ("Iterations") has the figures of each world model tried.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", default=".cache/world")
    args = parser.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from raygrid.world.build import read_manifest
    from raygrid.world.lexicon import LANGUAGES, content_concepts
    from raygrid.world.tasks import lexicons

    hf_logging.set_verbosity_error()  # the MLM head is not loaded on purpose
    root = Path(args.world)
    manifest = read_manifest(root)
    if manifest is None:
        raise SystemExit(f"{root}: no world.json; build one with `raygrid world build {root}`")
    tokenizer = AutoTokenizer.from_pretrained(root / "model")
    model = AutoModel.from_pretrained(root / "model").eval()
    table = model.embeddings.word_embeddings.weight.detach()
    lex = lexicons(int(manifest["seed"]), float(manifest["config"]["cognate_share"]))
    concepts = [c for c, _ in content_concepts()]

    def vector(word: str, contextual: bool) -> torch.Tensor:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        if not contextual:
            return table[ids].mean(0)
        with torch.no_grad():
            ids_t = torch.tensor([[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]])
            return model(ids_t).last_hidden_state[0, 1:-1].mean(0)

    def matrix(code: str, contextual: bool) -> torch.Tensor:
        m = torch.stack([vector(lex[code].word(c), contextual) for c in concepts])
        return torch.nn.functional.normalize(m - m.mean(0), dim=1)

    out: dict[str, dict[str, dict[str, float]]] = {}
    for contextual in (False, True):
        english = matrix("en", contextual)
        kind = "contextual" if contextual else "static"
        for code in LANGUAGES[1:]:
            hit = (english @ matrix(code, contextual).T).argmax(1) == torch.arange(len(concepts))
            cognate = torch.tensor([c in lex[code].cognates for c in concepts])
            out.setdefault(kind, {})[code] = {
                "all": round(hit.float().mean().item(), 3),
                "cognates": round(hit[cognate].float().mean().item(), 3),
                "fresh": round(hit[~cognate].float().mean().item(), 3),
            }
    print(json.dumps({"world": str(root), "chance": round(1 / len(concepts), 3), "precision_at_1": out}, indent=2))


if __name__ == "__main__":
    main()
