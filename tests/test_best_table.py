"""``raygrid best``'s table (raygrid.best_table): searched hyper-parameters as
columns, the value as mean ± sd over the confirm seeds, the seed count."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.synthetic import confirm_rows, write_sweep_dir
from raygrid.best_table import MIN_NAME, format_param, format_spread, render, searched_params
from raygrid.cli import main
from raygrid.query import best_config

#: A sweep spec: the target stage searches learning_rate (num_epochs fixed);
#: xnli's overlay also searches warmup_ratio; pawsx's fixes learning_rate and
#: searches num_epochs.
SPEC = """\
name: tablesweep
model: {name_or_path: .cache/tiny-xlmr}
data: {source: bundled}
intermediates: [none, mnli]
targets:
  - {task: xnli, languages: [de, ru]}
  - {task: pawsx, languages: [de]}
search_space:
  intermediate:
    learning_rate: {type: float, low: 1.0e-5, high: 1.0e-4, log: true}
  target:
    learning_rate: {type: float, low: 1.0e-5, high: 1.0e-4, log: true}
    num_epochs: 3
    batch_size: 16
  per_task:
    xnli: {warmup_ratio: {type: categorical, choices: [0.0, 0.1]}}
    pawsx: {learning_rate: 2.0e-5, num_epochs: {type: int, low: 2, high: 4}}
n_trials: {intermediate: 2, target: 2}
confirm: {seeds: [0, 1, 2]}
storage: runs/
"""

LANGS = ("de", "ru")


def _rows(seeds: int) -> pd.DataFrame:
    rows = confirm_rows(languages=LANGS, intermediates=("none", "mnli"), seeds=seeds, rng=4)
    configs = {
        "none": {"learning_rate": 3.2e-05, "num_epochs": 3, "warmup_ratio": 0.0, "batch_size": 16, "weight_decay": 0.01},
        "mnli": {"learning_rate": 0.000188813, "num_epochs": 3, "warmup_ratio": 0.1, "batch_size": 16, "weight_decay": 0.01},
    }
    rows["config"] = rows["intermediate"].map(lambda name: json.dumps(configs[name], sort_keys=True))
    return rows


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sweep_dir(tmp_path_factory.mktemp("table") / "s", _rows(seeds=3), spec_text=SPEC)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_the_columns_are_the_searched_hyper_parameters_of_the_target(sweep: Path) -> None:
    assert searched_params(str(sweep), "xnli") == ["learning_rate", "warmup_ratio"]  # num_epochs is fixed
    assert searched_params(str(sweep), "pawsx") == ["num_epochs"]  # its overlay fixes learning_rate


def test_table_shows_mean_sd_and_seed_count(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(sweep)
    assert main(["best", str(sweep), "--target", "xnli", "--selection", "oracle"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert _snapshot(sweep) == before  # reading a sweep writes nothing
    assert lines[0].startswith("# target xnli, selection oracle") and "mean ± sd over the confirm seeds" in lines[0]
    assert "searched learning_rate, warmup_ratio" in lines[1]
    header = lines[2].split("  ")
    assert [h.strip() for h in header if h.strip()] == [
        "language", "intermediate", "learning_rate", "warmup_ratio", "accuracy", "seeds"
    ]  # fmt: skip
    best = {b.language: b for b in best_config(sweep, target="xnli", selection="oracle")}
    assert len(lines) == 3 + len(best) and set(best) == {*LANGS, "en"}
    for line in lines[3:]:
        cells = line.split()
        b = best[cells[0]]
        assert cells[1] == b.intermediate
        assert cells[2] == format_param(b.config["learning_rate"]) and cells[3] == format_param(b.config["warmup_ratio"])
        assert cells[4:] == [f"{b.value:.3f}", "±", f"{b.std:.3f}", "3"] and b.n_seeds == 3
    assert max(len(line) for line in lines) <= 100


def test_one_seed_has_no_spread_and_json_keeps_the_full_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep_dir(tmp_path / "s", _rows(seeds=1), spec_text=SPEC)
    assert main(["best", str(sweep), "--target", "xnli"]) == 0
    row = capsys.readouterr().out.splitlines()[3].split()
    assert row[-1] == "1" and "±" not in row
    assert main(["best", str(sweep), "--target", "xnli", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["config"]["weight_decay"] == 0.01 and out[0]["std"] is None and out[0]["n_seeds"] == 1


def test_attack_rows_and_long_names_fit(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["best", str(sweep), "--target", "xnli", "--metric", "attack_success_rate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:3] == ["language", "attack", "intermediate"]
    attacks = {line.split()[1] for line in lines[3:]}
    assert len(attacks) > 1 and "none" not in attacks
    (b,) = best_config(sweep, target="xnli", language="de", attack=sorted(attacks)[0])
    assert max(len(line) for line in lines[2:]) <= 100 and max(len(line) for line in lines) <= 120  # nothing cut
    long = b.__class__(**{**b.__dict__, "intermediate": "mnli+squad+qqp+anli+sst2+cosmosqa", "attack": "y" * 60})
    table = render([b, long], ["learning_rate", "warmup_ratio"])
    assert max(len(line) for line in table) <= 120
    assert table[1].split()[1:3] == [b.attack, b.intermediate]  # short names stay whole
    cut_attack, cut_inter = table[2].split()[1:3]
    assert cut_attack.endswith("…") and cut_attack.startswith("yyyy") and len(cut_attack) > MIN_NAME
    assert cut_inter.startswith("mnli+squad+qqp") and cut_inter.endswith("…")  # the widest first, then both


def test_a_spec_raygrid_cannot_read_shows_the_keys_that_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep_dir(tmp_path / "s", _rows(seeds=2))  # spec.yaml: "name: synthetic" only
    assert searched_params(str(sweep), "xnli") is None
    assert main(["best", str(sweep), "--target", "xnli", "--selection", "oracle", "--metric", "accuracy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "differ between rows" in lines[1]
    best = best_config(sweep, target="xnli", selection="oracle")
    varying = ["learning_rate", "warmup_ratio"] if len({b.intermediate for b in best}) > 1 else []
    assert lines[2].split()[2 : 2 + len(varying)] == varying


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.2e-05, "3.2e-05"), (0.000188813, "1.9e-04"), (0.1, "0.1"), (0.0, "0"), (16, "16"), (True, "True"),
     ("auto", "auto"), (None, "-"), (2.5, "2.5"), (0.00295, "2.9e-03"), (0.01, "0.01")],
)  # fmt: skip
def test_format_param(value: object, text: str) -> None:
    assert format_param(value) == text


def test_format_spread() -> None:
    assert format_spread(0.41234, 0.0123, proportion=True) == "0.412 ± 0.012"
    assert format_spread(0.41234, float("nan"), proportion=True) == "0.412"
    assert format_spread(123.456, 7.891, proportion=False) == "123.5 ± 7.891"
    assert format_spread(float("nan"), float("nan"), proportion=True) == "-"
