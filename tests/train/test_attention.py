"""Models train with PyTorch SDPA attention, falling back to eager where unsupported."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygrid.formats import HeadKind
from raygrid.models import _with_attention, build_model


def test_xlmr_models_use_sdpa(tiny_model_dir: Path) -> None:
    model = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=3)
    assert model.config._attn_implementation == "sdpa"


def test_an_architecture_without_sdpa_falls_back_to_eager() -> None:
    tried = []

    def load(attn: str) -> str:
        tried.append(attn)
        if attn == "sdpa":
            raise ValueError("FooModel does not support an attention implementation through torch's sdpa yet")
        return attn

    assert _with_attention(load) == "eager" and tried == ["sdpa", "eager"]


def test_other_errors_are_not_swallowed() -> None:
    def load(attn: str) -> str:
        raise ValueError("config.json is broken")

    with pytest.raises(ValueError, match="broken"):
        _with_attention(load)
