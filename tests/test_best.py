"""``raygrid best`` / ``raygrid.best_config`` and the results-store queries."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.synthetic import Planted, confirm_rows, trial_rows, write_sweep_dir
from raygrid.cli import main
from raygrid.errors import ConfigError
from raygrid.query import best_config
from raygrid.store import INDEX_DIR, ResultRow, read_results, refresh_index, write_run

LANGS = ("ar", "de", "en", "ru", "ur")
INTERS = ("none", "mnli", "squad", "all")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = confirm_rows(
        languages=LANGS,
        intermediates=INTERS,
        seeds=3,
        planted=[Planted("squad", ("ar", "ur"), robust_gain=0.08)],
        rng=1,
    )
    # English dev: 'mnli' best on English, so english-dev must choose it everywhere.
    dev = (rows["split"] == "dev") & (rows["language"] == "en")
    rows.loc[dev & (rows["intermediate"] == "mnli"), "value"] = 0.95
    return write_sweep_dir(tmp_path_factory.mktemp("sweep") / "s", pd.concat([rows, trial_rows(intermediates=INTERS)]))


def test_english_dev_selection_is_one_choice_for_every_language(sweep: Path) -> None:
    best = best_config(sweep, target="xnli")
    assert [b.language for b in best] == sorted(LANGS)
    assert {b.intermediate for b in best} == {"mnli"}  # trial rows (value 1.0) are ignored
    assert all(b.n_seeds == 3 and b.metric == "accuracy" and b.selection_metric == "accuracy" for b in best)
    assert best[0].config == {"epochs": 3, "learning_rate": 2e-05}
    assert best[0].checkpoint in best[0].checkpoints and len(best[0].checkpoints) == 3
    assert best[0].selection_value == pytest.approx(0.95)


def test_oracle_finds_the_planted_intermediate_per_language(sweep: Path) -> None:
    best = best_config(sweep, target="xnli", attack="polygloss", selection="oracle")
    by_lang = {b.language: b for b in best}
    assert by_lang["ar"].intermediate == "squad" and by_lang["ur"].intermediate == "squad"
    assert all(b.metric == "robust_accuracy" and b.attack == "polygloss" for b in best)
    one = best_config(sweep, target="xnli", language="ar", metric="attack_success_rate", selection="oracle")
    assert {b.language for b in one} == {"ar"} and len(one) == 3  # one per attack
    assert one[0].intermediate == "squad"  # lower attack success rate is better


def test_cli_json_and_table(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["best", str(sweep), "--target", "xnli", "--attack", "typo", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == len(LANGS) and {o["attack"] for o in out} == {"typo"}
    assert main(["best", str(sweep), "--target", "xnli", "--language", "ru"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:2] == ["language", "intermediate"] and lines[3].split()[0] == "ru"  # clean: no attack column


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("raygrid: error: "), err
    return err[0]


def test_bad_input_is_one_line_exit_2(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not a sweep directory" in _error(capsys, ["best", str(tmp_path), "--target", "xnli"])
    assert "not a sweep directory" in _error(capsys, ["analyze", str(tmp_path / "nope")])
    assert "unknown target 'pawsx'" in _error(capsys, ["best", str(sweep), "--target", "pawsx"])
    assert "unknown metric 'f2'" in _error(capsys, ["best", str(sweep), "--target", "xnli", "--metric", "f2"])
    assert "unknown language 'sw'" in _error(capsys, ["best", str(sweep), "--target", "xnli", "--language", "sw"])
    assert "unknown attack" in _error(capsys, ["best", str(sweep), "--target", "xnli", "--attack", "bumblebee"])
    empty = tmp_path / "empty"
    (empty / "results").mkdir(parents=True)
    (empty / "spec.yaml").write_text("name: empty\n")
    assert "no results" in _error(capsys, ["best", str(empty), "--target", "xnli"])
    assert "no finished 'confirm' runs" in _error(capsys, ["analyze", str(empty)])
    only_trials = write_sweep_dir(tmp_path / "trials", trial_rows())
    assert "no finished 'confirm' runs" in _error(capsys, ["best", str(only_trials), "--target", "xnli"])


def _row(run: str, lang: str, value: float) -> ResultRow:
    return ResultRow(run_key=run, task="xnli", language=lang, split="test", metric="accuracy", value=value, stage="confirm")


def test_index_is_a_cache_that_never_shows_unfinished_or_removed_runs(tmp_path: Path) -> None:
    for k in range(3):
        write_run(tmp_path, f"r{k}", [_row(f"r{k}", "de", 0.1 * k), _row(f"r{k}", "sw", 0.2)])
    assert len(read_results(tmp_path)) == 6 and not (tmp_path / INDEX_DIR).exists()  # a query writes nothing
    refresh_index(tmp_path)  # the writer's, at the end of a sweep
    assert (tmp_path / INDEX_DIR / "target=xnli.parquet").is_file()
    write_run(tmp_path, "r3", [_row("r3", "de", 0.9)])  # after the index: read from its file
    (tmp_path / "_runs" / "r0.json").unlink()  # a run no longer done: its indexed rows are dropped
    rows = read_results(tmp_path, languages=["de"])
    assert sorted(rows["run_key"]) == ["r1", "r2", "r3"] and set(rows["task"]) == {"xnli"}
    assert read_results(tmp_path, use_index=False).sort_values(["run_key", "language"]).reset_index(drop=True).equals(
        read_results(tmp_path).sort_values(["run_key", "language"]).reset_index(drop=True)
    )


def test_seed_inside_config_still_groups_the_seed_runs(tmp_path: Path) -> None:
    """Sweeps before 2026-11-26 wrote the seed inside the config JSON: the seed
    runs of one configuration must still count as one candidate with n seeds."""
    rows = confirm_rows(languages=("de", "en"), intermediates=("none", "mnli"), seeds=2, planted=[], rng=3)
    rows["config"] = [
        json.dumps({**json.loads(c), "seed": int(s)}, sort_keys=True) for c, s in zip(rows["config"], rows["seed"])
    ]
    sweep = write_sweep_dir(tmp_path / "s", rows)
    best = best_config(sweep, target="xnli")
    assert best and all(b.n_seeds == 2 and len(b.checkpoints) == 2 and "seed" not in b.config for b in best)


def test_an_attack_named_with_its_default_parameters_finds_its_rows(tmp_path: Path) -> None:
    rows = confirm_rows(languages=("de", "en"), intermediates=("none", "mnli"), seeds=2,
                        attacks=("char_noise", "char_noise[mode=adaptive]"), rng=0)  # fmt: skip
    sweep = write_sweep_dir(tmp_path / "s", rows)
    best = best_config(sweep, target="xnli", attack="char_noise[mode=fixed]")  # the default mode, spelt out
    assert {b.attack for b in best} == {"char_noise"}
    with pytest.raises(ConfigError, match=r"unknown attack 'char_noise\[mode=sideways\]'.*allowed: 'char_noise'"):
        best_config(sweep, target="xnli", attack="char_noise[mode=sideways]")
    with pytest.raises(ConfigError, match="did you mean 'char_noise'"):
        best_config(sweep, target="xnli", attack="char_nose")


def _with_examples(sweep: Path, out: Path) -> Path:
    """A copy of ``sweep`` whose confirm runs also wrote per-example rows
    (``results/_examples``), as sweeps do since per-example outcomes."""
    import shutil

    from raygrid.attacks.evaluate import example_frame
    from raygrid.store import read_rows

    shutil.copytree(sweep, out)
    results = out / "results"
    by_run: dict[str, list[dict[str, object]]] = {}
    for row in read_rows(results):
        by_run.setdefault(str(row["run_key"]), []).append(row)
    for key, rows in by_run.items():
        first = rows[0]
        if first["stage"] != "confirm":
            continue
        records = [
            {"task": r["task"], "language": r["language"], "attack": r["attack"], "example_key": str(i), "gold": "0",
             "clean_prediction": "0", "clean_score": 1.0, "clean_correct": True, "attacked_prediction": "1",
             "attacked_score": 0.0, "survived": i % 2 == 0, "status": "failed" if i % 2 == 0 else "successful",
             "perturbation_rate": 0.1, "queries": 2}
            for r in rows if r["metric"] == "attack_success_rate" for i in range(4)
        ]  # fmt: skip
        frame = example_frame(records, run_key=key, split="test", stage="confirm", seed=int(first["seed"]))
        write_run(results, key, [ResultRow(**{k: r[k] for k in ResultRow.__dataclass_fields__}) for r in rows],
                  examples=frame)  # fmt: skip
    return out


def test_best_reads_a_sweep_with_per_example_rows_as_before(sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from raygrid.store import has_examples, read_examples

    new = _with_examples(sweep, tmp_path / "new")
    assert has_examples(new / "results") and not has_examples(sweep / "results")  # the old folder: aggregate rows only
    assert len(read_examples(new / "results", targets=["xnli"], languages=["ar"])) > 0
    answers = []
    for folder in (sweep, new):
        assert main(["best", str(folder), "--target", "xnli", "--metric", "attack_success_rate", "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0] and answers[0] == answers[1]
    assert {a["metric"] for a in answers[1]} == {"attack_success_rate"}
    refresh_index(new / "results")  # the writer's index ignores the example files
    assert main(["best", str(new), "--target", "xnli", "--metric", "attack_success_rate", "--selection", "oracle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
