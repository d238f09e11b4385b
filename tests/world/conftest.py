"""One world per test session: built once into .cache/world (the demo's
folder, so a machine that ran `make demo` reuses it) and reused when it
holds this generator version, seed and config."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def world():  # type: ignore[no-untyped-def]
    from raygrid.world import build_world

    return build_world(REPO / ".cache" / "world", seed=0)


@pytest.fixture(scope="session")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output folder for the effect cells: a cell trained by one test is reused by the next."""
    return tmp_path_factory.mktemp("world-cells")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():  # type: ignore[no-untyped-def]
    """The world's cells train on one torch thread, as its build pretrains:
    two threads on a loaded 2-core machine spin in OpenMP (tests/world/test_effects.py
    took 360-375 s on one thread, against 1,909 s with two in a loaded CI run; every
    threshold held on both)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
