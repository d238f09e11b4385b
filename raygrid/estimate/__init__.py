"""Cost estimates of a sweep from its spec (``raygrid plan``): real task sizes
(:mod:`~raygrid.estimate.sizes`), a throughput per GPU
(:mod:`~raygrid.estimate.throughput`) and the formula
(:mod:`~raygrid.estimate.cost`); the checkpoints' disk per retention policy
(:mod:`~raygrid.estimate.disk`). Imports neither torch nor ray."""

from raygrid.estimate.disk import CheckpointDisk, checkpoint_disk, checkpoint_parameters
from raygrid.estimate.cost import CellEstimate, EpochsPolicy, Estimate, RunCost, estimate, policy_value, run_cost
from raygrid.estimate.throughput import Throughput, resolve_throughput

__all__ = [
    "CellEstimate",
    "CheckpointDisk",
    "EpochsPolicy",
    "Estimate",
    "RunCost",
    "Throughput",
    "checkpoint_disk",
    "checkpoint_parameters",
    "estimate",
    "policy_value",
    "resolve_throughput",
    "run_cost",
]
