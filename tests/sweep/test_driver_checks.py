"""Checks the driver makes before Ray starts or anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygrid.errors import ConfigError
from raygrid.spec import parse_spec
from raygrid.sweep.driver import check_local_model, run_sweep


def _spec(model: str, storage: Path):  # type: ignore[no-untyped-def]
    return parse_spec(
        {
            "name": "s",
            "model": {"name_or_path": model},
            "data": {"source": "bundled"},
            "intermediates": ["none"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "storage": str(storage),
        }
    )


def test_a_missing_local_model_is_refused_before_anything_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative path, as the demo spec names it; the repo's own .cache/world may exist
    with pytest.raises(ConfigError, match=r"model\.name_or_path: no such directory '\.cache/world/model' \(the demo's world"):
        run_sweep(_spec(".cache/world/model", tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ConfigError, match="allowed: an existing local model directory or a hub id"):
        check_local_model(_spec(str(tmp_path / "nope"), tmp_path / "runs"))


def test_hub_ids_and_existing_folders_pass(tmp_path: Path) -> None:
    check_local_model(_spec("FacebookAI/xlm-roberta-large", tmp_path))
    check_local_model(_spec("xlm-roberta-base", tmp_path))
    (tmp_path / "m").mkdir()
    check_local_model(_spec(str(tmp_path / "m"), tmp_path))
