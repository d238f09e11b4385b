"""The training loop on the tiny model with a hand-made, learnable task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from raygrid.formats import EncodeSettings, HeadKind, get_format
from raygrid.models import build_model, build_multitask_model, load_tokenizer
from raygrid.tasks.types import FormatName, Role, TaskSpec
from raygrid.train import TrainConfig
from raygrid.train.loop import EvalEvent, NonFiniteLoss, TaskData, train_phase


def _task(name: str) -> TaskSpec:
    return TaskSpec(
        name=name,
        role=Role.INTERMEDIATE,
        format=FormatName.CLASSIFICATION,
        metric="accuracy",
        languages=("en",),
        hub=None,
        columns=("text_a", "label"),
        adapter=dict,
        label_names=("no", "yes"),
    )


def _rows(n: int, offset: int = 0):  # type: ignore[no-untyped-def]
    from datasets import Dataset

    # label 1 iff the sentence mentions a river or a city: learnable from one word
    words = ["river", "city", "market", "train"]
    rows = [
        {"text_a": f"the {words[(i + offset) % 4]} is near", "text_b": None, "label": int((i + offset) % 4 < 2)}
        for i in range(n)
    ]
    return Dataset.from_list(rows)


def _data(task: TaskSpec, tokenizer: Any, n: int = 64) -> TaskData:
    fmt = get_format(task.format)
    train = fmt.encode(_rows(n), tokenizer, task, EncodeSettings(max_seq_length=32))
    return TaskData(task=task, train=train, dev=_rows(24, offset=1))


class Recorder:
    def __init__(self) -> None:
        self.events: list[EvalEvent] = []

    def on_evaluate(self, event: EvalEvent, model: torch.nn.Module) -> None:
        self.events.append(event)


CONFIG = TrainConfig(learning_rate=1e-3, num_epochs=8, batch_size=8, max_seq_length=32, doc_stride=8, warmup_ratio=0.1)


def test_one_phase_learns_reports_and_is_deterministic(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    task = _task("toy")
    runs = []
    for _ in range(2):
        model = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2, seed=0)
        recorder = Recorder()
        result = train_phase(model, [_data(task, tokenizer)], CONFIG, tokenizer, callbacks=[recorder])
        runs.append((result, model.classifier.out_proj.weight.detach().clone(), recorder.events))
    (result, weight, events), (result2, weight2, _) = runs
    assert result.steps == 64  # 8 epochs x 64 / 8
    assert [e.step for e in events] == list(range(8, 65, 8))  # one dev evaluation per epoch
    assert result.metrics["toy/accuracy"] == result.objective == max(e.metrics["objective"] for e in events)
    assert result.objective >= 0.9  # "river" vs the rest is one token away
    assert torch.equal(weight, weight2) and result.history == result2.history
    assert result.examples_seen == 64 * 8 and 0 < result.tokens_seen <= result.padded_tokens


def test_gradient_accumulation_keeps_the_effective_batch(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    config = TrainConfig(**{**CONFIG.to_dict(), "grad_accumulation_steps": 4, "num_epochs": 1})
    model = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2, seed=0)
    result = train_phase(model, [_data(_task("toy"), tokenizer)], config, tokenizer)
    assert result.steps == 8 and result.examples_seen == 64


def test_multitask_mixture_trains_every_head(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    a, b = _task("a"), _task("b")
    model = build_multitask_model(
        tiny_model_dir, {"a": (HeadKind.SEQUENCE_CLASSIFICATION, 2), "b": (HeadKind.SEQUENCE_CLASSIFICATION, 2)}
    )
    before = {k: v.clone() for k, v in model.head_state_dict().items()}
    config = TrainConfig(**{**CONFIG.to_dict(), "num_epochs": 1})
    result = train_phase(model, [_data(a, tokenizer, 64), _data(b, tokenizer, 32)], config, tokenizer)
    after = model.head_state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith("out_proj.weight"))
    assert {"a/accuracy", "b/accuracy", "objective"} <= set(result.metrics)
    assert result.steps == 12  # ceil((64 + 32) / 8)


def test_nan_loss_raises(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    model = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2, seed=0)
    with torch.no_grad():
        model.classifier.out_proj.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLoss):
        train_phase(model, [_data(_task("toy"), tokenizer)], CONFIG, tokenizer)


class Interrupt(Exception):
    pass


class SaveAndStop:
    """Saves the resumable state at one evaluation, then kills the phase."""

    def __init__(self, at_step: int, path: Path) -> None:
        self.at_step, self.path = at_step, path

    def on_evaluate(self, event: EvalEvent, model: torch.nn.Module) -> None:
        if event.step == self.at_step:
            event.save_state(self.path)
            raise Interrupt


@pytest.mark.parametrize("multitask", [False, True])
def test_resumed_phase_ends_exactly_like_an_uninterrupted_one(
    tiny_model_dir: Path, tmp_path: Path, multitask: bool
) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    config = TrainConfig(**{**CONFIG.to_dict(), "num_epochs": 3, "evals_per_epoch": 2})
    tasks = [_task("a"), _task("b")] if multitask else [_task("a")]

    def fresh() -> torch.nn.Module:
        if multitask:
            return build_multitask_model(
                tiny_model_dir, {t.name: (HeadKind.SEQUENCE_CLASSIFICATION, 2) for t in tasks}, seed=0
            )
        return build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=2, seed=0)

    data = [_data(t, tokenizer, 32) for t in tasks]
    straight = fresh()
    expected = train_phase(straight, data, config, tokenizer)

    interrupted = fresh()
    with pytest.raises(Interrupt):
        train_phase(interrupted, data, config, tokenizer, callbacks=[SaveAndStop(expected.steps // 2, tmp_path / "s")])
    resumed = fresh()  # a new process would start from scratch weights
    result = train_phase(resumed, data, config, tokenizer, resume_from=tmp_path / "s")
    assert result.history == expected.history and result.best_step == expected.best_step
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
