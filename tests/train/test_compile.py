"""``TrainConfig.compile``: the training step runs through torch.compile."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from raygrid.cell import phase_data, phase_model
from raygrid.models import load_tokenizer
from raygrid.tasks import DataSources, get_task
from raygrid.train import TrainConfig
from raygrid.train.loop import train_phase


def test_compile_is_an_execution_setting_not_part_of_the_key() -> None:
    assert "compile" not in TrainConfig(compile=True).to_dict()
    assert TrainConfig(compile=True).to_dict() == TrainConfig().to_dict()


@pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch.compile unavailable")
def test_a_compiled_tiny_model_trains(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = []
    real = torch.compile

    def spy(model, **kwargs):  # type: ignore[no-untyped-def]
        compiled.append(kwargs)
        # dynamo graph capture + AOT autograd, without inductor's slow code generation
        return real(model, backend="aot_eager", **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    tokenizer = load_tokenizer(tiny_model_dir)
    task = get_task("xnli")
    config = TrainConfig(learning_rate=1e-3, num_epochs=1, batch_size=8, max_seq_length=32, doc_stride=8, compile=True)
    data = phase_data(task, DataSources(bundled=True), tokenizer, config, max_train_examples=8, max_eval_examples=4)
    model = phase_model(str(tiny_model_dir), [task], seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    result = train_phase(model, [data], config, tokenizer)
    assert compiled == [{"dynamic": True}]
    assert result.steps == 1 and result.history and torch.isfinite(torch.tensor(result.history[-1]["train_loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
