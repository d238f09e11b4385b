"""The disk a sweep's checkpoints take under each ``checkpoints.keep`` policy (``raygrid plan``).

One checkpoint (``<sweep>/checkpoints/<unit key>/``) is the model's weights
as safetensors in fp32 (the training loop keeps fp32 weights; bf16 autocast
only computes in bf16): 4 bytes per parameter. Parameters: the
non-embedding ones, 12 x layers x hidden^2 (:data:`throughput.PARAMETERS`,
or a local ``config.json``), plus the embeddings, (vocabulary + positions)
x hidden. XLM-R large: 302M + (250,002 + 514) x 1,024 = 559M parameters,
2.23 GB; base: 85M + 192M = 278M, 1.11 GB. The tokenizer's files and the
task head (a few MB) are left out: under 1 %.

How many checkpoints (an upper bound: every trial completes):

``keep: all``
    every trial and every trained confirm run keeps one (an evaluate-only
    target's confirm run writes none): final = peak.
``keep: best``
    final: one per trial cell (its best trial) + every trained confirm run.
    Peak ~ final + (n_trials - 1) for each cell in flight at once, the
    largest cells first, with cells in flight = min(trials running at once,
    trial cells): a cell holds its other trials' checkpoints only until its
    last trial ends, and the planner hands out one cell's trials before the
    next cell's, so a cell in flight has a trial running. It counts the
    final set as already there, so it overstates (capped at ``all``).

Besides, each running trial holds Ray Train resume states
(``<sweep>/train/<unit key>``, removed when the unit ends): two kept, each
the weights, the best weights so far and Adam's two moments, 4 x the
weights: 8 checkpoints' worth per running trial, under either policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygrid.estimate.throughput import PARAMETERS, local_parameters, model_size
from raygrid.grid import Grid, Stage
from raygrid.spec import CheckpointKeep, SweepSpec

#: fp32 safetensors.
BYTES_PER_PARAMETER = 4
#: XLM-R's vocabulary and position embeddings (its config.json), by size: hidden.
XLMR_VOCABULARY = 250_002
XLMR_POSITIONS = 514
XLMR_HIDDEN: dict[str, int] = {"base": 768, "large": 1024}
#: Ray Train resume states per running trial, in checkpoints' worth:
#: 2 kept (raygrid.sweep.ray_backend's CheckpointConfig(num_to_keep=2)) x
#: (weights + best weights + Adam's 2 moments).
RESUME_STATE_CHECKPOINTS = 2 * 4


def checkpoint_parameters(name_or_path: str) -> int | None:
    """Parameters a checkpoint of the model holds (``None``: unknown size).

    Example:
        >>> checkpoint_parameters("FacebookAI/xlm-roberta-large")
        558518272
    """
    size = model_size(name_or_path)
    if size is not None:
        return PARAMETERS[size] + (XLMR_VOCABULARY + XLMR_POSITIONS) * XLMR_HIDDEN[size]
    non_embedding = local_parameters(name_or_path)
    if non_embedding is None:
        return None
    config = json.loads((Path(name_or_path) / "config.json").read_text())
    embeddings = int(config["vocab_size"]) + int(config["max_position_embeddings"])
    return non_embedding + embeddings * int(config["hidden_size"])


@dataclass(frozen=True)
class PolicyDisk:
    """Checkpoints on disk under one policy, at the end and at the most."""

    final_checkpoints: int
    peak_checkpoints: int
    bytes_per_checkpoint: int | None

    def to_json(self) -> dict[str, Any]:
        each = self.bytes_per_checkpoint
        return {
            "final_checkpoints": self.final_checkpoints,
            "peak_checkpoints": self.peak_checkpoints,
            "final_bytes": None if each is None else self.final_checkpoints * each,
            "peak_bytes": None if each is None else self.peak_checkpoints * each,
        }


@dataclass(frozen=True)
class CheckpointDisk:
    """A sweep's checkpoint disk (see the module docstring).

    Attributes:
        policy: the spec's ``checkpoints.keep``.
        parameters: per checkpoint (``None``: the model's size is unknown).
        trial_checkpoints: one per trial of every trial cell.
        confirm_checkpoints: one per trained confirm run.
        concurrent_trials: trials running at once (``None``: not bounded).
        cells_in_flight: trial cells that can hold their other trials' checkpoints at once.
        best: under ``keep: best``.
        all: under ``keep: all``.
    """

    policy: CheckpointKeep
    parameters: int | None
    trial_checkpoints: int
    confirm_checkpoints: int
    concurrent_trials: int | None
    cells_in_flight: int
    best: PolicyDisk
    all: PolicyDisk

    @property
    def bytes_per_checkpoint(self) -> int | None:
        return None if self.parameters is None else self.parameters * BYTES_PER_PARAMETER

    @property
    def resume_state_bytes(self) -> int | None:
        """Peak bytes of the running trials' resume states (``None``: unknown)."""
        each = self.bytes_per_checkpoint
        if each is None or self.concurrent_trials is None:
            return None
        return self.concurrent_trials * RESUME_STATE_CHECKPOINTS * each

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.value,
            "parameters": self.parameters,
            "bytes_per_parameter": BYTES_PER_PARAMETER,
            "bytes_per_checkpoint": self.bytes_per_checkpoint,
            "trial_checkpoints": self.trial_checkpoints,
            "confirm_checkpoints": self.confirm_checkpoints,
            "concurrent_trials": self.concurrent_trials,
            "cells_in_flight": self.cells_in_flight,
            "best": self.best.to_json(),
            "all": self.all.to_json(),
            "resume_state_bytes": self.resume_state_bytes,
        }


def checkpoint_disk(spec: SweepSpec, grid: Grid, *, concurrent_trials: int | None = None) -> CheckpointDisk:
    """The checkpoint disk of ``spec``'s sweep; ``concurrent_trials``: trials
    running at once (default: the spec's ``max_concurrent_trials``; ``None``
    there too: every trial cell counts as in flight, the worst case)."""
    if concurrent_trials is None:
        concurrent_trials = spec.max_concurrent_trials
    trial_cells = [c for c in grid.cells if c.stage is not Stage.CONFIRM and c.n_trials > 0]
    trials = sum(c.n_trials for c in trial_cells)
    confirm = sum(1 for c in grid.cells_of(Stage.CONFIRM) if not grid.by_key[c.depends_on[0]].evaluate_only)
    in_flight = len(trial_cells) if concurrent_trials is None else min(concurrent_trials, len(trial_cells))
    extra = sum(sorted((c.n_trials - 1 for c in trial_cells), reverse=True)[:in_flight])
    parameters = checkpoint_parameters(spec.model.name_or_path)
    each = None if parameters is None else parameters * BYTES_PER_PARAMETER
    everything = trials + confirm
    final_best = len(trial_cells) + confirm
    return CheckpointDisk(
        policy=spec.checkpoints.keep,
        parameters=parameters,
        trial_checkpoints=trials,
        confirm_checkpoints=confirm,
        concurrent_trials=concurrent_trials,
        cells_in_flight=in_flight,
        best=PolicyDisk(final_best, min(final_best + extra, everything), each),
        all=PolicyDisk(everything, everything, each),
    )


__all__ = ["BYTES_PER_PARAMETER", "CheckpointDisk", "PolicyDisk", "checkpoint_disk", "checkpoint_parameters"]
