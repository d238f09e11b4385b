"""The names inside a sweep folder (and a `raygrid cell` output folder): one
place, so that no module spells ``"results"`` on its own.

A sweep folder ``<storage>/<name>/``::

    spec.yaml         SPEC_FILE       the spec as the sweep runs it
    writer.lease      LEASE_FILE      who writes the sweep now (raygrid.sweep.lease)
    sweep.json        SWEEP_FILE      its fingerprint, the raygrid version, when it started
    optuna.journal    JOURNAL         one Optuna study per cell
    trials/           TRIALS_DIR      one record per finished unit
    checkpoints/      CHECKPOINTS_DIR safetensors checkpoints, one folder per unit key
    retention/        RETENTION_DIR   per done cell, which checkpoints were deleted
    results/          RESULTS_DIR     the results store (docs/results.md)
        _runs/        RUNS_DIR        one manifest per run key
        _index/       INDEX_DIR       a derived, rebuildable index
    cache/tokens/     TOKEN_CACHE_DIR training features tokenised once per sweep
    tune/             TUNE_DIR        Ray Tune's experiment state (one segment at a time)
    train/            TRAIN_DIR       a unit's Ray Train run while it is in flight
    logs/ray.log      LOG_DIR, LOG_FILE  Ray's, Tune's and Train's output, the writer's (raygrid.sweep.quiet)

A `raygrid cell --output DIR` folder uses ``checkpoints/`` and ``results/``
with the same meaning. Renaming any of these breaks existing sweep folders.
"""

from __future__ import annotations

from pathlib import PurePosixPath

SPEC_FILE = "spec.yaml"
SWEEP_FILE = "sweep.json"
LEASE_FILE = "writer.lease"
JOURNAL = "optuna.journal"
TRIALS_DIR = "trials"
CHECKPOINTS_DIR = "checkpoints"
RETENTION_DIR = "retention"
RESULTS_DIR = "results"
RUNS_DIR = "_runs"
INDEX_DIR = "_index"
TOKEN_CACHE_DIR = PurePosixPath("cache") / "tokens"
TUNE_DIR = "tune"
TRAIN_DIR = "train"
LOG_DIR = "logs"
LOG_FILE = "ray.log"
#: The marker file of a complete checkpoint (raygrid.models.CHECKPOINT_META
#: is this name; tests/sweep/test_retention.py checks that the two agree).
CHECKPOINT_MARKER = "raygrid.json"

__all__ = [
    "CHECKPOINTS_DIR",
    "CHECKPOINT_MARKER",
    "INDEX_DIR",
    "JOURNAL",
    "LEASE_FILE",
    "LOG_DIR",
    "LOG_FILE",
    "RESULTS_DIR",
    "RETENTION_DIR",
    "RUNS_DIR",
    "SPEC_FILE",
    "SWEEP_FILE",
    "TOKEN_CACHE_DIR",
    "TRAIN_DIR",
    "TRIALS_DIR",
    "TUNE_DIR",
]
