"""A newcomer's change, done for real: a classification intermediate task
with a known hub schema (GLUE RTE: ``sentence1``, ``sentence2``, ``label``,
``idx``) is one catalogue entry. Its fixtures are generated from the entry,
the bundled-data loader reads them through its adapter, ``raygrid plan``
estimates a sweep that uses it from the entry's sizes, and the catalogue's
own tests (which enumerate the catalogue) hold for it.

docs/extending.md walks through the same change; the entry below is what
goes into ``raygrid/tasks/intermediate.py`` (and ``INTERMEDIATE_TASKS``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from raygrid.cli import main
from raygrid.estimate.sizes import english_dev, english_train
from raygrid.tasks import DataSources, HubSource, Split, TaskSpec, adapters, load_rows, registry
from raygrid.tasks.intermediate import _CLASSIFICATION, _TRAIN_DEV, _intermediate
from raygrid.tasks.schema import check_canonical_row
from raygrid.tasks.types import FormatName, SplitSizes
from raygrid.tasks import fixture_rows
from raygrid.testing import fixtures

RTE_LABELS = ("entailment", "not_entailment")

RTE = _intermediate(
    name="rte",
    format=FormatName.CLASSIFICATION,
    metric="accuracy",
    hub=HubSource(path="nyu-mll/glue", configs={"en": "rte"}, splits=_TRAIN_DEV),
    columns=("sentence1", "sentence2", "label"),
    adapter=adapters.PairClassification("sentence1", "sentence2", RTE_LABELS),
    label_names=RTE_LABELS,
    defaults=_CLASSIFICATION,
    sizes=SplitSizes(
        train=2_490,  # nyu-mll/glue rte train (card)
        dev={"en": 277},  # validation (card)
    ),
    fixture=fixture_rows.PairRows("sentence1", "sentence2", ("same", "other")),
    citation="Dagan et al. 2006 ... Bentivogli et al. 2009, RTE (GLUE)",
)


@pytest.fixture
def with_rte(monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskSpec]:
    """The catalogue with RTE registered after the other intermediate tasks."""
    catalogue = registry.CATALOGUE
    at = max(i for i, t in enumerate(catalogue) if t.role.value == "intermediate") + 1
    extended = catalogue[:at] + (RTE,) + catalogue[at:]
    monkeypatch.setattr(registry, "CATALOGUE", extended)
    monkeypatch.setattr(registry, "_BY_NAME", {t.name: t for t in extended})
    yield RTE


def test_fixtures_are_generated_from_the_entry_and_load(with_rte: TaskSpec, tmp_path: Path) -> None:
    files = fixtures.generate((with_rte,))
    assert sorted(files) == ["rte/dev.en.jsonl", "rte/train.en.jsonl"]
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    first = json.loads(files["rte/train.en.jsonl"].splitlines()[0])
    assert list(first) == ["sentence1", "sentence2", "label", "idx"]
    rows = load_rows("rte", Split.TRAIN, "en", DataSources(local_dirs=(tmp_path,)))
    assert len(rows) == fixtures.ENGLISH_ROWS[Split.TRAIN] and rows.column_names == ["text_a", "text_b", "label"]
    for row in rows:
        check_canonical_row(with_rte, row)
    assert {row["label"] for row in rows} == {0, 1}
    # the rule a tiny model can learn: label 0 pairs a sentence with itself
    assert all((row["text_a"] == row["text_b"]) == (row["label"] == 0) for row in rows)


def test_plan_estimates_a_sweep_with_the_new_task(
    with_rte: TaskSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (english_train("rte"), english_dev("rte")) == (2_490, 277)
    spec = tmp_path / "rte.yaml"
    spec.write_text("name: x\nmodel: {name_or_path: some/model}\nintermediates: [none, rte]\ntargets: [{task: xnli}]\n")
    assert main(["plan", str(spec), "--throughput", "1000", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]
    rte = [c for c in cells if c.get("stage") == "intermediate" and c.get("name") == "rte"]
    assert len(rte) == 1 and rte[0]["gpu_hours"] > 0, cells


def test_the_catalogue_tests_enumerate_it(with_rte: TaskSpec) -> None:
    from raygrid.tasks import all_tasks, get_task, task_names

    assert get_task("rte") is with_rte and "rte" in task_names("intermediate") and with_rte in all_tasks()
    assert with_rte.format is FormatName.CLASSIFICATION and with_rte.num_labels == 2
