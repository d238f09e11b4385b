"""The bundled fixtures: current with the generator, in each dataset's hub schema, and valid."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from raygrid.tasks import FormatName, Role, Split, all_tasks, available_splits, fixture_path, get_task
from raygrid.tasks.sources import FIXTURES_DIR
from raygrid.testing import fixtures

#: The hub column schema of the shipped tasks (CCG: raygrid's local schema),
#: with the Python type of each value as it comes out of ``datasets`` / json,
#: as checked on the hub; a task added later is checked against its own
#: declared columns and for one schema across its rows.
HUB_SCHEMAS: dict[str, dict[str, type]] = {
    "mnli": {"premise": str, "hypothesis": str, "label": int, "idx": int},
    "anli": {"uid": str, "premise": str, "hypothesis": str, "label": int, "reason": str},
    "qqp": {"question1": str, "question2": str, "label": int, "idx": int},
    "sst2": {"sentence": str, "label": int, "idx": int},
    "squad": {"id": str, "title": str, "context": str, "question": str, "answers": dict},
    "squad_v2": {"id": str, "title": str, "context": str, "question": str, "answers": dict},
    "hellaswag": {"ind": int, "activity_label": str, "ctx_a": str, "ctx_b": str, "ctx": str, "endings": list,
                  "source_id": str, "split": str, "split_type": str, "label": str},  # fmt: skip
    "commonsenseqa": {"id": str, "question": str, "question_concept": str, "choices": dict, "answerKey": str},
    "cosmosqa": {"id": str, "context": str, "question": str, "answer0": str, "answer1": str, "answer2": str,
                 "answer3": str, "label": int},  # fmt: skip
    "ccg": {"tokens": list, "tags": list},
    "xnli": {"premise": str, "hypothesis": str, "label": int},
    "pawsx": {"id": int, "sentence1": str, "sentence2": str, "label": int},
    "udpos": {"tokens": list, "pos_tags": list},
    "panx": {"tokens": list, "ner_tags": list, "langs": list},
    "xquad": {"id": str, "context": str, "question": str, "answers": dict},
    "mlqa": {"id": str, "title": str, "context": str, "question": str, "answers": dict},
    "tydiqa": {"id": str, "title": str, "context": str, "question": str, "answers": dict},
    "bucc": {"source_sentence": str, "target_sentence": str, "source_lang": str, "target_lang": str},
    "tatoeba": {"source_sentence": str, "target_sentence": str, "source_lang": str, "target_lang": str},
}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _all_fixtures() -> list[tuple[str, Split, str]]:
    return [(t.name, s, lang) for t in all_tasks() for lang in t.languages for s in available_splits(t, lang)]


def test_committed_fixtures_equal_a_fresh_generation() -> None:
    assert fixtures.differences() == [], "run: python -m raygrid.testing.fixtures"
    assert fixtures.main(["--check"]) == 0


def test_generator_is_deterministic_and_writes_exactly_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "mnli").mkdir()
    (tmp_path / "mnli" / "stale.en.jsonl").write_text("{}\n", encoding="utf-8")
    assert fixtures.write(tmp_path) == len(_all_fixtures())
    assert fixtures.differences(tmp_path) == []
    assert not (tmp_path / "mnli" / "stale.en.jsonl").exists()
    (tmp_path / "xnli" / "test.de.jsonl").write_text("{}\n", encoding="utf-8")
    assert fixtures.differences(tmp_path) == ["xnli/test.de.jsonl"]


def test_fixture_folder_is_small() -> None:
    size = sum(p.stat().st_size for p in FIXTURES_DIR.rglob("*.jsonl"))
    assert size < 2 * 1024 * 1024


@pytest.mark.parametrize("name", [t.name for t in all_tasks()])
def test_rows_have_the_hub_schema_and_sizes(name: str) -> None:
    task = get_task(name)
    # binary classification and tagging fixtures may repeat a row; the others never do
    may_repeat = task.format is FormatName.TAGGING or (task.format is FormatName.CLASSIFICATION and task.num_labels == 2)
    for _, split, language in [f for f in _all_fixtures() if f[0] == name]:
        rows = _rows(fixture_path(name, split, language))
        english = language == "en" or task.role is Role.INTERMEDIATE
        assert len(rows) == ({Split.TRAIN: 48}.get(split, 24) if english else 12), (split, language)
        schema = HUB_SCHEMAS.get(name) or {column: type(value) for column, value in rows[0].items()}
        assert set(task.columns) <= set(schema), "the rows lack a column the task declares"
        for row in rows:
            assert list(row) == list(schema), (split, language)
            for column, kind in schema.items():
                assert type(row[column]) is kind, (column, row[column])
        texts = [json.dumps(row, sort_keys=True) for row in rows]
        if not may_repeat:
            assert len(set(texts)) == len(texts), f"{name} {split} {language}: repeated rows"


def _qa_fixtures() -> list[tuple[str, Split, str]]:
    return [f for f in _all_fixtures() if get_task(f[0]).format.value == "span_qa"]


def test_qa_answers_are_true_spans() -> None:
    unanswerable = 0
    for name, split, language in _qa_fixtures():
        for row in _rows(fixture_path(name, split, language)):
            answers = row["answers"]
            assert sorted(answers) == ["answer_start", "text"]
            assert len(answers["text"]) == len(answers["answer_start"])
            if name != "squad_v2":
                assert len(answers["text"]) == 1
            unanswerable += not answers["text"]
            for text, start in zip(answers["text"], answers["answer_start"], strict=True):
                assert text and row["context"][start:].startswith(text), (name, language, row["id"])
        if name == "tydiqa":
            prefix = {"ar": "arabic-", "en": "english-", "sw": "swahili-"}.get(language)
            assert prefix is None or all(r["id"].startswith(prefix) for r in _rows(fixture_path(name, split, language)))
    assert unanswerable > 0, "SQuAD v2 fixtures include unanswerable questions"


def _valid_bio(tags: list[str]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def test_tagging_fixtures_have_one_valid_tag_per_token() -> None:
    panx, udpos = get_task("panx").label_names, get_task("udpos").label_names
    assert panx is not None and udpos is not None
    entities = 0
    for name, split, language in _all_fixtures():
        if name not in ("panx", "udpos", "ccg"):
            continue
        for row in _rows(fixture_path(name, split, language)):
            tags = row["ner_tags"] if name == "panx" else row["pos_tags"] if name == "udpos" else row["tags"]
            assert len(tags) == len(row["tokens"]) > 0
            assert all(isinstance(tok, str) and tok and not tok.isspace() for tok in row["tokens"])
            if name == "panx":
                assert row["langs"] == [language] * len(tags)
                names = [panx[t] for t in tags]
                assert _valid_bio(names), (language, row)
                entities += sum(n.startswith("B-") for n in names)
            elif name == "udpos":
                assert all(0 <= t < len(udpos) for t in tags)
            else:
                assert all(isinstance(t, str) for t in tags)
    assert entities >= 40 * 2, "every PAN-X language has entities"


def test_ccg_fixture_exercises_the_catch_all_tag() -> None:
    tags = get_task("ccg").label_names
    assert tags is not None
    seen = {t for row in _rows(fixture_path("ccg", "train", "en")) for t in row["tags"]}
    assert seen - set(tags), "some fixture category falls outside the inventory"
    assert len(seen & set(tags)) >= 8


def test_retrieval_fixtures_are_true_translation_pairs() -> None:
    for name in ("bucc", "tatoeba"):
        task = get_task(name)
        for language in task.languages:
            pairs = set(fixtures.parallel(language))
            for split in available_splits(task, language):
                rows = _rows(fixture_path(name, split, language))
                assert len({r["source_sentence"] for r in rows}) == len(rows)
                for row in rows:
                    assert (row["source_sentence"].strip(), row["target_sentence"].strip()) in pairs


def test_parallel_corpus_alignment() -> None:
    en = fixtures.corpus("en")
    for language in ("es", "eu", "zh"):  # es and eu open with a one-line UDHR article
        pairs = fixtures.parallel(language)
        assert len(pairs) == 16 and pairs[-1][1] == en[-1] and pairs[1][1] == en[-15]


def test_tokenizer_keeps_graphemes_and_splits_punctuation() -> None:
    assert fixtures.tokenize("¿Dónde está la estación?", "es") == ["¿", "Dónde", "está", "la", "estación", "?"]
    thai = fixtures.tokenize("ก่อตั้งขึ้นในปี 1945", "th")
    assert "".join(thai) == "ก่อตั้งขึ้นในปี1945" and "1945" in thai
    assert all(not fixtures.graphemes(tok)[0][0].isspace() for tok in thai)
    for token in thai:  # no token starts with a combining mark
        assert not unicodedata.category(token[0]).startswith("M")
