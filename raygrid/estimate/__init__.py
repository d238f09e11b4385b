"""Cost estimates of a sweep from its spec (``raygrid plan``): real task sizes
(:mod:`~raygrid.estimate.sizes`), a throughput per GPU
(:mod:`~raygrid.estimate.throughput`) and the formula
(:mod:`~raygrid.estimate.cost`). Imports neither torch nor ray."""

from raygrid.estimate.cost import CellEstimate, EpochsPolicy, Estimate, RunCost, estimate, policy_value, run_cost
from raygrid.estimate.throughput import Throughput, resolve_throughput

__all__ = [
    "CellEstimate",
    "EpochsPolicy",
    "Estimate",
    "RunCost",
    "Throughput",
    "estimate",
    "policy_value",
    "resolve_throughput",
    "run_cost",
]
