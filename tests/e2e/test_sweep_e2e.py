"""The sweep with real Ray on the tiny model: the demo spec end to end, a
changed spec, a diverging trial, resources no cluster has. Drivers killed
at seeded points and resumed: tests/e2e/test_faults_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweep_helpers import raygrid, records, workspace

pytestmark = pytest.mark.e2e


def test_demo_spec_end_to_end(tmp_path: Path, tiny_model_dir: Path) -> None:
    ws = workspace(tmp_path, tiny_model_dir)
    done = raygrid("run", "--storage", "runs", "--quiet", cwd=ws)  # no SPEC: the embedded default
    assert done.returncode == 0, done.stderr[-3000:]
    sweep = ws / "runs" / "demo"
    status = raygrid("status", str(sweep), "--json", cwd=ws)
    progress = json.loads(status.stdout)
    assert progress["done"] == progress["total"] == 1 + 4 + 8 and progress["failures"] == 0

    from raygrid.store import read_rows

    rows = [r for r in read_rows(sweep / "results") if r["stage"] == "confirm"]
    zero_shot = {(r["intermediate"], r["task"], r["language"], r["seed"]) for r in rows if r["split"] != "dev"}
    expected = {
        (i, t, lang, seed)
        for i in ("none", "mnli")
        for t, langs in (("xnli", "ar de hi ru sw th zh"), ("pawsx", "de ja zh"))
        for lang in langs.split()
        for seed in (0, 1)
    }
    assert zero_shot == expected
    # every confirm run also has its English dev rows (what selection may look at)
    assert {(r["intermediate"], r["task"], r["seed"]) for r in rows if r["language"] == "en"} == {
        (i, t, s) for i in ("none", "mnli") for t in ("xnli", "pawsx") for s in (0, 1)
    }

    # checkpoints.keep: best (the default): what is left is each trial cell's
    # best trial and every confirm run, as the retention records say
    metas = [json.loads(p.read_text()) for p in (sweep / "checkpoints").glob("*/raygrid.json")]
    assert sorted(p.name for p in (sweep / "checkpoints").iterdir()) == sorted(m["key"] for m in metas)  # none half-deleted
    assert sorted(m["kind"] for m in metas) == ["confirm"] * 8 + ["intermediate"] + ["target"] * 4
    kept = [json.loads(p.read_text()) for p in (sweep / "retention").glob("*.json")]
    assert len(kept) == 1 + 4 and all(r["complete"] for r in kept)
    assert {m["key"] for m in metas if m["kind"] != "confirm"} == {r["best"] for r in kept}
    intermediate = next(r for r in kept if r["cell_name"] == "mnli")
    assert len({intermediate["best"], *intermediate["delete"]}) == 2  # trained once per Optuna trial, one deleted
    # every mnli target trial and confirm run started from the kept best intermediate checkpoint
    parents = {m["parent"] for m in metas if m["cell_name"].startswith("mnli -> ")}
    assert parents == {str(sweep / "checkpoints" / intermediate["best"])}
    assert {m["parent"] for m in metas if m["cell_name"].startswith("none -> ")} == {None}
    assert not list((sweep / "train").glob("*/checkpoint_*"))  # resume states removed once a unit is done

    # the confirm runs were attacked: one row set per (language, attack) where the family applies
    attacked = {(r["language"], r["attack"]) for r in rows if r["attack"] != "none" and r["task"] == "xnli"}
    assert {a for _, a in attacked} == {"char_noise", "char_noise[mode=adaptive]", "homoglyph"}
    assert {lang for lang, a in attacked if a.startswith("char_noise")} == set("ar de hi ru sw th zh".split())

    # raygrid best and raygrid analyze on the demo sweep folder (issue 5)
    from raygrid.testing.sweepdir import check_best_and_analyze

    checked = check_best_and_analyze(sweep, target="xnli", out_dir=tmp_path / "report", seeds=2)
    assert {b["language"] for b in checked["best"]} >= {"ar", "de", "zh"}


SMALL = """
name: small
seed: 0
model: {{name_or_path: {model}}}
data: {{source: bundled, max_train_examples: 32, max_eval_examples: 8}}
intermediates: [none, mnli]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: &s
    learning_rate: {{type: float, low: 1.0e-4, high: 3.0e-3, log: true}}
    num_epochs: {{type: int, low: 1, high: 2}}
    batch_size: 16
    max_seq_length: 48
  target: *s
