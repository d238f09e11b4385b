"""Retrieval (BUCC, Tatoeba): metrics by hand, threshold tuning, predict on the tiny encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import Dataset

from raygrid.errors import ConfigError, DataError
from raygrid.formats import get_format, retrieval
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.formats.retrieval import FORMAT, bucc_f1, default_retrieval_layer, distinct_targets, tune_threshold
from raygrid.tasks.types import FormatName, Role, TaskSpec


def _task(metric: str, name: str | None = None) -> TaskSpec:
    return TaskSpec(
        name=name or ("tatoeba" if metric == "accuracy" else "bucc"),
        role=Role.TARGET,
        format=FormatName.RETRIEVAL,
        metric=metric,
        languages=("de",),
        hub=None,
        columns=(),
        adapter=dict,
    )


TATOEBA, BUCC = _task("accuracy"), _task("f1")

# Four gold pairs, a source without translation (row 4), a distractor target (row 5).
# Distinct targets: t0 t1 t2 t3 (rows 0-3), "noise" (row 5) -> indices 0..4.
ROWS = [
    {"source": "s0", "target": "t0"},
    {"source": "s1", "target": "t1"},
    {"source": "s2", "target": "t2"},
    {"source": "s3", "target": "t3"},
    {"source": "s4", "target": ""},
    {"source": "", "target": "noise"},
]
# (predicted target index, cosine); rows 0, 1, 3 correct; 2 and 4 wrong.
PREDICTIONS = [(0, 0.9), (1, 0.8), (0, 0.7), (3, 0.65), (2, 0.6), None]


def test_registered_and_contract() -> None:
    fmt = get_format("retrieval")
    assert fmt is FORMAT
    assert fmt.head is HeadKind.ENCODER
    assert fmt.num_labels(BUCC) is None


def test_encode_refuses_training() -> None:
    with pytest.raises(DataError, match="no training data"):
        FORMAT.encode(Dataset.from_list(ROWS), None, TATOEBA, EncodeSettings())  # type: ignore[arg-type]


def test_distinct_targets_keep_row_order_and_skip_empty() -> None:
    rows = ROWS + [{"source": "s6", "target": "t1"}]  # a repeated target keeps its first index
    assert distinct_targets(rows) == ["t0", "t1", "t2", "t3", "noise"]


def test_bucc_f1_by_hand() -> None:
    # extracted {(0,0),(1,1),(2,3)}, gold {(0,0),(1,1),(2,2),(3,3)}: 2 correct
    # P = 2/3, R = 2/4, F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
    scores = bucc_f1({(0, 0), (1, 1), (2, 3)}, {(0, 0), (1, 1), (2, 2), (3, 3)})
    assert scores == pytest.approx({"precision": 2 / 3, "recall": 1 / 2, "f1": 4 / 7})
    assert bucc_f1([], [(0, 0)]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_bucc_score_with_a_given_threshold() -> None:
    # threshold 0.68 extracts rows 0 (0.9), 1 (0.8), 2 (0.7): 2 correct of 3;
    # gold has 4 pairs: P = 2/3, R = 1/2, F1 = 4/7.
    scores = FORMAT.score(PREDICTIONS, Dataset.from_list(ROWS), BUCC, calibration=0.68)
    assert scores == pytest.approx({"precision": 2 / 3, "recall": 1 / 2, "f1": 4 / 7, "threshold": 0.68})
    # The dev result dict works as calibration too.
    assert FORMAT.score(PREDICTIONS, ROWS, BUCC, calibration={"threshold": 0.68}) == scores  # type: ignore[arg-type]


def test_tune_threshold_maximises_f1() -> None:
    # Sorted: 0.9 C, 0.8 C, 0.7 W, 0.65 C, 0.6 W (gold = 4); F1 = 2c / (e + 4):
    # e=1: 2/5 = .40   e=2: 4/6 = .67   e=3: 4/7 = .57   e=4: 6/8 = .75   e=5: 6/9 = .67
    # best cut after 0.65 -> threshold = (0.65 + 0.6) / 2 = 0.625.
    threshold = tune_threshold(PREDICTIONS, ROWS)
    assert threshold == pytest.approx(0.625)
    scores = FORMAT.score(PREDICTIONS, ROWS, BUCC)  # type: ignore[arg-type]
    assert scores == pytest.approx({"precision": 0.75, "recall": 0.75, "f1": 0.75, "threshold": 0.625})


def test_tune_threshold_keeps_ties_together_and_handles_edges() -> None:
    rows = [{"source": "a", "target": "x"}, {"source": "b", "target": "y"}]
    # Equal scores, one right one wrong: no threshold separates them, so both
    # are kept (F1 = 2*1/(2+2) = 0.5) and the threshold is their score.
    assert tune_threshold([(0, 0.5), (0, 0.5)], rows) == pytest.approx(0.5)
    # Nothing correct: the threshold sits above the best score; nothing is extracted.
    threshold = tune_threshold([(1, 0.5), (0, 0.4)], rows)
    assert threshold > 0.5
    assert FORMAT.score([(1, 0.5), (0, 0.4)], rows, BUCC, calibration=threshold)["precision"] == 0.0  # type: ignore[arg-type]


def test_tatoeba_accuracy_by_hand() -> None:
    # Gold rows 0-3; rows 0, 1, 3 retrieve their translation: 3 / 4.
    assert FORMAT.score(PREDICTIONS, ROWS, TATOEBA) == {"accuracy": 0.75}  # type: ignore[arg-type]


def test_unknown_metric_and_length_mismatch() -> None:
    with pytest.raises(ConfigError, match="metric"):
        FORMAT.score(PREDICTIONS, ROWS, _task("map"))  # type: ignore[arg-type]
    with pytest.raises(DataError):
        FORMAT.score(PREDICTIONS[:2], ROWS, TATOEBA)  # type: ignore[arg-type]


def test_default_layer_scales_xtreme_layer_14_of_24() -> None:
    assert [default_retrieval_layer(n) for n in (24, 12, 6, 2)] == [14, 7, 4, 1]


def test_nearest_is_chunked_without_changing_results(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(0)
    sources = torch.nn.functional.normalize(torch.randn(50, 8, generator=generator), dim=-1)
    targets = torch.nn.functional.normalize(torch.randn(30, 8, generator=generator), dim=-1)
    full_index, full_score = retrieval._nearest(sources, targets, "cpu")
    monkeypatch.setattr(retrieval, "_SIMILARITY_CHUNK_FLOATS", 7 * 30)  # 7 sources per chunk
    index, score = retrieval._nearest(sources, targets, "cpu")
    assert (index == full_index).all()
    assert score == pytest.approx(full_score, abs=1e-6)  # BLAS blocking differs per chunk shape
    assert (full_index == (sources @ targets.T).argmax(dim=1).numpy()).all()


@pytest.fixture(scope="module")
def encoder(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModel

    return AutoModel.from_pretrained(tiny_model_dir)


SENTENCES = ["Der Hund schläft.", "The cat sleeps.", "北京是首都。", "القاهرة مدينة كبيرة.", "Москва — столица."]


def test_predict_returns_valid_indices(encoder: Any, tiny_tokenizer: Any) -> None:
    rows = [{"source": s, "target": t} for s, t in zip(SENTENCES, reversed(SENTENCES))]
    rows += [{"source": "Ein Satz ohne Übersetzung.", "target": ""}, {"source": "", "target": "A distractor."}]
    predictions = FORMAT.predict(encoder, Dataset.from_list(rows), tiny_tokenizer, BUCC, EvalSettings(batch_size=3))
    assert len(predictions) == len(rows)
    assert predictions[-1] is None
    n_targets = len(distinct_targets(rows))
    for prediction in predictions[:-1]:
        assert prediction is not None
        index, cosine = prediction
        assert 0 <= index < n_targets
        assert -1.0 - 1e-5 <= cosine <= 1.0 + 1e-5
    scores = FORMAT.score(predictions, rows, BUCC)  # type: ignore[arg-type]
    assert {"precision", "recall", "f1", "threshold"} == set(scores)


@pytest.mark.parametrize("layer", [None, 0, 2])
def test_identical_sentences_are_retrieved_perfectly(encoder: Any, tiny_tokenizer: Any, layer: int | None) -> None:
    rows = Dataset.from_list([{"source": s, "target": s} for s in SENTENCES])
    run = EvalSettings(batch_size=2, retrieval_layer=layer)
    predictions = FORMAT.predict(encoder, rows, tiny_tokenizer, TATOEBA, run)
    assert [p[0] for p in predictions] == list(range(len(SENTENCES)))  # type: ignore[index]
    assert all(p[1] == pytest.approx(1.0, abs=1e-5) for p in predictions)  # type: ignore[index]
    assert FORMAT.score(predictions, rows, TATOEBA) == {"accuracy": 1.0}


def test_layer_out_of_range_is_a_config_error(encoder: Any, tiny_tokenizer: Any) -> None:
    rows = Dataset.from_list([{"source": "a", "target": "b"}])
    with pytest.raises(ConfigError, match="retrieval_layer"):
        FORMAT.predict(encoder, rows, tiny_tokenizer, TATOEBA, EvalSettings(retrieval_layer=3))


def test_predict_keeps_the_model_mode(encoder: Any, tiny_tokenizer: Any) -> None:
    encoder.train()
    try:
        FORMAT.predict(encoder, Dataset.from_list([{"source": "a", "target": "b"}]), tiny_tokenizer, TATOEBA, EvalSettings())
        assert encoder.training
    finally:
        encoder.eval()
