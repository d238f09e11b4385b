"""A sweep's confirm units write per-example rows with their run (raygrid.outcomes):
clean and attacked rows on one example subsample, drawn with the spec's data
seed whatever the confirm seed, so every run of a (target, language) pairs
with every other on its examples; `raygrid best` reads such a sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raygrid.attacks.evaluate import example_keys
from raygrid.spec import parse_spec
from raygrid.store import read_examples, read_results
from raygrid.sweep.plan import FINISHED, Planner, Unit
from raygrid.sweep.work import UnitContext, run_unit
from raygrid.tasks import DataSources, get_task, load_rows
from raygrid.train.loop import Placement


def test_confirm_runs_write_paired_per_example_rows(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = {"learning_rate": 1e-3, "num_epochs": 1, "batch_size": 16, "max_seq_length": 32}
    data = {
        "name": "tiny", "model": {"name_or_path": str(tiny_model_dir)}, "seed": 5,
        "data": {"source": "bundled", "max_train_examples": 16, "max_eval_examples": 6},
        "intermediates": ["none", "mnli"], "targets": [{"task": "xnli", "languages": ["de", "hi"]}],
        "search_space": {"intermediate": fixed, "target": fixed}, "n_trials": {"intermediate": 1, "target": 1},
        "confirm": {"seeds": [1, 2]}, "storage": str(tmp_path),
        "attacks": [{"name": "diacritics"}, {"name": "invisible"}],
    }  # fmt: skip
    spec = parse_spec(data)
    sweep = tmp_path / "tiny"
    planner = Planner(spec, sweep)
    parents: dict[str, str | None] = {}
    while (unit := planner.next_unit()) is not FINISHED:
        assert isinstance(unit, Unit)
        cell = planner.grid.by_key[unit.cell_key]
        planner.complete(unit, run_unit(UnitContext(spec, sweep, unit, cell), Placement()))
        if unit.kind.value == "confirm":  # replicate_intermediate (the default): the seed's own intermediate
            parents[unit.key] = cell.replicated_intermediate or (Path(unit.parent_checkpoint).name if unit.parent_checkpoint else None)
    assert len(parents) == 4  # 2 intermediates x 2 seeds
    df = read_examples(sweep / "results")
    assert set(df["run_key"]) == set(parents) and set(df["stage"]) == {"confirm"} and set(df["seed"]) == {1, 2}
    # Hindi has no diacritics attack: its clean rows are still there
    assert {(lang, a) for lang, a in zip(df["language"], df["attack"], strict=True)} == {
        ("de", "none"), ("de", "diacritics"), ("de", "invisible"), ("hi", "none"), ("hi", "invisible"),
    }  # fmt: skip
    for run_key, parent in parents.items():
        run = df[df["run_key"] == run_key]
        assert set(run["intermediate_checkpoint"]) == {parent or ""}
        assert set(run["intermediate"]) == ({"none"} if parent is None else {"mnli"})
    # one example subsample per language (the spec's seed), for every run, clean and attacked
    for language in ("de", "hi"):
        rows = load_rows(get_task("xnli"), "test", language, DataSources(bundled=True), max_examples=6, seed=spec.seed)
        keys = example_keys([dict(r) for r in rows])
        golds = [json.dumps(r["label"]) for r in rows]
        for (_, _), group in df[df["language"] == language].groupby(["run_key", "attack"]):
            assert list(group["example_key"]) == keys and list(group["gold"]) == golds
    # fixed attacks are seeded by the data seed too: the perturbed texts (the samples) are
    # the same for every run, whatever its confirm seed
    perturbed: dict[object, list[str]] = {}
    for key in parents:
        for line in (sweep / "samples" / key / "xnli.de.invisible.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record["status"] != "skipped":  # a skipped example keeps its clean text
                perturbed.setdefault(record["id"], []).append(json.dumps(record["perturbed"]))
    assert any(len(texts) > 1 for texts in perturbed.values())  # attacked in several runs
    assert all(len(set(texts)) == 1 for texts in perturbed.values())
    # the aggregate clean accuracy is the mean of the per-example clean scores
    agg = read_results(sweep / "results", stages=["confirm"])
    for run_key in parents:
        clean = df[(df["run_key"] == run_key) & (df["attack"] == "none") & (df["language"] == "de")]
        value = agg[(agg["run_key"] == run_key) & (agg["language"] == "de") & (agg["metric"] == "accuracy")]["value"]
        assert float(value.iloc[0]) == pytest.approx(clean["clean_score"].mean())
    from raygrid.cli import main

    (sweep / "spec.yaml").write_text(json.dumps(data))  # the driver writes it: `best` opens sweep folders only
    assert main(["best", str(sweep), "--target", "xnli", "--metric", "attack_success_rate", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert {(b["language"], b["attack"]) for b in best} == {("de", "diacritics"), ("de", "invisible"), ("hi", "invisible")}
    assert all(b["n_seeds"] == 2 for b in best)
