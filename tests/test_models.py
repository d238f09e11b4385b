from __future__ import annotations

from pathlib import Path

import pytest
import torch

from raygrid.errors import ModelError
from raygrid.formats.base import HeadKind
from raygrid.models import (
    build_model,
    build_multitask_model,
    is_checkpoint,
    load_tokenizer,
    load_trained,
    read_checkpoint_meta,
    save_checkpoint,
)


def _encoder_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.base_model.state_dict(), b.base_model.state_dict()
    keys = [k for k in sa if not k.startswith("pooler.")]
    return all(torch.equal(sa[k], sb[k]) for k in keys)


def test_transfer_keeps_encoder_and_starts_a_fresh_head(tiny_model_dir: Path, tmp_path: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    phase2 = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=3, seed=1)
    with torch.no_grad():  # pretend phase 2 trained everything
        for p in phase2.parameters():
            p.add_(0.5)
    ckpt = save_checkpoint(phase2, tokenizer, tmp_path / "ckpt", {"task": "mnli"})
    assert is_checkpoint(ckpt) and read_checkpoint_meta(ckpt) == {"task": "mnli"}
    assert (ckpt / "model.safetensors").is_file()

    phase3 = build_model(ckpt, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=3, seed=2)
    assert _encoder_equal(phase2, phase3)
    # same head shape, yet fresh weights: the intermediate head is discarded
    assert not torch.equal(phase2.classifier.out_proj.weight, phase3.classifier.out_proj.weight)

    # a different head on the same encoder
    tagger = build_model(ckpt, HeadKind.TOKEN_CLASSIFICATION, num_labels=7, seed=2)
    assert _encoder_equal(phase2, tagger) and tagger.num_labels == 7

    # evaluation loads the trained head
    reloaded = load_trained(ckpt, HeadKind.SEQUENCE_CLASSIFICATION)
    assert torch.equal(reloaded.classifier.out_proj.weight, phase2.classifier.out_proj.weight)


def test_head_init_is_seeded(tiny_model_dir: Path) -> None:
    a = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2, seed=5)
    b = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2, seed=5)
    assert torch.equal(a.classifier.out_proj.weight, b.classifier.out_proj.weight)


def test_multitask_shares_one_encoder_and_checkpoints_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = build_multitask_model(
        tiny_model_dir,
        {"mnli": (HeadKind.SEQUENCE_CLASSIFICATION, 3), "squad": (HeadKind.QUESTION_ANSWERING, None)},
        seed=0,
    )
    encoders = {id(m.base_model) for m in model.task_models.values()}
    assert len(encoders) == 1
    ids = torch.tensor([[0, 10, 11, 2]])
    out = model(task="mnli", input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([1]))
    out.loss.backward()
    ckpt = save_checkpoint(model, load_tokenizer(tiny_model_dir), tmp_path / "mt", {"tasks": ["mnli", "squad"]})
    assert (ckpt / "heads.safetensors").is_file()
    target = build_model(ckpt, HeadKind.QUESTION_ANSWERING, seed=0)
    shared = model.task_models["mnli"].base_model.state_dict()
    assert all(torch.equal(shared[k], v) for k, v in target.base_model.state_dict().items() if not k.startswith("pooler."))


@pytest.mark.parametrize("source", ["/nonexistent/model", "./missing-dir"])
def test_unreadable_model_path_is_a_one_line_error(source: str) -> None:
    with pytest.raises(ModelError) as err:
        build_model(source, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2)
    assert source in str(err.value) and "\n" not in str(err.value)


def test_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        load_tokenizer(tmp_path)


def test_save_checkpoint_leaves_nothing_on_failure(tiny_model_dir: Path, tmp_path: Path) -> None:
    class Broken(torch.nn.Module):
        def save_pretrained(self, path: Path) -> None:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_checkpoint(Broken(), load_tokenizer(tiny_model_dir), tmp_path / "x", {})
    assert list(tmp_path.iterdir()) == []
