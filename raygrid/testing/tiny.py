"""A tiny random-init XLM-R with a tokenizer trained offline.

The real study starts from ``xlm-roberta-large`` (2 GB from the hub). Tests,
the demo, benchmarks and users smoke-testing a cluster need something that
loads the same way (``AutoTokenizer`` / ``AutoModelFor*.from_pretrained(dir)``)
without a download: a 2-layer, 64-wide XLM-R (about 0.6M parameters) and a
SentencePiece-style Unigram tokenizer trained on the bundled multilingual
corpus (``raygrid/data/corpus``).

Two details make it usable on every script of the catalogue:

- the tokenizer's initial alphabet holds every character of the corpus plus
  the letter blocks of each script we evaluate, and
- byte fallback is on (as in XLM-R's SentencePiece successors): a character
  never seen in training becomes its UTF-8 bytes instead of ``<unk>``, so
  perturbed text (homoglyphs, rare Han characters) still reaches the model
  as distinct ids.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> path = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")  # doctest: +SKIP
    >>> AutoTokenizer.from_pretrained(path)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # ids 0..4, XLM-R's first four
BYTE_TOKENS = tuple(f"<0x{i:02X}>" for i in range(256))

# Letter blocks of the scripts of the catalogue's languages (inclusive ranges).
# Han (20k) and Hangul syllables (11k) are too large for a tiny vocabulary:
# their characters come from the corpus and byte fallback covers the rest.
SCRIPT_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00C0, 0x024F),  # Latin-1 letters, Latin Extended-A/B
    (0x0300, 0x036F),  # combining diacritical marks
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x04FF),  # Cyrillic (incl. Kazakh letters)
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x06FF),  # Arabic, Persian, Urdu
    (0x0900, 0x097F),  # Devanagari
    (0x0980, 0x09FF),  # Bengali
    (0x0B80, 0x0BFF),  # Tamil
    (0x0C00, 0x0C7F),  # Telugu
    (0x0D00, 0x0D7F),  # Malayalam
    (0x0E00, 0x0E7F),  # Thai
    (0x1000, 0x109F),  # Myanmar
    (0x10A0, 0x10FF),  # Georgian
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese, Yoruba)
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility jamo
)


@dataclass(frozen=True)
class TinyConfig:
    """Sizes of the tiny model (defaults: about 0.6M parameters)."""

    vocab_size: int = 6000  # an upper bound: the trainer may keep fewer pieces
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 128
    max_position_embeddings: int = 514  # XLM-R: 512 positions + padding offset 2


def corpus_texts() -> list[str]:
    """The lines of the bundled multilingual corpus, sorted by language code."""
    root = resources.files("raygrid") / "data" / "corpus"
    lines: list[str] = []
    if not root.is_dir():
        return lines
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt"):
            lines.extend(line.strip() for line in entry.read_text(encoding="utf-8").splitlines() if line.strip())
    return lines


def initial_alphabet(texts: Iterable[str]) -> list[str]:
    """Every character of ``texts`` plus the letter blocks of SCRIPT_BLOCKS."""
    chars = {chr(c) for lo, hi in SCRIPT_BLOCKS for c in range(lo, hi + 1)}
    for text in texts:
        chars.update(text)
    chars.discard(" ")
    return sorted(c for c in chars if c.isprintable())


#: One character of an unspaced East Asian script: kana, Han, CJK punctuation and full-width forms.
CJK_CHARACTER = "[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"


def train_tokenizer(
    texts: Sequence[str], *, vocab_size: int = 6000, model_max_length: int = 512, split_cjk: bool = False
) -> PreTrainedTokenizerFast:
    """Trains an XLM-R-style Unigram tokenizer offline.

    ``split_cjk`` makes every Han, kana and CJK punctuation character a
    piece of its own (as mBERT does), so that pieces never straddle the
    unmarked word boundaries of unspaced scripts.

    Ids 0-4 are ``<s> <pad> </s> <unk> <mask>``, followed by the 256 byte
    pieces used by byte fallback, then the learned pieces. Pairs are encoded
    as XLM-R does: ``<s> A </s></s> B </s>``.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    alphabet = initial_alphabet(texts)
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()  # XLM-R's SentencePiece uses nmt_nfkc
    steps = [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    if split_cjk:
        steps.append(pre_tokenizers.Split(Regex(CJK_CHARACTER), behavior="isolated"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    trainer = trainers.UnigramTrainer(
        vocab_size=max(vocab_size - len(BYTE_TOKENS), len(alphabet) + len(SPECIAL_TOKENS) + 16),
        special_tokens=list(SPECIAL_TOKENS),
        unk_token="<unk>",
        initial_alphabet=alphabet,
        shrinking_factor=0.75,
        max_piece_length=12,
        show_progress=False,
    )
    # Each alphabet character once more as its own "sentence", so that rare
    # characters survive the trainer's pruning.
    tok.train_from_iterator(list(texts) + alphabet, trainer)

    learned = _deterministic_pieces(json.loads(tok.to_str())["model"]["vocab"])
    learned.sort(key=lambda piece: (-piece[1], piece[0]))
    floor = min((s for _, s in learned), default=0.0) - 10.0
    vocab = [(t, 0.0) for t in SPECIAL_TOKENS] + [(b, floor) for b in BYTE_TOKENS] + learned
    tok.model = models.Unigram(vocab, unk_id=SPECIAL_TOKENS.index("<unk>"), byte_fallback=True)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="always")])
    bos, eos = SPECIAL_TOKENS.index("<s>"), SPECIAL_TOKENS.index("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=model_max_length,
    )


def _deterministic_pieces(vocab: Sequence[Sequence[str | float]]) -> list[tuple[str, float]]:
    """Learned pieces in an order that does not change between runs.

    The Unigram trainer breaks ties between pieces of equal score in a
    different order each run, nudging them apart by steps of 1e-4. Every
    chain of such nudged scores gets back its highest (un-nudged) value and
    ties sort by the piece itself, so the same corpus gives the same ids.
    """
    raw = sorted(((str(p), float(s)) for p, s in vocab if p not in SPECIAL_TOKENS), key=lambda x: -x[1])
    pieces: list[tuple[str, float]] = []
    previous, group = float("inf"), 0.0
    for piece, score in raw:
        if previous - score >= 5e-4:
            group = score
        previous = score
        # EM arithmetic differs between runs in the last bits (~1e-13)
        pieces.append((piece, round(group, 6)))
    pieces.sort(key=lambda x: (-x[1], x[0]))
    return pieces


def build_tiny_model(out_dir: Path | str, *, seed: int = 0, config: TinyConfig = TinyConfig()) -> Path:
    """Writes a random-init XLM-R masked LM and its tokenizer to ``out_dir``.

    The directory loads like a hub checkpoint: ``AutoTokenizer``,
    ``AutoConfig`` and every ``AutoModelFor*.from_pretrained(out_dir)``
    (the task head starts fresh, as it does from ``xlm-roberta-large``).
    The same seed gives the same weights and the same tokenizer.

    Args:
        out_dir: where to write; created if missing.
        seed: seeds the weight initialisation.
        config: model sizes.

    Returns:
        ``out_dir`` as a Path.
    """
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus_texts() or ["raygrid"], vocab_size=config.vocab_size)
    model_config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = XLMRobertaForMaskedLM(model_config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "raygrid_tiny.json").write_text(
        json.dumps({"seed": seed, **asdict(config), "vocab_size_actual": len(tokenizer)}, indent=2) + "\n"
    )
    return out
