"""The one hyper-parameter table (raygrid.hparams) and what it generates."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from raygrid.errors import ConfigError
from raygrid.hparams import ROWS, SEARCHABLE, problem


def test_the_table_generates_the_search_space_overrides_and_train_config() -> None:
    from raygrid.cell import Overrides
    from raygrid.spec import PARAMS, StageSpace
    from raygrid.train.config import TrainConfig

    assert list(StageSpace.model_fields) == list(SEARCHABLE) == [f.name for f in dataclasses.fields(Overrides)]
    assert list(PARAMS) == list(SEARCHABLE)
    assert {name: allowed for name, (_, _, allowed) in PARAMS.items()} == {n: r.allowed for n, r in SEARCHABLE.items()}
    defaults = TrainConfig()
    for name, row in ROWS.items():
        assert getattr(defaults, name) == row.default, name
        assert isinstance(getattr(defaults, name), row.kind) or row.kind is float, name


def test_the_cell_options_are_the_flagged_rows() -> None:
    from raygrid.commands.cell import add_hparam_arguments, hparam_overrides

    parser = argparse.ArgumentParser()
    add_hparam_arguments(parser)
    flags = sorted(opt for action in parser._actions for opt in action.option_strings if opt != "-h" and opt != "--help")
    assert flags == ["--batch-size", "--epochs", "--grad-accumulation-steps", "--learning-rate", "--max-seq-length"]
    args = parser.parse_args(["--epochs", "2.5", "--batch-size", "16"])
    assert hparam_overrides(args) == {
        "learning_rate": None,
        "num_epochs": 2.5,
        "batch_size": 16,
        "grad_accumulation_steps": None,
        "max_seq_length": None,
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("warmup_ratio", 1.0, "hyper-parameter 'warmup_ratio': bad value 1.0; allowed: a number in [0, 1)"),
        ("batch_size", 2.0, "hyper-parameter 'batch_size': bad value 2.0: batch_size is an integer; allowed: an integer >= 1 and <= 1048576"),
        ("learning_rate", True, "hyper-parameter 'learning_rate': bad value True: learning_rate is a number; allowed: a number > 0"),
    ],
)
def test_overrides_and_the_spec_share_one_check(name: str, value: object, message: str) -> None:
    from raygrid.cell import Overrides

    with pytest.raises(ConfigError) as err:
        Overrides(**{name: value})
    assert str(err.value) == message
    assert problem(name, value) == message.split(": ", 1)[1].rsplit("; allowed", 1)[0]


def test_train_config_checks_come_from_the_table() -> None:
    from raygrid.train.config import TrainConfig

    with pytest.raises(ConfigError, match=r"^train config field 'doc_stride': bad value 64; allowed: an integer in \(0, max_seq_length\)$"):
        TrainConfig(max_seq_length=64, doc_stride=64)
    with pytest.raises(ConfigError, match=r"^train config field 'mixing_cap': bad value 0; allowed: an integer >= 1$"):
        TrainConfig(mixing_cap=0)
    with pytest.raises(ConfigError, match=r"^train config field 'weight_decay': bad value nan; allowed: a finite number$"):
        TrainConfig(weight_decay=float("nan"))
