"""Sweep specs: every shipped spec validates; every bad spec is one line with file and path."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from raygrid.cli import main
from raygrid.errors import ConfigError
from raygrid.spec import (
    ALL,
    NONE,
    PARAMS,
    FloatDistribution,
    IntDistribution,
    SweepSpec,
    check_storage,
    load_spec,
    parse_spec,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "search_spaces").glob("*.yaml"))
HEAVY = ("torch", "ray", "transformers", "datasets", "pyarrow", "optuna")

BASE: dict[str, Any] = {
    "name": "unit",
    "model": {"name_or_path": "tiny"},
    "data": {"source": "bundled", "max_train_examples": 48},
    "intermediates": ["none", "mnli", "all"],
    "targets": [{"task": "xnli", "languages": ["de", "sw"]}, {"task": "pawsx"}],
    "search_space": {
        "intermediate": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}},
        "target": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
            "num_epochs": {"type": "int", "low": 1, "high": 3},
            "batch_size": 16,
        },
    },
    "n_trials": {"intermediate": 2, "target": 3},
    "confirm": {"seeds": [0, 1]},
}


def write(tmp_path: Path, data: Any, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def one_line_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# -- shipped specs ---------------------------------------------------------------------


def test_the_three_specs_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= {"demo", "xstilts", "robustness"}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_spec_validates(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    header = path.read_text(encoding="utf-8").splitlines()
    assert header[0].startswith("#")
    comments = [line for line in header if line.startswith("#")]
    assert any(f"raygrid run search_spaces/{path.name}" in line for line in comments)
    assert spec.fingerprint() == load_spec(path).fingerprint()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_spec_passes_the_cli(path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    os.chdir(tmp_path)  # storage: runs/ is relative to the working directory
    try:
        assert main(["validate", str(path), "--json"]) == 0
    finally:
        os.chdir(ROOT)
    summary = json.loads(capsys.readouterr().out)
    assert summary["name"] == path.stem and summary["total_trials"] > 0
    assert list(tmp_path.iterdir()) == []  # validate creates nothing


def test_machinery_spec_is_the_small_default_of_the_e2e_tests() -> None:
    spec = load_spec(ROOT / "tests" / "e2e" / "machinery.yaml")
    assert spec.model.name_or_path == ".cache/tiny-xlmr" and not spec.model.trust_remote_code
    assert spec.data.source.value == "bundled" and spec.data.max_train_examples == 48
    assert spec.intermediates == ("none", "mnli")
    assert {t.task: t.languages for t in spec.targets} == {
        "xnli": ("ar", "de", "hi", "ru", "sw", "th", "zh"),
        "pawsx": ("de", "ja", "zh"),
    }
    for stage in ("intermediate", "target"):
        space = spec.space_for(stage, "mnli" if stage == "intermediate" else "xnli")
        assert space.learning_rate == FloatDistribution(low=1e-4, high=3e-3, log=True)
        assert space.num_epochs == IntDistribution(low=1, high=3)
        assert space.fixed() == {"batch_size": 16, "max_seq_length": 64}
    assert (spec.n_trials.intermediate, spec.n_trials.target) == (2, 2)
    assert spec.confirm.seeds == (0, 1)
    assert spec.resources.num_workers == 1 and spec.resources.cpus_per_worker == 1
    assert spec.storage == "runs/" and spec.sweep_uri == "runs/demo"


def test_robustness_lists_the_attack_families() -> None:
    spec = load_spec(ROOT / "search_spaces" / "robustness.yaml")
    assert [a.name for a in spec.attacks] == [
        "char_noise", "diacritics", "homoglyph", "invisible", "code_switch", "mlm_substitute",
    ]  # fmt: skip
    assert spec.confirm.seeds == (0, 1, 2, 3, 4)
    assert {t.task for t in spec.targets} == {"xnli", "pawsx"}
    assert spec.targets[0].languages == ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")


# -- the model -------------------------------------------------------------------------------


def test_defaults_are_filled_explicitly(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, BASE))
    assert spec.targets[1].languages == ("en", "de", "es", "fr", "ja", "ko", "zh")
    assert spec.resources.gpus_per_worker == 0
    assert spec.confirm.seeds == (0, 1) and spec.storage == "runs/" and spec.source == str(tmp_path / "spec.yaml")
    gpu = parse_spec(mutated(lambda d: d.update(resources={"use_gpu": True})))
    assert gpu.resources.gpus_per_worker == 1


def test_spec_is_immutable() -> None:
    spec = parse_spec(BASE)
    with pytest.raises(Exception):
        spec.seed = 3  # type: ignore[misc]
    with pytest.raises(Exception):
        spec.search_space.target.batch_size = 8  # type: ignore[misc]


def test_yaml_scientific_notation_is_a_float(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE, sort_keys=False).replace("0.0001", "1e-4")
    assert "1e-4" in text
    spec = load_spec(write(tmp_path, text))
    assert spec.search_space.target.learning_rate.low == 1e-4  # type: ignore[union-attr]


def test_search_space_names_are_the_train_config_fields() -> None:
    from raygrid.cell import ALL as CELL_ALL
    from raygrid.cell import NONE as CELL_NONE
    from raygrid.cell import Overrides
    from raygrid.spec import StageSpace
    from raygrid.train.config import TrainConfig

    overrides = [f.name for f in dataclasses.fields(Overrides)]
    assert list(PARAMS) == list(StageSpace.model_fields) == overrides
    assert set(overrides) <= {f.name for f in dataclasses.fields(TrainConfig)}
    assert (NONE, ALL) == (CELL_NONE, CELL_ALL)


def test_search_space_to_optuna_and_builders() -> None:
    import optuna

    from raygrid.sweep.search import build_pruner, build_sampler

    spec = parse_spec(mutated(lambda d: d.update(early_stopping={"type": "successive_halving", "reduction_factor": 2})))
    space = spec.space_for("target", "xnli")
    dists = space.to_optuna()
    assert dists == {
        "learning_rate": optuna.distributions.FloatDistribution(1e-4, 3e-3, log=True),
        "num_epochs": optuna.distributions.IntDistribution(1, 3),
    }
    assert isinstance(build_sampler(spec.sampler, seed=spec.sampler_seed), optuna.samplers.TPESampler)
    assert isinstance(build_pruner(spec.early_stopping), optuna.pruners.SuccessiveHalvingPruner)
    grid = parse_spec(
        mutated(
            lambda d: d.update(
                sampler={"type": "grid"},
                search_space={
                    "intermediate": {"num_epochs": {"type": "int", "low": 1, "high": 2}},
                    "target": {"learning_rate": {"type": "categorical", "choices": [1e-4, 3e-4]}},
                },
            )
        )
    )
    assert isinstance(
        build_sampler(grid.sampler, seed=0, space=grid.space_for("target", "xnli")), optuna.samplers.GridSampler
    )


def test_per_task_overlay() -> None:
    spec = parse_spec(
        mutated(lambda d: d["search_space"].update(per_task={"pawsx": {"num_epochs": {"type": "int", "low": 3, "high": 7}}}))
    )
    assert spec.space_for("target", "pawsx").num_epochs == IntDistribution(low=3, high=7)
    assert spec.space_for("target", "xnli").num_epochs == IntDistribution(low=1, high=3)
    assert spec.space_for("target", "pawsx").batch_size == 16


def test_per_task_training_caps() -> None:
    # intermediate tasks (also inside `all`) and trainable targets may each have their own cap
    spec = parse_spec(mutated(lambda d: d["data"].update(max_train_examples_per_task={"xnli": 8, "squad": 16})))
    assert spec.data.train_cap("xnli") == 8 and spec.data.train_cap("squad") == 16
    assert spec.data.train_cap("mnli") == spec.data.train_cap("pawsx") == 48  # the global cap


def test_mixture_entries() -> None:
    spec = parse_spec(mutated(lambda d: d.update(intermediates=["squad_v2+mnli"])))
    assert spec.intermediate_tasks("squad_v2+mnli") == ("mnli", "squad_v2")
    assert spec.intermediate_tasks("none") == ()
    assert len(spec.intermediate_tasks("all")) == 10


# -- bad specs --------------------------------------------------------------------------------

BAD: list[tuple[str, Any, str, str]] = [
    # (id, change, dotted path in the message, a word of the problem)
    ("unknown key", lambda d: d.update(learning_rat=1), "learning_rat", "unknown key"),
    ("unknown nested key", lambda d: d["model"].update(revison="main"), "model.revison", "unknown key"),
    ("unknown hyper-parameter", lambda d: d["search_space"]["target"].update(lr=1e-3), "search_space.target.lr", "learning_rate"),
    ("unknown distribution key", lambda d: d["search_space"]["target"]["learning_rate"].update(mean=1), "search_space.target.learning_rate.mean", "unknown key"),
    ("wrong type", lambda d: d["n_trials"].update(target="many"), "n_trials.target", "an integer"),
    ("wrong type nested", lambda d: d["search_space"]["target"]["learning_rate"].update(low="small"), "search_space.target.learning_rate.low", "a number"),
    ("wrong type list", lambda d: d.update(intermediates="mnli"), "intermediates", "list"),
    ("unknown distribution type", lambda d: d["search_space"]["target"].update(learning_rate={"type": "uniform"}), "search_space.target.learning_rate", "type"),
    ("missing field", lambda d: d.pop("model"), "model", "missing"),
    ("unknown target task", lambda d: d["targets"][0].update(task="xnlii"), "targets[0].task", "'xnli'"),
    ("intermediate as target", lambda d: d["targets"][0].update(task="mnli"), "targets[0].task", "intermediate task"),
    ("unknown intermediate task", lambda d: d.update(intermediates=["none", "mnlii"]), "intermediates[1]", "'hellaswag'"),
    ("target as intermediate", lambda d: d.update(intermediates=["none", "xnli"]), "intermediates[1]", "target task"),
    ("unknown language", lambda d: d["targets"][0].update(languages=["de", "xx"]), "targets[0].languages[1]", "'sw'"),
    ("duplicated language", lambda d: d["targets"][0].update(languages=["de", "de"]), "targets[0].languages[1]", "duplicated"),
    ("learning rate zero", lambda d: d["search_space"]["target"].update(learning_rate=0), "search_space.target.learning_rate", "> 0"),
    ("learning rate negative low", lambda d: d["search_space"]["target"]["learning_rate"].update(low=-1e-3, log=False), "search_space.target.learning_rate.low", "> 0"),
    ("low above high", lambda d: d["search_space"]["target"]["learning_rate"].update(low=1e-2), "search_space.target.learning_rate", "low <= high"),
    ("int low above high", lambda d: d["search_space"]["target"]["num_epochs"].update(low=5), "search_space.target.num_epochs", "low <= high"),
    ("float distribution for an int", lambda d: d["search_space"]["target"].update(batch_size={"type": "float", "low": 8, "high": 32}), "search_space.target.batch_size.type", "int"),
    ("empty intermediates", lambda d: d.update(intermediates=[]), "intermediates", "empty grid"),
    ("empty targets", lambda d: d.update(targets=[]), "targets", "empty grid"),
    ("duplicated target", lambda d: d["targets"].append({"task": "xnli"}), "targets[2].task", "duplicated"),
    ("duplicated intermediate", lambda d: d.update(intermediates=["mnli+squad", "squad+mnli"]), "intermediates[1]", "duplicated"),
    ("duplicated seed", lambda d: d.update(confirm={"seeds": [0, 1, 0]}), "confirm.seeds[2]", "duplicated"),
    ("num_workers zero", lambda d: d.update(resources={"num_workers": 0}), "resources.num_workers", ">= 1"),
    ("n_trials zero", lambda d: d["n_trials"].update(intermediate=0), "n_trials.intermediate", ">= 1"),
    ("trials without a distribution", lambda d: d["search_space"].update(intermediate={"learning_rate": 1e-3}), "n_trials.intermediate", "no distribution"),
    ("bad storage scheme", lambda d: d.update(storage="gs://bucket/x"), "storage", "s3://"),
    ("gpus without use_gpu", lambda d: d.update(resources={"gpus_per_worker": 1}), "resources.gpus_per_worker", "use_gpu"),
    ("bad enum", lambda d: d.update(sampler={"type": "cmaes"}), "sampler.type", "'tpe'"),
    ("bad checkpoint policy", lambda d: d.update(checkpoints={"keep": "last"}), "checkpoints.keep", "'best' or 'all'"),
    ("ccg without local data", lambda d: d.update(data={"source": "hub"}, intermediates=["ccg"]), "intermediates[0]", "local_dirs"),
    ("per_task outside the grid", lambda d: d["search_space"].update(per_task={"udpos": {"num_epochs": 10}}), "search_space.per_task.udpos", "not in the grid"),
    ("per-task cap outside the grid", lambda d: d["data"].update(max_train_examples_per_task={"udpos": 10}), "data.max_train_examples_per_task.udpos", "'mnli'"),
    ("per-task cap zero", lambda d: d["data"].update(max_train_examples_per_task={"xnli": 0}), "data.max_train_examples_per_task.xnli", ">= 1"),
    ("bad attack name", lambda d: d.update(attacks=[{"name": "Char Noise"}]), "attacks[0].name", "lower-case"),
    ("remote code from the spec", lambda d: d["model"].update(trust_remote_code=True), "model.trust_remote_code", "true: a spec may not let transformers run the model's own code; allowed: false or absent; set it with --trust-remote-code on the command line"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "path", "word"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_spec_is_one_line_with_file_and_path(
    change: Any, path: str, word: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_file = write(tmp_path, mutated(change), name="bad.yaml")
    message = one_line_error(spec_file)
    assert message.startswith(f"{spec_file}: {path}: "), message
    assert "; allowed: " in message and word in message, message

    assert main(["validate", str(spec_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"raygrid: error: {message}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # nothing created


@pytest.mark.parametrize(
    ("change", "suggestion"),
    [
        (lambda d: d.update(nmae="x"), "'name'"),
        (lambda d: d["targets"][0].update(task="xnlii"), "'xnli'"),
        (lambda d: d.update(intermediates=["none", "mnlii"]), "'mnli'"),
        (lambda d: d.update(attacks=[{"name": "char_nosie"}]), "'char_noise'"),
        (lambda d: d["data"].update(max_train_examples_per_task={"pawx": 8}), "'pawsx'"),
        (lambda d: d["targets"][0].update(languages=["de", "qq"]), None),  # nothing close: no guess
    ],
    ids=["key", "target", "intermediate", "attack", "per-task cap", "nothing close"],
)
def test_a_misspelt_name_gets_a_suggestion(change: Any, suggestion: str | None, tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, mutated(change)))
    if suggestion is None:
        assert "did you mean" not in message, message
    else:
        assert message.endswith(f"; did you mean {suggestion}?"), message


def test_trust_remote_code_false_is_still_accepted(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, mutated(lambda d: d["model"].update(trust_remote_code=False))))
    assert spec.model.trust_remote_code is False
    assert spec.fingerprint() == parse_spec(BASE).fingerprint()  # sweeps that wrote it down still resume


def test_the_first_error_wins_and_pydantic_is_not_leaked() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({**BASE, "n_trials": {"target": "x"}, "seed": -1}, source="s.yaml")
    assert "ValidationError" not in str(info.value) and "pydantic" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: x\ntargets: [xnli\n", "line 3"),  # unclosed flow sequence
        ("name: x\n  model: y\n", "line 2"),  # bad indentation
        ("name: x\nseed: 1\nseed: 2\n", "line 3"),  # duplicate key
    ],
    ids=["unclosed", "indentation", "duplicate key"],
)
def test_invalid_yaml_names_the_line(text: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_file = write(tmp_path, text, name="broken.yaml")
    message = one_line_error(spec_file)
    assert f"{spec_file}: {where}, column " in message and "invalid YAML" in message
    assert main(["validate", str(spec_file)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(("text", "word"), [("- a\n- b\n", "list"), ("", "empty"), ("42\n", "number")])
def test_top_level_must_be_a_mapping(text: str, word: str, tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, text))
    assert "(top level)" in message and word in message and "'intermediates'" in message


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    message = one_line_error(missing)
    assert "no such file" in message
    assert main(["validate", str(missing)]) == 2
    assert list(tmp_path.iterdir()) == []


# -- storage ------------------------------------------------------------------------------------


def test_storage_under_a_file_is_refused_even_for_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    spec_file = write(tmp_path, mutated(lambda d: d.update(storage=str(blocker / "runs"))))
    spec = load_spec(spec_file)  # syntax is fine: the filesystem is check_storage's job
    with pytest.raises(ConfigError) as info:
        check_storage(spec)
    message = str(info.value)
    assert message.startswith(f"{spec_file}: storage: ") and "not a directory" in message and "\n" not in message
    assert main(["validate", str(spec_file)]) == 2
    assert capsys.readouterr().err.startswith("raygrid: error: ")
    assert blocker.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "spec.yaml"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to a read-only directory")
def test_storage_in_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        spec = parse_spec(mutated(lambda d: d.update(storage=str(locked / "runs"))), source="s.yaml")
        with pytest.raises(ConfigError, match="not writable"):
            check_storage(spec)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_writable_storage_leaves_nothing_behind(tmp_path: Path) -> None:
    spec = parse_spec(mutated(lambda d: d.update(storage=str(tmp_path / "deep" / "runs"))))
    check_storage(spec)
    assert list(tmp_path.iterdir()) == []
    check_storage(parse_spec(mutated(lambda d: d.update(storage="s3://my-bucket/raygrid"))))


# -- fingerprint and diff --------------------------------------------------------------------------


def test_fingerprint_is_stable_across_processes(tmp_path: Path) -> None:
    spec_file = write(tmp_path, BASE)
    code = "import sys; from raygrid.spec import load_spec; print(load_spec(sys.argv[1]).fingerprint())"
    prints = {
        subprocess.run(
            [sys.executable, "-c", code, str(spec_file)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }  # fmt: skip
    assert prints == {load_spec(spec_file).fingerprint()}


def test_fingerprint_follows_what_is_computed() -> None:
    spec = parse_spec(BASE)
    assert spec.fingerprint() == parse_spec(copy.deepcopy(BASE)).fingerprint()
    # Where and how wide a sweep runs may change on resume.
    moved = spec.replace(storage="s3://bucket/x", resources={"num_workers": 2}, max_concurrent_trials=4)
    assert moved.fingerprint() == spec.fingerprint()
    # Omitted languages are all the task's languages.
    explicit = mutated(lambda d: d["targets"][1].update(languages=["en", "de", "es", "fr", "ja", "ko", "zh"]))
    assert parse_spec(explicit).fingerprint() == spec.fingerprint()
    # The master seed is the sampler's seed unless it is set.
    assert spec.replace(sampler={"seed": 0}).fingerprint() == spec.fingerprint()
    assert spec.replace(seed=1).fingerprint() != spec.fingerprint()
    assert spec.replace(n_trials={"intermediate": 2, "target": 4}).fingerprint() != spec.fingerprint()


def test_checkpoint_policy_changes_no_fingerprint_and_no_key() -> None:
    """``checkpoints.keep`` decides the disk a sweep holds, not what it
    computes: a folder started before the field existed (its sweep.json has
    no ``checkpoints``) resumes under either policy, with the same cells."""
    from raygrid.grid import expand
    from raygrid.spec import CheckpointKeep

    started_before = parse_spec(BASE)
    assert started_before.checkpoints.keep is CheckpointKeep.BEST  # the default
    assert "checkpoints" not in started_before.normalised(runtime=False)
    keep_all = parse_spec(mutated(lambda d: d.update(checkpoints={"keep": "all"})))
    assert keep_all.checkpoints.keep is CheckpointKeep.ALL
    assert keep_all.fingerprint() == started_before.fingerprint()
    assert [c.key for c in expand(keep_all).cells] == [c.key for c in expand(started_before).cells]
    assert started_before.diff(keep_all) == ['checkpoints.keep: "best" -> "all"']


def test_diff_lists_changed_paths() -> None:
    spec = parse_spec(BASE)
    assert spec.diff(spec) == []
    other = parse_spec(
        mutated(
            lambda d: (
                d["search_space"]["target"]["learning_rate"].update(high=1e-2),
                d["targets"][0].update(languages=["de"]),
                d.update(attacks=[{"name": "char_noise"}]),
            )
        )
    )
    assert spec.diff(other) == [
        'targets[0].languages: ["de", "sw"] -> ["de"]',
        "search_space.target.learning_rate.high: 0.003 -> 0.01",
        'attacks: [] -> [{"name": "char_noise", "params": {}}]',
    ]


def test_replace_revalidates() -> None:
    spec = parse_spec(BASE, source="base.yaml")
    with pytest.raises(ConfigError, match=r"^base\.yaml: resources\.num_workers: "):
        spec.replace(resources={"num_workers": 0})
    assert spec.replace(storage="/tmp/elsewhere").source == "base.yaml"


# -- start-up cost ----------------------------------------------------------------------------------


def test_spec_and_validate_import_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import raygrid.spec, raygrid.grid\n"
        "from raygrid.cli import main\n"
        f"assert main(['validate', {str(ROOT / 'search_spaces' / 'demo.yaml')!r}, '--json']) == 0\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_sweep_spec_is_exported() -> None:
    assert isinstance(parse_spec(BASE), SweepSpec)


@pytest.mark.parametrize(
    ("attacks", "path", "needle"),
    [
        ([{"name": "char_nois"}], "attacks[0].name", "char_noise"),
        ([{"name": "char_noise", "params": {"bogus": 1}}], "attacks[0].params", "bogus"),
        ([{"name": "char_noise"}, {"name": "char_noise", "params": {"mode": "fixed"}}], "attacks[1]", "duplicated"),
    ],
)
def test_attacks_are_checked_against_the_registry(attacks: list, path: str, needle: str) -> None:
    from raygrid.errors import ConfigError
    from raygrid.spec import parse_spec

    data = {"name": "x", "model": {"name_or_path": "m"}, "intermediates": ["none"], "targets": [{"task": "pawsx"}]}
    with pytest.raises(ConfigError) as err:
        parse_spec({**data, "attacks": attacks}, source="a.yaml")
    message = str(err.value)
    assert message.startswith(f"a.yaml: {path}: ") and needle in message and "\n" not in message
