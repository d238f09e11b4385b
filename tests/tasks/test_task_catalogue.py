"""Catalogue invariants: names, languages, hub mappings, label vocabularies, defaults."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from raygrid.errors import ConfigError
from raygrid.tasks import (
    FormatName,
    Role,
    Split,
    all_tasks,
    available_splits,
    get_task,
    resolve_data_task,
    task_names,
)
from raygrid.tasks.languages import XTREME_LANGUAGES
from raygrid.tasks.xtreme import PANX_TAGS, UPOS_TAGS

TASKS = all_tasks()
TARGETS = [t for t in TASKS if t.role is Role.TARGET]
LABELLED = {FormatName.CLASSIFICATION, FormatName.TAGGING}


#: The tasks of Phang et al. (2020), in the paper's order. The catalogue may
#: hold more (a new task is one entry: tests/tasks/test_new_task.py); it must
#: hold these, in this order.
PAPER_INTERMEDIATES = ("mnli", "anli", "qqp", "sst2", "squad", "squad_v2", "hellaswag", "commonsenseqa", "cosmosqa", "ccg")
PAPER_TARGETS = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba")


def _in_order(wanted: tuple[str, ...], names: tuple[str, ...]) -> bool:
    return [n for n in names if n in wanted] == list(wanted)


def test_names_are_unique_and_ordered_intermediates_first() -> None:
    names = [t.name for t in TASKS]
    assert len(names) == len(set(names))
    roles = [t.role for t in TASKS]
    assert roles == sorted(roles, key=lambda r: r is Role.TARGET)
    assert task_names() == tuple(names)
    assert task_names("intermediate") + task_names(Role.TARGET) == tuple(names)
    assert _in_order(PAPER_INTERMEDIATES, task_names("intermediate"))
    assert _in_order(PAPER_TARGETS, task_names("target"))


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_every_entry_has_sizes_and_a_fixture_builder(task) -> None:  # type: ignore[no-untyped-def]
    assert task.fixture is not None
    sizes = task.sizes
    if task.trainable and resolve_data_task(task, "train") is task:
        assert sizes.train and sizes.train > 0
    for split, table in (("dev", sizes.dev), ("test", sizes.test)):
        assert set(table) <= set(task.languages), split
        assert all(isinstance(n, int) and n > 0 for n in table.values()), split
    if task.role is Role.TARGET:
        assert sizes.test, "the confirm stage's estimate needs test sizes"


def test_get_task() -> None:
    assert get_task("XNLI") is get_task("xnli") is get_task(get_task("xnli"))
    with pytest.raises(ConfigError) as err:
        get_task("xnil")
    message = str(err.value)
    assert "\n" not in message and "'xnil'" in message and "'xnli'" in message and "'mnli'" in message
    with pytest.raises(ConfigError, match="unknown role 'phase3'"):
        task_names("phase3")


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_languages_and_hub_configs(task) -> None:  # type: ignore[no-untyped-def]
    assert len(set(task.languages)) == len(task.languages)
    assert set(task.languages) <= set(XTREME_LANGUAGES)
    if task.role is Role.INTERMEDIATE:
        assert task.languages == ("en",)
    if task.hub is None:
        assert task.name == "ccg"
        return
    assert set(task.hub.configs) == set(task.languages), "every language needs a hub config"
    assert task.hub.splits and all(isinstance(name, str) and name for name in task.hub.splits.values())
    assert set(task.hub.splits) <= set(Split)
    assert set(task.columns) and len(set(task.columns)) == len(task.columns)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.name)
def test_label_vocabularies(task) -> None:  # type: ignore[no-untyped-def]
    if task.format in LABELLED:
        assert task.label_names and len(set(task.label_names)) == len(task.label_names)
    else:
        assert task.label_names is None
    if task.format is FormatName.MULTIPLE_CHOICE:
        assert task.num_choices in (4, 5)
    else:
        assert task.num_choices is None


@pytest.mark.parametrize("task", [t for t in TASKS if t.train_task or t.dev_task], ids=lambda t: t.name)
def test_train_and_dev_tasks_match(task) -> None:  # type: ignore[no-untyped-def]
    for split in (Split.TRAIN, Split.DEV):
        source = resolve_data_task(task, split)
        assert source.format is task.format
        assert source.label_names == task.label_names, "label vocabularies must agree across train and eval"
        assert split in available_splits(source, "en"), f"{source.name} has no English {split.value}"


def test_data_task_resolution() -> None:
    assert resolve_data_task("xnli", "train").name == "mnli"
    assert resolve_data_task("xnli", "dev").name == "xnli"
    assert resolve_data_task("xquad", "train").name == resolve_data_task("xquad", "dev").name == "squad"
    assert (resolve_data_task("mlqa", "train").name, resolve_data_task("mlqa", "dev").name) == ("squad", "mlqa")
    assert (resolve_data_task("tydiqa", "train").name, resolve_data_task("tydiqa", "dev").name) == ("tydiqa", "squad")
    for name in ("pawsx", "udpos", "panx", "mnli"):
        assert resolve_data_task(name, "train").name == resolve_data_task(name, "dev").name == name
    for task in TASKS:
        assert resolve_data_task(task, "test") is task


@pytest.mark.parametrize("task", [t for t in TARGETS if t.trainable], ids=lambda t: t.name)
def test_every_trainable_target_has_english_train_and_dev(task) -> None:  # type: ignore[no-untyped-def]
    for split in (Split.TRAIN, Split.DEV):
        assert split in available_splits(resolve_data_task(task, split), "en")


def test_available_splits() -> None:
    assert available_splits("xnli", "en") == (Split.DEV, Split.TEST)
    assert available_splits("pawsx", "en") == (Split.TRAIN, Split.DEV, Split.TEST)
    assert available_splits("pawsx", "de") == (Split.DEV, Split.TEST), "zero-shot: no non-English train"
    assert available_splits("udpos", "th") == (Split.TEST,)
    assert available_splits("udpos", "kk") == (Split.TEST,)
    assert available_splits("xquad", "de") == available_splits("tatoeba", "de") == (Split.TEST,)
    assert available_splits("tydiqa", "en") == (Split.TRAIN, Split.TEST)
    assert available_splits("ccg", "en") == (Split.TRAIN, Split.DEV, Split.TEST)
    assert available_splits("mnli", "en") == (Split.TRAIN, Split.DEV)
    for task in TASKS:
        for language in task.languages:
            assert available_splits(task, language), (task.name, language)
        if not task.trainable:
            assert all(Split.TRAIN not in available_splits(task, lang) for lang in task.languages)


def test_label_orders() -> None:
    nli = ("entailment", "neutral", "contradiction")
    assert get_task("mnli").label_names == get_task("anli").label_names == get_task("xnli").label_names == nli
    assert get_task("panx").label_names == PANX_TAGS == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    assert get_task("udpos").label_names == UPOS_TAGS and len(UPOS_TAGS) == 17
    assert UPOS_TAGS[:3] == ("ADJ", "ADP", "ADV") and UPOS_TAGS[-1] == "X"
    assert get_task("ccg").label_names[-1] == "<other>"


def test_xtreme_language_lists() -> None:
    counts = {t.name: len(t.languages) for t in TARGETS}
    assert counts == {
        "xnli": 15, "pawsx": 7, "udpos": 33, "panx": 40, "xquad": 11, "mlqa": 7, "tydiqa": 9, "bucc": 4, "tatoeba": 36,
    }  # fmt: skip
    assert "en" not in get_task("bucc").languages and "en" not in get_task("tatoeba").languages
    assert set(get_task("tatoeba").languages) == set(XTREME_LANGUAGES) - {"en", "ms", "my", "yo"}


def test_hub_mapping_spot_checks() -> None:
    def config(name: str, lang: str) -> str | None:
        hub = get_task(name).hub
        assert hub is not None
        return hub.configs[lang]

    assert config("udpos", "de") == "udpos.German" and config("udpos", "fa") == "udpos.Persian"
    assert config("panx", "de") == "PAN-X.de"
    assert config("tatoeba", "zh") == "tatoeba.cmn" and config("tatoeba", "fa") == "tatoeba.pes"
    assert config("bucc", "ru") == "bucc18.ru"
    assert config("mlqa", "hi") == "MLQA.hi.hi"
    assert config("xquad", "th") == "xquad.th"
    assert config("xnli", "sw") == "sw" and config("pawsx", "ko") == "ko"
    assert config("tydiqa", "bn") == "secondary_task" and config("hellaswag", "en") is None
    assert get_task("mnli").hub.splits[Split.DEV] == "validation_matched"  # type: ignore[union-attr]
    assert get_task("anli").hub.splits[Split.TRAIN] == "train_r1+train_r2+train_r3"  # type: ignore[union-attr]
    keep = get_task("tydiqa").hub.language_filter("ar")  # type: ignore[union-attr, misc]
    assert keep({"id": "arabic-2387335860751143628-1"}) and not keep({"id": "english-1-0"})


def test_metrics_and_defaults() -> None:
    metric = {t.name: t.metric for t in TASKS}
    assert {metric[n] for n in ("mnli", "anli", "qqp", "sst2", "xnli", "pawsx", "hellaswag", "cosmosqa")} == {
        "accuracy"
    }
    assert {metric[n] for n in ("squad", "squad_v2", "xquad", "mlqa", "tydiqa")} == {"f1"}
    assert (metric["udpos"], metric["panx"], metric["ccg"], metric["bucc"], metric["tatoeba"]) == (
        "accuracy", "f1", "accuracy", "f1", "accuracy",
    )  # fmt: skip
    epochs = {t.name: t.defaults.num_epochs for t in TARGETS}
    assert (epochs["xnli"], epochs["pawsx"], epochs["udpos"], epochs["panx"]) == (2, 5, 10, 10)
    for task in TASKS:
        d = task.defaults
        assert d.learning_rate == 1e-5
        if task.format is FormatName.SPAN_QA:
            assert (d.batch_size, d.max_seq_length) == (16, 384)
        elif task.format is FormatName.RETRIEVAL:
            assert d.max_seq_length == 512 and d.num_epochs == 0
        elif task.format in LABELLED:
            assert (d.batch_size, d.max_seq_length) == (32, 256)
    assert {epochs[n] for n in ("xquad", "mlqa", "tydiqa")} == {2}


def test_specs_are_picklable_and_summaries_are_json() -> None:
    for task in TASKS:
        clone = pickle.loads(pickle.dumps(task))
        assert clone.name == task.name and clone.adapter == task.adapter
        json.dumps(task.summary())


def test_import_is_cheap() -> None:
    code = (
        "import sys, raygrid.tasks\n"
        "heavy = [m for m in ('datasets', 'torch', 'pyarrow', 'transformers', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
