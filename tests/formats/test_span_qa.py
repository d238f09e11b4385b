"""Span QA: windows, labels, offsets back to the context, predict, training smoke."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygrid.errors import ConfigError
from raygrid.formats import get_format
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.formats.span_qa import FORMAT, _strip_span
from raygrid.tasks.types import FormatName, Role, TaskSpec

WORDS = ["Paris", "capital", "of", "France", "river", "Seine", "القاهرة", "عاصمة", "مصر", "北京", "上海", "城市", "Москва"]
ZH_CONTEXT = "北京是中华人民共和国的首都。上海是中国最大的城市，也是重要的港口。" * 3
AR_CONTEXT = "القاهرة هي عاصمة مصر وأكبر مدنها، وتقع على نهر النيل. " * 4
EN_CONTEXT = "The Seine flows through Paris. " * 8 + "The Eiffel Tower was built in 1889 for the fair. " + "It is tall. " * 6
SMALL = EncodeSettings(max_seq_length=48, doc_stride=16)


def _task(name: str = "xquad") -> TaskSpec:
    return TaskSpec(
        name=name,
        role=Role.TARGET,
        format=FormatName.SPAN_QA,
        metric="f1",
        languages=("en",),
        hub=None,
        columns=(),
        adapter=dict,
    )


def _row(question: str, context: str, answer: str | None, row_id: str = "q") -> dict[str, Any]:
    if answer is None:
        return {"id": row_id, "question": question, "context": context, "answers": {"text": [], "answer_start": []}}
    start = context.index(answer)
    return {"id": row_id, "question": question, "context": context, "answers": {"text": [answer], "answer_start": [start]}}


@pytest.fixture(scope="module")
def ml_tokenizer():  # type: ignore[no-untyped-def]
    """An XLM-R-style tokenizer (raygrid.testing.tiny's recipe) trained on the
    characters of the contexts one by one plus whole Latin/Arabic words: Han
    characters stay single tokens, so answers that start or end inside a
    Chinese run still fall on token boundaries and offsets are exact."""
    from raygrid.testing.tiny import train_tokenizer

    chars = " ".join(sorted(set(ZH_CONTEXT + AR_CONTEXT + EN_CONTEXT) - {" "}))
    words = " ".join(WORDS[:9] + EN_CONTEXT.split() + AR_CONTEXT.split())
    return train_tokenizer([chars, words])


def _context_ids(input_ids: Sequence[int], tokenizer: Any) -> list[int]:
    # XLM-R pairs: <s> question </s></s> context </s>
    first_sep = list(input_ids).index(tokenizer.sep_token_id)
    return list(input_ids[first_sep + 2 : -1])


def test_registered_and_contract() -> None:
    fmt = get_format("span_qa")
    assert fmt is FORMAT
    assert fmt.head is HeadKind.QUESTION_ANSWERING
    assert fmt.num_labels(_task()) is None


def test_long_context_splits_into_overlapping_windows(ml_tokenizer: Any) -> None:
    rows = Dataset.from_list([_row("When was the tower built?", EN_CONTEXT, "1889")])
    features = FORMAT.encode(rows, ml_tokenizer, _task(), SMALL)
    assert len(features) > 2
    assert all(len(ids) <= SMALL.max_seq_length for ids in features["input_ids"])
    contexts = [_context_ids(ids, ml_tokenizer) for ids in features["input_ids"]]
    for left, right in zip(contexts, contexts[1:]):
        assert left[-SMALL.doc_stride :] == right[: SMALL.doc_stride]


@pytest.mark.parametrize(
    ("context", "answer"),
    [(EN_CONTEXT, "the fair"), (AR_CONTEXT, "عاصمة مصر"), (ZH_CONTEXT, "最大的城市")],
)
def test_training_labels_decode_to_the_answer_or_cls(ml_tokenizer: Any, context: str, answer: str) -> None:
    rows = Dataset.from_list([_row("What?", context, answer)])
    features = FORMAT.encode(rows, ml_tokenizer, _task(), SMALL)
    labelled = 0
    for feature in features:
        start, end = feature["start_positions"], feature["end_positions"]
        if start == 0:
            assert end == 0  # CLS: the answer is not in this window
            continue
        labelled += 1
        assert ml_tokenizer.decode(feature["input_ids"][start : end + 1]) == answer
    assert labelled >= 1


def test_unanswerable_windows_point_at_cls(ml_tokenizer: Any) -> None:
    features = FORMAT.encode(Dataset.from_list([_row("Why?", EN_CONTEXT, None)]), ml_tokenizer, _task("squad_v2"), SMALL)
    assert set(features["start_positions"]) == {0} and set(features["end_positions"]) == {0}


def test_left_padding_tokenizer_puts_the_context_first(ml_tokenizer: Any) -> None:
    import copy

    tok = copy.deepcopy(ml_tokenizer)
    tok.padding_side = "left"
    features = FORMAT.encode(Dataset.from_list([_row("What?", AR_CONTEXT, "نهر النيل")]), tok, _task(), SMALL)
    decoded = [tok.decode(f["input_ids"][f["start_positions"] : f["end_positions"] + 1]) for f in features if f["start_positions"]]
    assert decoded and set(decoded) == {"نهر النيل"}


def test_too_small_max_seq_length_is_a_config_error(ml_tokenizer: Any) -> None:
    rows = Dataset.from_list([_row("What?", EN_CONTEXT, "the fair")])
    with pytest.raises(ConfigError, match="max_seq_length"):
        FORMAT.encode(rows, ml_tokenizer, _task(), EncodeSettings(max_seq_length=20, doc_stride=16))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=5, max_size=80),
    data=st.data(),
)
def test_property_labels_decode_to_random_answers(ml_tokenizer: Any, words: list[str], data: st.DataObject) -> None:
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, min(first + 2, len(words) - 1)))
    context = " ".join(words)
    answer = " ".join(words[first : last + 1])
    start_char = len(" ".join(words[:first])) + (1 if first else 0)
    row = {"id": "p", "question": "Which?", "context": context, "answers": {"text": [answer], "answer_start": [start_char]}}
    stride = 24
    features = FORMAT.encode(Dataset.from_list([row]), ml_tokenizer, _task(), EncodeSettings(64, stride))
    labelled = [f for f in features if f["start_positions"] != 0]
    for feature in labelled:
        assert ml_tokenizer.decode(feature["input_ids"][feature["start_positions"] : feature["end_positions"] + 1]) == answer
    # Windows overlap by `stride` tokens, so a short answer is wholly inside one.
    if len(ml_tokenizer(answer, add_special_tokens=False)["input_ids"]) <= stride:
        assert labelled


class _OracleQA(torch.nn.Module):
    """A stand-in QA model: high start/end logits on the first occurrence of
    any of the given token sequences in a window's context; ``null_logit`` on CLS."""

    def __init__(self, tokenizer: Any, answers: Sequence[tuple[str, str]], null_logit: float = -5.0) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.null_logit = null_logit
        self.targets = []
        for context, answer in answers:
            enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
            lo = context.index(answer)
            hi = lo + len(answer)
            self.targets.append(
                [t for t, (s, e) in zip(enc["input_ids"], enc["offset_mapping"]) if e > lo and s < hi]
            )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> SimpleNamespace:
        start = torch.zeros(input_ids.shape)
        end = torch.zeros(input_ids.shape)
        start[:, 0] = end[:, 0] = self.null_logit
        for row, ids in enumerate(input_ids.tolist()):
            sep = ids.index(self.tokenizer.sep_token_id) + 2
            for target in self.targets:
                for i in range(sep, len(ids) - len(target) + 1):
                    if ids[i : i + len(target)] == target:
                        start[row, i] = 5.0
                        end[row, i + len(target) - 1] = 5.0
                        break
        return SimpleNamespace(start_logits=start, end_logits=end)


def test_predictions_map_back_to_the_original_context_exactly(ml_tokenizer: Any) -> None:
    cases = [(EN_CONTEXT, "built in 1889"), (AR_CONTEXT, "وأكبر مدنها"), (ZH_CONTEXT, "重要的港口")]
    rows = Dataset.from_list([_row("What?", c, a, str(i)) for i, (c, a) in enumerate(cases)])
    model = _OracleQA(ml_tokenizer, cases)
    predictions = FORMAT.predict(model, rows, ml_tokenizer, _task(), EvalSettings(encode=SMALL, batch_size=3))
    assert predictions == [answer for _, answer in cases]
    assert FORMAT.score(predictions, rows, _task()) == {"exact_match": 1.0, "f1": 1.0}


def test_null_answer_rule_squad_v2(ml_tokenizer: Any) -> None:
    cases = [(AR_CONTEXT, "نهر النيل")]
    rows = Dataset.from_list([_row("What?", AR_CONTEXT, "نهر النيل")])
    run = EvalSettings(encode=SMALL)
    # CLS score 2 * 6 = 12 beats the span's 5 + 5 = 10: v2 answers "", v1 cannot.
    confident_null = _OracleQA(ml_tokenizer, cases, null_logit=6.0)
    assert FORMAT.predict(confident_null, rows, ml_tokenizer, _task("squad_v2"), run) == [""]
    assert FORMAT.predict(confident_null, rows, ml_tokenizer, _task("squad"), run) == ["نهر النيل"]
    # CLS score 2 * 4 = 8 < 10: the span wins.
    weak_null = _OracleQA(ml_tokenizer, cases, null_logit=4.0)
    assert FORMAT.predict(weak_null, rows, ml_tokenizer, _task("squad_v2"), run) == ["نهر النيل"]


def test_max_answer_length_excludes_long_spans(ml_tokenizer: Any) -> None:
    cases = [(EN_CONTEXT, "The Eiffel Tower was built in 1889")]
    rows = Dataset.from_list([_row("What?", *cases[0])])
    run = EvalSettings(encode=SMALL, max_answer_length=3)
    (prediction,) = FORMAT.predict(_OracleQA(ml_tokenizer, cases), rows, ml_tokenizer, _task(), run)
    assert len(ml_tokenizer(prediction, add_special_tokens=False)["input_ids"]) <= 3
    assert prediction in EN_CONTEXT


def test_strip_span_drops_the_leading_space_of_sentencepiece_offsets() -> None:
    # Some XLM-R tokenizer versions give "▁Paris" the offsets of " Paris".
    context = "in Paris today"
    assert _strip_span(context, 2, 8) == "Paris"
    assert _strip_span(context, 2, 3) == ""


@pytest.fixture(scope="module")
def qa_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(0)
    return AutoModelForQuestionAnswering.from_pretrained(tiny_model_dir)


def _mixed_rows() -> Dataset:
    return Dataset.from_list(
        [
            _row("When?", EN_CONTEXT, "1889", "en"),
            _row("ما؟", AR_CONTEXT, "عاصمة مصر", "ar"),
            _row("什么？", ZH_CONTEXT, "上海", "zh"),
            _row("Why?", "A short context.", None, "v2"),
        ]
    )


@pytest.mark.parametrize("task_name", ["xquad", "squad_v2"])
def test_predict_on_tiny_model_returns_substrings(qa_model: Any, tiny_tokenizer: Any, task_name: str) -> None:
    rows = _mixed_rows()
    predictions = FORMAT.predict(qa_model, rows, tiny_tokenizer, _task(task_name), EvalSettings(encode=SMALL, batch_size=4))
    assert len(predictions) == len(rows)
    for prediction, context in zip(predictions, rows["context"]):
        assert isinstance(prediction, str)
        assert prediction in context
        assert prediction == prediction.strip()
    scores = FORMAT.score(predictions, rows, _task(task_name), language="en")
    assert set(scores) == {"exact_match", "f1"}
    assert 0.0 <= scores["exact_match"] <= scores["f1"] <= 1.0


def test_two_training_steps_give_a_finite_loss(tiny_model_dir: Path, tiny_tokenizer: Any) -> None:
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(0)
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_model_dir)
    features = FORMAT.encode(_mixed_rows(), tiny_tokenizer, _task("squad_v2"), SMALL)
    rows = [features[i] for i in range(len(features))]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for step in range(2):
        batch = FORMAT.collate(rows[step * 4 : step * 4 + 4], tiny_tokenizer.pad_token_id)
        assert set(batch) == {"input_ids", "attention_mask", "start_positions", "end_positions"}
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
