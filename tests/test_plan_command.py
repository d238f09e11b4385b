"""``raygrid plan``: the estimate follows its formula, respects caps, and
reuse always costs less than retraining intermediates per target unit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from raygrid.cli import main
from raygrid.estimate import (
    EpochsPolicy,
    checkpoint_disk,
    checkpoint_parameters,
    estimate,
    policy_value,
    resolve_throughput,
)
from raygrid.estimate.cost import DEFAULT_MIXING_CAP, sequences_per_example
from raygrid.estimate.sizes import DEV, ENGLISH_DEV, ENGLISH_TRAIN, TEST, english_dev, english_train, eval_size
from raygrid.spec import IntDistribution, Stage, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = [ROOT / "search_spaces" / "robustness.yaml", ROOT / "search_spaces" / "xstilts.yaml"]


def _estimate(path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    spec = load_spec(path)
    return spec, estimate(spec, resolve_throughput(spec.model.name_or_path), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_reuse_costs_less_and_units_follow_the_grid(path: Path) -> None:
    spec = _with_replicate(path, False)  # the default (on) is priced in the test below
    result = estimate(spec, resolve_throughput(spec.model.name_or_path))
    assert 0 < result.gpu_hours_with_reuse < result.gpu_hours_without_reuse
    grid = result.grid
    inter = result.stage(Stage.INTERMEDIATE)
    assert inter["units"] == len(grid.cells_of(Stage.INTERMEDIATE)) * spec.n_trials.intermediate
    targets = grid.cells_of(Stage.TARGET)
    trainable = [c for c in targets if not c.evaluate_only]
    assert result.stage(Stage.TARGET)["units"] == len(trainable) * spec.n_trials.target
    # confirm = target cells x seeds (an evaluate-only target: one unit)
    seeds = len(spec.confirm.seeds)
    assert result.stage(Stage.CONFIRM)["units"] == len(trainable) * seeds + (len(targets) - len(trainable))
    # without reuse: every target trial and confirm unit below an intermediate retrains it
    below = [c for c in targets if c.depends_on]
    expected = sum(c.n_trials + (1 if c.evaluate_only else seeds) for c in below)
    assert result.retrained_intermediates == expected
    total = sum(result.stage(s)["gpu_hours"] for s in Stage)
    assert math.isclose(total, result.gpu_hours_with_reuse)


def test_one_cell_by_hand() -> None:
    # robustness.yaml, intermediate cell mnli: epochs int 2..4 (mean 3), default length 256,
    # 1 dev evaluation per epoch, 4 workers x 1 GPU, XLM-R large at the default throughput.
    spec, result = _estimate(SPECS[0])
    cell = next(c for c in result.cells if c.stage is Stage.INTERMEDIATE and c.name == "mnli")
    train_rate, eval_rate, gpus = 30_000.0, 90_000.0, 4
    train_tokens = 3 * 392_702 * 256
    dev_tokens = 3 * 9_815 * 256
    hours = (train_tokens / (train_rate * gpus) + dev_tokens / eval_rate) / 3600 * gpus
    assert cell.run is not None and cell.run.train_tokens == train_tokens and cell.run.dev_tokens == dev_tokens
    assert math.isclose(cell.gpu_hours_per_unit, hours)
    assert math.isclose(cell.gpu_hours, 6 * hours)
    # its confirm entry for xnli: retrain (2 epochs on MNLI) + 15 languages x 5,010 test, 1 + 6 attacks
    confirm = next(c for c in result.cells if c.stage is Stage.CONFIRM and c.name == "mnli -> xnli")
    assert confirm.eval is not None and confirm.eval.examples == 15 * 5_010 and confirm.eval.passes == 7
    assert confirm.eval.tokens == 15 * 5_010 * 256 * 7


def test_caps_are_respected() -> None:
    spec = load_spec(SPECS[1])
    capped = spec.replace(data={**spec.data.model_dump(mode="json"), "max_train_examples": 1000, "max_eval_examples": 50})
    full = estimate(spec, resolve_throughput(spec.model.name_or_path))
    small = estimate(capped, resolve_throughput(capped.model.name_or_path))
    for cell in small.cells:
        if cell.run is not None and cell.stage is Stage.INTERMEDIATE:
            tasks = next(c.tasks for c in small.grid.cells_of(Stage.INTERMEDIATE) if c.name == cell.name)
            assert cell.run.sequences_per_epoch <= sum(1000 * sequences_per_example(t) for t in tasks)
        if cell.eval is not None:
            languages = next(c.languages for c in small.grid.cells_of(Stage.TARGET) if c.name == cell.name)
            assert cell.eval.examples <= 50 * len(languages) * 2  # BUCC scores test and calibrates on dev
    assert small.gpu_hours_with_reuse < full.gpu_hours_with_reuse / 10


def test_multitask_epoch_uses_the_mixing_cap() -> None:
    _, result = _estimate(SPECS[1])
    cell = next(c for c in result.grid.cells_of(Stage.INTERMEDIATE) if c.intermediate == "all")
    est = next(c for c in result.cells if c.stage is Stage.INTERMEDIATE and c.name == "all")
    expected = sum(min(english_train(t), DEFAULT_MIXING_CAP) * sequences_per_example(t) for t in cell.tasks)
    assert est.run is not None and est.run.sequences_per_epoch == expected


def test_epochs_policy() -> None:
    dist = IntDistribution(low=3, high=7, step=2)
    assert policy_value(dist, EpochsPolicy.MEAN) == 5.0
    assert policy_value(dist, EpochsPolicy.MAX) == 7.0
    _, mean = _estimate(SPECS[0])
    _, upper = _estimate(SPECS[0], policy=EpochsPolicy.MAX)
    assert upper.gpu_hours_with_reuse > mean.gpu_hours_with_reuse


def test_defaults_match_train_config() -> None:
    from raygrid.cell import Overrides, train_config
    from raygrid.estimate import run_cost
    from raygrid.spec import StageSpace
    from raygrid.tasks import get_task

    spec = load_spec(SPECS[1])
    for tasks in [("mnli",), ("squad",), ("xnli",), ("udpos",), ("hellaswag", "squad_v2")]:
        config = train_config([get_task(t) for t in tasks], Overrides(), 0)
        run = run_cost(spec, tasks, StageSpace(), EpochsPolicy.MEAN)
        assert (run.epochs, run.max_seq_length) == (config.num_epochs, config.max_seq_length)


def test_size_table_covers_the_catalogue() -> None:
    from raygrid.tasks import all_tasks

    for task in all_tasks():
        if task.trainable:
            assert english_train(task.name) > 0 and english_dev(task.name) > 0
        if task.role.value == "target":
            missing = [lang for lang in task.languages if not eval_size(task.name, lang, "test")[1]]
            assert missing == ([] if task.name != "udpos" else ["it"]), (task.name, missing)
    assert set(ENGLISH_TRAIN) <= {t.name for t in all_tasks()} and set(ENGLISH_DEV) <= {t.name for t in all_tasks()}
    assert set(TEST) >= set(DEV)
    assert sum(TEST["tydiqa"].values()) == 5_077  # the hub's validation split, all languages


def test_cli_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SPECS[0]), "--json", "--throughput", "60000"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {
        "spec", "name", "model", "throughput", "gpus_per_unit", "epochs_policy", "pruner", "upper_bound",
        "data_caps", "attacks", "stages", "cells", "totals", "checkpoints", "examples",
    }  # fmt: skip
    assert set(payload["stages"]) == {"intermediate", "target", "confirm"}
    assert set(payload["stages"]["target"]) == {"cells", "trials", "units", "train_tokens", "eval_tokens", "gpu_hours"}
    assert set(payload["totals"]) == {
        "gpu_hours_with_reuse", "gpu_hours_without_reuse", "saved_gpu_hours", "retrained_intermediates", "eval_gpu_hours",
        "replicate_intermediate", "replicated_intermediates", "replicated_intermediate_gpu_hours",
    }  # fmt: skip
    assert payload["throughput"]["train_tokens_per_s_per_gpu"] == 60_000
    _, default = _estimate(SPECS[0])
    # twice the throughput: half the hours
    assert math.isclose(payload["totals"]["gpu_hours_with_reuse"] * 2, default.gpu_hours_with_reuse)


def test_cli_table_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SPECS[1])]) == 0
    assert "without reuse" in capsys.readouterr().out


def test_bad_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: {name_or_path: m}\nintermediates: [nope]\ntargets: [{task: xnli}]\n")
    assert main(["plan", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml" in err[0] and "intermediates[0]" in err[0] and "nope" in err[0]


def test_unknown_model_size_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: x\nmodel: {name_or_path: some/model}\nintermediates: [none]\ntargets: [{task: xnli}]\n")
    assert main(["plan", str(spec)]) == 2
    assert "--throughput" in capsys.readouterr().err
    assert main(["plan", str(spec), "--throughput", "1000", "--json"]) == 0
    disk = json.loads(capsys.readouterr().out)["checkpoints"]  # counts, but no bytes for a model of unknown size
    assert disk["parameters"] is None and disk["best"]["final_bytes"] is None and disk["best"]["final_checkpoints"] > 0
    assert main(["plan", str(spec), "--throughput", "1000"]) == 0


# -- checkpoint disk per retention policy ---------------------------------------------------------


def test_checkpoint_disk_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    # robustness.yaml: 10 intermediate cells x 6 trials + 22 target cells x 6 trials = 192 trial
    # checkpoints; 22 target cells x 5 seeds = 110 confirm runs. XLM-R large: 302M non-embedding
    # + (250,002 + 514) x 1,024 embedding parameters (the published size is 560M), 4 bytes each.
    spec, result = _estimate(SPECS[0])
    disk = checkpoint_disk(spec, result.grid, concurrent_trials=8)
    parameters = 12 * 24 * 1024**2 + (250_002 + 514) * 1024
    assert disk.parameters == parameters and abs(parameters / 560e6 - 1) < 0.01
    assert (disk.trial_checkpoints, disk.confirm_checkpoints) == (192, 110)
    assert disk.all.to_json()["final_bytes"] == disk.all.to_json()["peak_bytes"] == 302 * 4 * parameters
    best = disk.best.to_json()
    assert best["final_checkpoints"] == 10 + 22 + 110  # each trial cell's best, every confirm run
    assert best["peak_checkpoints"] == 142 + 8 * 5  # 8 cells in flight, each with 5 other trials' checkpoints
    assert disk.resume_state_bytes == 8 * 8 * 4 * parameters
    # unbounded concurrency (the spec's null): every cell in flight, capped at keep: all
    unbounded = checkpoint_disk(spec, result.grid)
    assert unbounded.concurrent_trials is None and unbounded.best.peak_checkpoints == 302
    assert unbounded.resume_state_bytes is None

    assert main(["plan", str(SPECS[0]), "--json", "--concurrent-trials", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoints"] == {**disk.to_json(), "policy": "best"}


def test_evaluate_only_confirm_runs_write_no_checkpoint_and_keep_all_is_reported(tmp_path: Path) -> None:
    spec, result = _estimate(SPECS[1])  # xstilts.yaml: BUCC and Tatoeba are evaluate-only
    grid = result.grid
    disk = checkpoint_disk(spec, grid)
    trained = [c for c in grid.cells_of(Stage.CONFIRM) if not grid.by_key[c.depends_on[0]].evaluate_only]
    assert 0 < disk.confirm_checkpoints == len(trained) < len(grid.cells_of(Stage.CONFIRM))
    keep_all = spec.replace(checkpoints={"keep": "all"})
    assert checkpoint_disk(keep_all, grid).to_json()["policy"] == "all"


def test_a_local_model_is_sized_from_its_config(tmp_path: Path) -> None:
    config = {"num_hidden_layers": 24, "hidden_size": 1024, "vocab_size": 250_002, "max_position_embeddings": 514}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert checkpoint_parameters(str(tmp_path)) == checkpoint_parameters("FacebookAI/xlm-roberta-large")
    assert checkpoint_parameters(str(tmp_path / "missing")) is None


def _with_replicate(path: Path, on: bool):  # type: ignore[no-untyped-def]  # the spec with confirm.replicate_intermediate set
    spec = load_spec(path)
    return spec.replace(confirm={**spec.confirm.model_dump(mode="json"), "replicate_intermediate": on})


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_replicated_intermediates_are_priced_once_per_intermediate_and_seed(path: Path) -> None:
    spec = _with_replicate(path, False)
    off = estimate(spec, resolve_throughput(spec.model.name_or_path))
    on_spec = _with_replicate(path, True)
    on = estimate(on_spec, resolve_throughput(on_spec.model.name_or_path))
    assert load_spec(path).confirm.replicate_intermediate is True  # the default
    inter = {c.name: c for c in off.cells if c.stage is Stage.INTERMEDIATE}
    seeds = len(spec.confirm.seeds)
    assert off.replicated_intermediates == 0 and off.replicated_intermediate_gpu_hours == 0
    # one run of each intermediate cell's configuration per confirm seed, shared by its targets
    assert on.replicated_intermediates == len(inter) * seeds
    rows = [c for c in on.cells if c.replicated]
    assert {c.name.removesuffix(" (retrained per seed)") for c in rows} == set(inter)
    for row in rows:
        cell = inter[row.name.removesuffix(" (retrained per seed)")]
        assert row.stage is Stage.CONFIRM and row.units == seeds and row.eval is None
        assert math.isclose(row.gpu_hours_per_unit, cell.gpu_hours_per_unit)
    hours = seeds * sum(c.gpu_hours_per_unit for c in inter.values())
    assert math.isclose(on.replicated_intermediate_gpu_hours, hours)
    assert math.isclose(on.gpu_hours_with_reuse, off.gpu_hours_with_reuse + hours)
    assert math.isclose(on.stage(Stage.CONFIRM)["gpu_hours"], off.stage(Stage.CONFIRM)["gpu_hours"] + hours)
    # the same units of work; without reuse nothing changes (every confirm run retrains its intermediate anyway)
    assert on.stage(Stage.CONFIRM)["units"] == off.stage(Stage.CONFIRM)["units"]
    assert math.isclose(on.gpu_hours_without_reuse, off.gpu_hours_without_reuse)
    assert on.retrained_intermediates == off.retrained_intermediates - len(inter) * seeds
    totals = on.to_json()["totals"]
    assert totals["replicate_intermediate"] is True and totals["replicated_intermediates"] == len(inter) * seeds


def test_the_table_says_whether_intermediates_are_replicated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SPECS[0].read_text()
    assert "  eval_split: test\n" in text
    off = tmp_path / "off.yaml"
    off.write_text(text.replace("  eval_split: test\n", "  eval_split: test\n  replicate_intermediate: false\n", 1))
    assert main(["plan", str(off)]) == 0
    assert "intermediates not replicated (confirm.replicate_intermediate: false)" in capsys.readouterr().out
    assert main(["plan", str(SPECS[0])]) == 0  # the default: on
    out = capsys.readouterr().out
    assert "of which intermediates retrained per confirm seed:" in out and "(50 runs, confirm.replicate_intermediate)" in out
    assert "mnli (retrained per seed)" in out


def test_per_example_store_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    from raygrid.attacks import get_attack
    from raygrid.errors import ConfigError
    from raygrid.estimate.examples import BYTES_PER_FILE, BYTES_PER_ROW, example_store
    from raygrid.estimate.sizes import TEST

    # robustness.yaml: 11 intermediates x 5 seeds confirm runs per target; every language at its
    # test size; the clean pass + each attack the language supports (diacritics: 10 of XNLI's 15)
    spec, result = _estimate(SPECS[0])
    store = example_store(spec, result.grid)
    attacks = [get_attack(a.name) for a in spec.attacks]

    def usable(language: str) -> int:
        n = 0
        for attack in attacks:
            try:
                attack.check_language(language)
                n += 1
            except ConfigError:
                pass
        return n

    per_run = {t: sum(size * (1 + usable(lang)) for lang, size in TEST[t].items()) for t in ("xnli", "pawsx")}
    assert store.per_target == {t: 55 * n for t, n in per_run.items()} and store.rows == 55 * sum(per_run.values())
    assert (store.runs, store.files) == (110, 55 * (15 + 7))
    assert store.bytes == round(store.rows * BYTES_PER_ROW + store.files * BYTES_PER_FILE)
    # a cap bounds every language; retrieval targets (no attack goal) write no per-example rows
    capped = spec.replace(data={**spec.data.model_dump(mode="json"), "max_eval_examples": 100})
    assert example_store(capped, result.grid).rows == 55 * sum(100 * (1 + usable(lang)) for t in per_run for lang in TEST[t])
    xstilts, other = _estimate(SPECS[1])
    assert "bucc" not in example_store(xstilts, other.grid).per_target
    assert main(["plan", str(SPECS[0])]) == 0
    assert f"per-example rows (results/_examples): {store.rows:,} rows" in capsys.readouterr().out
    assert main(["plan", str(SPECS[0]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == store.to_json()
