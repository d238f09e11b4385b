"""Extractive question answering: SQuAD v1.1/v2, XQuAD, MLQA, TyDiQA-GoldP.

Canonical row (:mod:`raygrid.tasks.types`)::

    {"id": str, "question": str, "context": str,
     "answers": {"text": list[str], "answer_start": list[int]}}

Features follow Hugging Face's ``examples/pytorch/question-answering/run_qa.py``
(``prepare_train_features``, ``prepare_validation_features`` and
``utils_qa.postprocess_qa_predictions``):

* question first, context second, ``truncation="only_second"`` (reversed for
  a tokenizer that pads on the left); a long context is cut into windows of
  ``max_seq_length`` tokens that overlap by ``doc_stride`` tokens;
* a training window is labelled with the first gold answer's first and last
  token, or with the CLS token (index 0) when the answer is not wholly inside
  the window or the question is unanswerable (SQuAD v2);
* prediction scores every span of the top ``n_best`` starts x ``n_best`` ends
  of every window (start <= end, at most ``max_answer_length`` tokens, both
  ends in the context) by ``start_logit + end_logit``, and maps the best one
  back to the *original* context string through the tokenizer's character
  offsets.

Null answers (SQuAD v2 only, see :data:`NULL_ANSWER_TASKS`): the null score
of an example is the smallest ``start_logit[CLS] + end_logit[CLS]`` over its
windows; the prediction is ``""`` when that score is strictly greater than the
best span's score, i.e. ``null_score_diff_threshold = 0`` as in run_qa.py's
default. Other tasks always answer with a span.

Metrics: the official evaluation scripts, in :mod:`raygrid.formats.qa_metrics`
(pure Python, re-exported here). :func:`normalize_answer` follows MLQA's
``mlqa_evaluation_v1.py`` (facebookresearch/MLQA), which generalises SQuAD
v1.1's ``evaluate-v1.1.py``; exact match and F1 are maxima over the gold
answers, averaged over rows, as fractions in [0, 1] (the official scripts
print percent).

Example:
    >>> normalize_answer("The  Eiffel Tower!", "en")
    'eiffel tower'
    >>> round(qa_f1("the tower", "Eiffel Tower", "en"), 3)
    0.667
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from raygrid.errors import ConfigError
from raygrid.formats._common import collate_features, predict_in_batches
from raygrid.formats.base import EncodeSettings, EvalSettings, HeadKind
from raygrid.formats.qa_metrics import (
    MLQA_LANGUAGES,
    gold_answers,
    normalize_answer,
    qa_exact_match,
    qa_f1,
    squad_scores,
)
from raygrid.tasks.types import FormatName, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------

#: Tasks whose questions may be unanswerable, so that prediction may answer "".
NULL_ANSWER_TASKS: frozenset[str] = frozenset({"squad_v2", "squadv2", "squad2"})

#: Longest question, in tokens: BERT's and XTREME's run_squad.py
#: ``max_query_length``. run_qa.py has no such cap, but then a long question
#: leaves no room for the context and the tokenizer raises.
MAX_QUERY_LENGTH = 64

# Feature columns the QA head takes (token_type_ids only where the tokenizer
# produces them; XLM-R's does not).
_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_LABELS = ("start_positions", "end_positions")
# Examples tokenised per call in predict(), to bound the memory of offsets.
_PREDICT_CHUNK = 1024


def _column(rows: Dataset | Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    if isinstance(rows, Sequence):
        return [row[name] for row in rows]
    return list(rows[name])


def _pad_on_right(tokenizer: PreTrainedTokenizerBase) -> bool:
    # run_qa.py: with left padding, the context goes first, so that the
    # truncated (and padded) side is still the context.
    return tokenizer.padding_side == "right"


def _question_budget(tokenizer: PreTrainedTokenizerBase, settings: EncodeSettings) -> int:
    """Question tokens kept so that each window has more than ``doc_stride``
    context tokens (the tokenizer's condition for overflowing windows)."""
    special = tokenizer.num_special_tokens_to_add(pair=True)
    budget = min(MAX_QUERY_LENGTH, settings.max_seq_length - settings.doc_stride - special - 1)
    if budget < 1:
        raise ConfigError(
            f"span QA: max_seq_length {settings.max_seq_length} leaves no room for a question "
            f"with doc_stride {settings.doc_stride} and {special} special tokens; "
            f"allowed: max_seq_length > doc_stride + {special + 1}"
        )
    return budget


def _truncate_questions(
    questions: Sequence[str], tokenizer: PreTrainedTokenizerBase, budget: int
) -> list[str]:
    # run_qa.py strips the questions' leading whitespace ("some of the
    # questions have lots of whitespace on the left").
    stripped = [question.lstrip() for question in questions]
    encoded = tokenizer(stripped, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for question, offsets in zip(stripped, encoded["offset_mapping"]):
        out.append(question[: offsets[budget - 1][1]] if len(offsets) > budget else question)
    return out


def _tokenize(
    questions: Sequence[str],
    contexts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    settings: EncodeSettings,
) -> Any:
    """Windows of (question, context) pairs, unpadded, with offsets and the
    ``overflow_to_sample_mapping`` from window to example."""
    questions = _truncate_questions(questions, tokenizer, _question_budget(tokenizer, settings))
    pad_on_right = _pad_on_right(tokenizer)
    return tokenizer(
        list(questions) if pad_on_right else list(contexts),
        list(contexts) if pad_on_right else list(questions),
        truncation="only_second" if pad_on_right else "only_first",
        max_length=settings.max_seq_length,
        stride=settings.doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def _cls_index(input_ids: Sequence[int], tokenizer: PreTrainedTokenizerBase) -> int:
    cls_id = tokenizer.cls_token_id
    return input_ids.index(cls_id) if cls_id is not None and cls_id in input_ids else 0


def answer_token_span(
    offsets: Sequence[tuple[int, int]],
    sequence_ids: Sequence[int | None],
    context_index: int,
    start_char: int,
    end_char: int,
) -> tuple[int, int] | None:
    """The first and last token of a window covering ``[start_char, end_char)``.

    run_qa.py's ``prepare_train_features``: ``None`` when the characters are
    not wholly inside the window's context part.

    Args:
        offsets: per token, its ``(start, end)`` characters in its sequence.
        sequence_ids: per token, 0 (first sequence), 1 (second) or ``None``.
        context_index: which sequence is the context.
        start_char: the answer's first character in the context.
        end_char: one past its last character.

    Returns:
        ``(start_token, end_token)`` (inclusive) or ``None``.
    """
    context_tokens = [i for i, seq in enumerate(sequence_ids) if seq == context_index]
    if not context_tokens:
        return None
    first, last = context_tokens[0], context_tokens[-1]
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return None
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    start, end = start - 1, end + 1
    if start > end:
        # Departure from run_qa.py, which emits start > end here: several
        # tokens share one character span (byte-fallback pieces of an unknown
        # character all carry the offsets of their whole word). Label the
        # tokens that overlap the answer instead.
        overlapping = [i for i in context_tokens if offsets[i][1] > start_char and offsets[i][0] < end_char]
        if not overlapping:
            return None
        start, end = overlapping[0], overlapping[-1]
    return start, end


@dataclass(frozen=True)
class SpanQAFormat:
    """The span QA format: the QA head's start/end logits over windows.

    Example:
        >>> FORMAT.head.value
        'question_answering'
    """

    name: FormatName = FormatName.SPAN_QA
    head: HeadKind = HeadKind.QUESTION_ANSWERING

    def num_labels(self, task: TaskSpec) -> int | None:
        """``None``: the QA head always has two outputs (start, end)."""
        return None

    def encode(
        self,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EncodeSettings,
    ) -> Dataset:
        """Training windows with ``start_positions``/``end_positions``.

        One example yields one or more windows; each window is labelled with
        its tokens of the first gold answer, or CLS (0) when the answer is not
        wholly inside it or the question is unanswerable.

        Args:
            rows: canonical span QA rows.
            tokenizer: a fast tokenizer (character offsets are needed).
            task: the task (unused; the rows carry everything).
            settings: ``max_seq_length`` and ``doc_stride`` (overlap in tokens).

        Returns:
            A dataset with ``input_ids``, ``attention_mask`` (and
            ``token_type_ids`` where the tokenizer makes them),
            ``start_positions``, ``end_positions``; one row per window.
        """
        _require_fast(tokenizer)
        _question_budget(tokenizer, settings)  # fail before map() on a bad setting

        def windows(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            return _training_windows(batch, tokenizer, settings)

        return rows.map(windows, batched=True, remove_columns=rows.column_names)

    def collate(self, features: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
        """Pads windows to the longest in the batch (``input_ids`` with
        ``pad_token_id``, masks and type ids with 0) and stacks the labels."""
        keys = [key for key in (*_MODEL_INPUTS, *_LABELS) if key in features[0]]
        return collate_features(features, pad_token_id, keys=keys)

    def predict(
        self,
        model: PreTrainedModel,
        rows: Dataset,
        tokenizer: PreTrainedTokenizerBase,
        task: TaskSpec,
        settings: EvalSettings,
    ) -> list[str]:
        """One answer string per row: a substring of its context, or ``""``
        (null answer, only for :data:`NULL_ANSWER_TASKS`).

        Args:
            model: an ``AutoModelForQuestionAnswering``.
            rows: canonical span QA rows (the gold answers are not read).
            tokenizer: the model's fast tokenizer.
            task: the task; its name decides whether null answers are allowed.
            settings: windowing (must match training), batch size, device,
                ``max_answer_length`` (tokens) and ``n_best``.

        Returns:
            The predicted answers, in row order.
        """
        _require_fast(tokenizer)
        allow_null = task.name in NULL_ANSWER_TASKS
        questions = _column(rows, "question")
        contexts = _column(rows, "context")
        answers: list[str] = []
        for lo in range(0, len(contexts), _PREDICT_CHUNK):
            hi = lo + _PREDICT_CHUNK
            answers.extend(
                _predict_chunk(model, questions[lo:hi], contexts[lo:hi], tokenizer, settings, allow_null)
            )
        return answers

    def score(
        self,
        predictions: Sequence[str],
        rows: Dataset,
        task: TaskSpec,
        *,
        calibration: Any = None,
        language: str = "en",
    ) -> dict[str, float]:
        """SQuAD/MLQA exact match and F1, as fractions in [0, 1].

        Args:
            predictions: one answer string per row.
            rows: canonical rows with their gold ``answers``.
            task: the task (unused).
            calibration: unused (QA has nothing to calibrate).
            language: the rows' language; selects :func:`normalize_answer`'s
                rules. Evaluation passes it per language; default English.

        Returns:
            ``{"exact_match": ..., "f1": ...}``.
        """
        golds = [gold_answers(answers) for answers in _column(rows, "answers")]
        return squad_scores(predictions, golds, language)


def _require_fast(tokenizer: PreTrainedTokenizerBase) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"span QA needs a fast tokenizer (character offsets); got {type(tokenizer).__name__}"
        )


def _training_windows(
    batch: Mapping[str, list[Any]], tokenizer: PreTrainedTokenizerBase, settings: EncodeSettings
) -> dict[str, list[Any]]:
    encoded = _tokenize(batch["question"], batch["context"], tokenizer, settings)
    context_index = 1 if _pad_on_right(tokenizer) else 0
    out: dict[str, list[Any]] = {key: [] for key in (*_MODEL_INPUTS, *_LABELS) if key in encoded or key in _LABELS}
    for window, example in enumerate(encoded["overflow_to_sample_mapping"]):
        input_ids = encoded["input_ids"][window]
        for key in _MODEL_INPUTS:
            if key in encoded:
                out[key].append(encoded[key][window])
        cls = _cls_index(input_ids, tokenizer)
        answers = batch["answers"][example]
        span = None
        if answers["answer_start"] and answers["text"][0]:
            # run_qa.py trains on the first gold answer only.
            start_char = int(answers["answer_start"][0])
            end_char = start_char + len(answers["text"][0])
            span = answer_token_span(
                encoded["offset_mapping"][window], encoded.sequence_ids(window), context_index, start_char, end_char
            )
        start, end = span if span is not None else (cls, cls)
        out["start_positions"].append(start)
        out["end_positions"].append(end)
    return out


def _predict_chunk(
    model: PreTrainedModel,
    questions: Sequence[str],
    contexts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    settings: EvalSettings,
    allow_null: bool,
) -> list[str]:
    encoded = _tokenize(questions, contexts, tokenizer, settings.encode)
    context_index = 1 if _pad_on_right(tokenizer) else 0
    features = [
        {key: encoded[key][i] for key in _MODEL_INPUTS if key in encoded}
        for i in range(len(encoded["input_ids"]))
    ]
    logits = _run_model(model, features, tokenizer, settings)

    best_score = np.full(len(contexts), -np.inf)
    best_span: list[tuple[int, int] | None] = [None] * len(contexts)
    null_score = np.full(len(contexts), np.inf)
    for window, example in enumerate(encoded["overflow_to_sample_mapping"]):
        starts, ends = logits[window]
        cls = _cls_index(features[window]["input_ids"], tokenizer)
        # utils_qa.py keeps the smallest null score over the windows.
        null_score[example] = min(null_score[example], float(starts[cls] + ends[cls]))
        in_context = np.array([seq == context_index for seq in encoded.sequence_ids(window)])
        found = _best_span(starts, ends, in_context, settings.n_best, settings.max_answer_length)
        if found is not None and found[0] > best_score[example]:
            offsets = encoded["offset_mapping"][window]
            best_score[example] = found[0]
            best_span[example] = (offsets[found[1]][0], offsets[found[2]][1])

    answers = []
    for example, context in enumerate(contexts):
        span = best_span[example]
        # Null answer when the CLS score beats the best span (threshold 0).
        if span is None or (allow_null and null_score[example] > best_score[example]):
            answers.append("")
        else:
            answers.append(_strip_span(context, *span))
    return answers


def _best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, in_context: np.ndarray, n_best: int, max_answer_length: int
) -> tuple[float, int, int] | None:
    """``(score, start, end)`` of the best valid span among the top ``n_best``
    starts x ``n_best`` ends, or ``None`` when no pair is valid."""
    starts = np.argsort(start_logits)[::-1][:n_best]
    ends = np.argsort(end_logits)[::-1][:n_best]
    length = ends[None, :] - starts[:, None] + 1  # tokens, [n_best starts, n_best ends]
    valid = (length >= 1) & (length <= max_answer_length)
    valid &= in_context[starts][:, None] & in_context[ends][None, :]
    if not valid.any():
        return None
    scores = np.where(valid, start_logits[starts][:, None] + end_logits[ends][None, :], -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), int(starts[i]), int(ends[j])


def _strip_span(context: str, start: int, end: int) -> str:
    # XLM-R's SentencePiece marks a word start with "▁"; depending on the
    # tokenizer version its offsets may include the preceding space. Trim
    # whitespace so the answer is exactly the context's characters.
    while start < end and context[start].isspace():
        start += 1
    while end > start and context[end - 1].isspace():
        end -= 1
    return context[start:end]


def _run_model(
    model: PreTrainedModel,
    features: Sequence[dict[str, Any]],
    tokenizer: PreTrainedTokenizerBase,
    settings: EvalSettings,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start and end logits (float32, unpadded) per feature, in feature order."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def per_row(batch: dict[str, torch.Tensor], output: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        starts = output.start_logits.float().cpu().numpy()
        ends = output.end_logits.float().cpu().numpy()
        return [(starts[i, :n], ends[i, :n]) for i, n in enumerate(lengths)]

    return predict_in_batches(
        model,
        features,
        lambda batch: collate_features(batch, pad_id, keys=[k for k in _MODEL_INPUTS if k in batch[0]]),
        per_row,
        lengths=[len(f["input_ids"]) for f in features],
        batch_size=settings.batch_size,
        device=settings.device,
    )


FORMAT = SpanQAFormat()

__all__ = [
    "FORMAT",
    "MLQA_LANGUAGES",
    "NULL_ANSWER_TASKS",
    "SpanQAFormat",
    "answer_token_span",
    "gold_answers",
    "normalize_answer",
    "qa_exact_match",
    "qa_f1",
    "squad_scores",
]