n_trials: {{intermediate: 2, target: 1}}
confirm: {{seeds: [0]}}
max_concurrent_trials: 1
storage: {storage}
"""


def test_a_changed_spec_is_refused_with_what_changed(tmp_path: Path, tiny_model_dir: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL.format(model=tiny_model_dir, storage=tmp_path / "runs"))
    sweep = tmp_path / "runs" / "small"
    sweep.mkdir(parents=True)
    from raygrid.spec import load_spec
    from raygrid.sweep.driver import _spec_yaml, resolve_paths

    started = resolve_paths(load_spec(spec))
    (sweep / "spec.yaml").write_text(_spec_yaml(started))
    (sweep / "sweep.json").write_text(json.dumps({"fingerprint": started.fingerprint(), "spec": started.normalised()}))
    spec.write_text(SMALL.format(model=tiny_model_dir, storage=tmp_path / "runs").replace("target: 1}", "target: 3}"))
    refused = raygrid("run", str(spec), cwd=tmp_path, timeout=120)
    assert refused.returncode == 2
    line = refused.stderr.strip().splitlines()[-1]
    assert "n_trials.target: 1 -> 3" in line and str(sweep) in line
    edited = (sweep / "spec.yaml").read_text().replace("target: 1", "target: 4")
    (sweep / "spec.yaml").write_text(edited)
    refused = raygrid("resume", str(sweep), cwd=tmp_path, timeout=120)
    assert refused.returncode == 2 and "n_trials.target: 1 -> 4" in refused.stderr


DIVERGING = """
name: diverging
model: {{name_or_path: {model}}}
data: {{source: bundled, max_train_examples: 32, max_eval_examples: 8}}
intermediates: [none, mnli]
targets: [{{task: xnli, languages: [de]}}]
search_space:
  intermediate: {{learning_rate: 1.0e+30, num_epochs: 1, batch_size: 16, max_seq_length: 48, warmup_ratio: 0.0}}
  target: {{learning_rate: 1.0e-3, num_epochs: 1, batch_size: 16, max_seq_length: 48}}
n_trials: {{intermediate: 1, target: 1}}
confirm: {{seeds: [0]}}
max_failures: 1
storage: {storage}
"""


def test_a_diverging_trial_is_retried_then_failed_and_the_sweep_goes_on(tmp_path: Path, tiny_model_dir: Path) -> None:
    spec = tmp_path / "d.yaml"
    spec.write_text(DIVERGING.format(model=tiny_model_dir, storage=tmp_path / "runs"))
    done = raygrid("run", str(spec), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    progress = json.loads(raygrid("status", str(tmp_path / "runs" / "diverging"), "--json", cwd=tmp_path).stdout)
    by_name = {c["name"]: c for c in progress["cells"]}
    assert by_name["mnli"]["failed"] == 1 and by_name["mnli"]["status"] == "done"
    assert by_name["mnli -> xnli"]["status"] == "blocked" and by_name["mnli -> xnli (seed 0)"]["status"] == "blocked"
    assert by_name["none -> xnli"]["status"] == "done" and by_name["none -> xnli (seed 0)"]["status"] == "done"
    failed = [r for r in records(tmp_path / "runs" / "diverging").values() if r["status"] == "failed"]
    assert len(failed) == 1 and "non-finite loss" in failed[0]["error"]


def test_resources_the_cluster_can_never_satisfy_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    spec = tmp_path / "big.yaml"
    text = SMALL.format(model=tiny_model_dir, storage=tmp_path / "runs")
    spec.write_text(text + "resources: {num_workers: 1, cpus_per_worker: 64}\n")
    refused = raygrid("run", str(spec), cwd=tmp_path, timeout=300)
    assert refused.returncode == 2
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("raygrid: error: ") and "resources.cpus_per_worker" in line and "64" in line
    assert not (tmp_path / "runs").exists()  # nothing created
