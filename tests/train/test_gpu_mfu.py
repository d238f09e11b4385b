"""benchmarks/gpu_mfu.py: the FLOPs arithmetic and a CPU dry run of the script."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_mfu.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_mfu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_and_peaks() -> None:
    mfu = _module()
    # 6 N T + 12 L H sum(s^2): N=10, two sequences of 3 and 1 tokens, L=2, H=4
    assert mfu.step_flops(10, 2, 4, [3, 1]) == 6 * 10 * 4 + 12 * 2 * 4 * (9 + 1)
    assert mfu.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert mfu.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert mfu.peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert mfu.peak_tflops("NVIDIA A10G") == 70.0 and mfu.peak_tflops("NVIDIA L4") == 121.0
    assert mfu.peak_tflops("Some Other GPU") is None


def test_dry_run_trains_two_steps_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    out = _module().main(["--dry-run"])
    (row,) = out["results"]
    assert row["timed_steps"] == 1 and row["seconds"] > 0 and row["tokens_per_s"] > 0
    assert row["final_loss"] is not None
    assert '"device": "cpu (dry run)"' in capsys.readouterr().out
