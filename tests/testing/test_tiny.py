from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_tiny_model_loads_like_a_hub_checkpoint(tiny_model_dir: Path) -> None:
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_model_dir)
    assert config.model_type == "xlm-roberta"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert len(tokenizer) == config.vocab_size
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=5)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


@pytest.mark.parametrize(
    "text",
    ["Привет, мир", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก", "你好世界", "안녕하세요", "こんにちは", "Γειά σου", "Tiếng Việt"],
)
def test_tokenizer_never_produces_unk(tiny_tokenizer, text: str) -> None:  # type: ignore[no-untyped-def]
    ids = tiny_tokenizer(text)["input_ids"]
    assert tiny_tokenizer.unk_token_id not in ids
    # byte fallback round-trips unseen characters
    assert tiny_tokenizer.decode(ids, skip_special_tokens=True).strip() == text


def test_pairs_use_xlmr_template(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = tiny_tokenizer("a", "b")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and ids.count(2) == 3


def test_same_seed_same_model(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from raygrid.testing.tiny import build_tiny_model

    a = load_file(build_tiny_model(tmp_path / "a", seed=3) / "model.safetensors")
    b = load_file(build_tiny_model(tmp_path / "b", seed=3) / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert json.loads((tmp_path / "a" / "tokenizer.json").read_text()) == json.loads(
        (tmp_path / "b" / "tokenizer.json").read_text()
    )


def test_split_cjk_keeps_han_and_kana_pieces_inside_words(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from raygrid.testing.tiny import train_tokenizer

    # Unspaced text where "山水" recurs: without splitting, the trainer learns
    # pieces across word boundaries; with it, every CJK character is a piece.
    lines = ["山水火木金土。", "山水日月。", "the dog sees the cat.", "犬がネコを見る。"] * 50
    plain = train_tokenizer(lines, vocab_size=6000)
    assert any(len(p.strip("▁")) > 1 for p in plain.tokenize("山水火木金土。"))
    split = train_tokenizer(lines, vocab_size=6000, split_cjk=True)
    split.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)  # the pre-tokenizer travels with tokenizer.json
    text = "山水火木金土。 the dog 犬がネコ"
    pieces = reloaded.tokenize(text)
    assert [p for p in pieces if p.strip("▁") and "\u3000" <= p.strip("▁")[0] <= "\u9fff"] == list("山水火木金土。") + list("犬がネコ")
    ids = reloaded(text)["input_ids"]
    assert reloaded.decode(ids, skip_special_tokens=True) == text
