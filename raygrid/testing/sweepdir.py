"""Contract checks that any sweep directory must pass: ``raygrid best`` and
``raygrid analyze`` run on it and return structured, consistent results.

The synthetic e2e test points these at a sweep directory it writes itself
through :func:`raygrid.store.write_run`; the sweep engine's e2e test can point
them at the directory a real demo sweep produced::

    from raygrid.testing.sweepdir import check_best_and_analyze
    check_best_and_analyze(sweep_dir, target="xnli", out_dir=tmp_path / "report")
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HEAVY = ("torch", "ray", "transformers")


def run_cli(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``raygrid ARGV`` in a fresh interpreter, reporting which heavy modules it imported (last stderr line)."""
    code = (
        "import sys\nfrom raygrid.cli import main\n"
        f"rc = main({argv!r})\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def check_best_and_analyze(sweep_dir: Path, *, target: str, out_dir: Path, seeds: int | None = None) -> dict[str, Any]:
    """Runs ``best`` (both selections, clean and attack metrics) and ``analyze``
    on ``sweep_dir``; asserts the contract; returns ``{"best": ..., "findings": ...}``."""
    proc = run_cli(["best", str(sweep_dir), "--target", target, "--json"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "HEAVY=", "raygrid best imported a heavy library"
    best = json.loads(proc.stdout)
    assert best and {b["target"] for b in best} == {target}
    # english-dev: one choice for every language (zero-shot protocol)
    assert len({(b["intermediate"], json.dumps(b["config"], sort_keys=True)) for b in best}) == 1
    for b in best:
        assert b["n_seeds"] >= 1 and b["checkpoint"] and b["selection_metric"]
        if seeds is not None:  # every confirm seed of the chosen configuration is behind the value
            assert b["n_seeds"] == seeds == len(b["checkpoints"]), b
            assert b["std"] is None if seeds == 1 else b["std"] is not None
        assert b["value"] is not None and 0.0 <= b["value"] <= 1.0
    robust = run_cli(["best", str(sweep_dir), "--target", target, "--metric", "robust_accuracy", "--selection", "oracle", "--json"])
    assert robust.returncode == 0, robust.stderr
    oracle = json.loads(robust.stdout)
    assert oracle and all(b["attack"] != "none" and b["selection"] == "oracle" for b in oracle)

    proc = run_cli(["analyze", str(sweep_dir), "--out", str(out_dir), "--permutations", "200"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "HEAVY=", "raygrid analyze imported a heavy library"
    findings = json.loads((out_dir / "findings.json").read_text())
    assert target in findings["targets"]
    from raygrid.query import results_dir
    from raygrid.store import has_examples

    html = (out_dir / "report.html").read_text()
    if has_examples(results_dir(sweep_dir)):  # per-example rows: the paired analysis ran, design stated, figures
        found = findings["targets"][target]
        assert {"design", "headline", "flagged_cells", "mde", "correlation"} <= set(found), sorted(found)
        assert findings["answer"] and "conditional robust accuracy" in findings["answer"][0]
        assert "data:image/png;base64," in html
    else:  # aggregate rows only (a sweep from before per-example rows): it says what needs them
        assert "needs_per_example_rows" in findings["targets"][target]
    assert "<script" not in html and "http" not in html.split("<body>")[0]
    assert (out_dir / "summary.md").read_text().startswith("# Robustness report")
    return {"best": best, "oracle": oracle, "findings": findings}


class _PickleTrap:
    """Unpickling it creates ``marker`` (``open(marker, "w")``): it stands for
    code that someone who can write a sweep folder could put in a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def plant_pickle_traps(tune_dir: Path, marker: Path) -> list[Path]:
    """Replaces every pickle in a Tune experiment folder by a
    :class:`_PickleTrap` for ``marker`` (Ray 2.60: ``tuner.pkl``, which a
    restore reads first, ``searcher-state-*.pkl``, ``callback-states-*.pkl``
    and ``search_gen_state-*.json``, a cloudpickle despite its name), and
    plants the first two if missing; returns the files planted."""
    import pickle

    tune_dir.mkdir(parents=True, exist_ok=True)
    names = {tune_dir / "tuner.pkl", tune_dir / "searcher-state-trap.pkl", *tune_dir.rglob("*.pkl"),
             *tune_dir.rglob("search_gen_state-*.json")}  # fmt: skip
    trap = pickle.dumps(_PickleTrap(marker))
    for path in sorted(names):
        path.write_bytes(trap)
    return sorted(names)
