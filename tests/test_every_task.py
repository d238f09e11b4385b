"""Every catalogue task: its hub-schema fixture through the real loader, a few
training steps on the tiny model (retrieval: encoding only), and its real
metric, per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygrid.cell import phase_data
from raygrid.evaluate import evaluate_languages
from raygrid.formats import EncodeSettings, EvalSettings, HeadKind, get_format
from raygrid.models import build_model, load_tokenizer
from raygrid.tasks import DataSources, all_tasks, get_task
from raygrid.tasks.types import Role
from raygrid.train import TrainConfig
from raygrid.train.loop import train_phase

SOURCES = DataSources(bundled=True)


def _languages(languages: tuple[str, ...]) -> list[str]:
    # English plus one language of another script, where the task has them
    others = [lang for lang in ("ar", "zh", "hi", "ru", "th", "ja", "de") if lang in languages]
    return ["en", *others[:1]] if "en" in languages else list(languages[:2])


@pytest.mark.parametrize("name", [t.name for t in all_tasks()])
def test_task_trains_and_evaluates(name: str, tiny_model_dir: Path) -> None:
    task = get_task(name)
    tokenizer = load_tokenizer(tiny_model_dir)
    fmt = get_format(task.format)
    qa = task.format.value == "span_qa"
    length = 96 if qa else 48
    if task.trainable:
        config = TrainConfig(
            learning_rate=1e-3, num_epochs=1, batch_size=8, max_seq_length=length, doc_stride=32, seed=0
        )
        data = phase_data(task, SOURCES, tokenizer, config, max_train_examples=16, max_eval_examples=8)
        assert len(data.train) >= 16  # QA windows: one or more features per example
        model = build_model(tiny_model_dir, fmt.head, num_labels=fmt.num_labels(task), seed=0)
        result = train_phase(model, [data], config, tokenizer)
        assert result.steps == -(-len(data.train) // 8)
        value = result.metrics[f"{task.name}/{task.metric}"]
        assert 0.0 <= value <= 1.0
    else:
        model = build_model(tiny_model_dir, HeadKind.ENCODER)
    if task.role is Role.TARGET:
        settings = EvalSettings(encode=EncodeSettings(max_seq_length=length, doc_stride=32), batch_size=16)
        results = evaluate_languages(
            model, tokenizer, task, _languages(task.languages), SOURCES, settings=settings, max_examples=8
        )
        for r in results:
            assert r.n_examples > 0 and 0.0 <= r.metrics[task.metric] <= 1.0, r
