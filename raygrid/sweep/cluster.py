"""Ray core for the sweep's supervisor: start or join the cluster, check
that a trial fits, its address for the segment processes, shut down.

No Ray Tune or Ray Train here (they are :mod:`raygrid.sweep.ray_backend`'s):
the supervisor process (:mod:`raygrid.sweep.segments`) imports only this,
and stays small for the sweep's life.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import ray

from raygrid.errors import ConfigError
from raygrid.spec import SweepSpec

TRIAL_RESOURCE = "raygrid_trial"  # the custom resource each trial function holds 0.01 of
TRIAL_RESOURCE_TOTAL = 1000.0


def start(address: str | None, spec: SweepSpec) -> None:
    """Starts (or joins) Ray and checks that one trial of ``spec`` fits."""
    start_ray(address)
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    check_resources(spec, ray.cluster_resources(), nodes)


def start_ray(address: str | None) -> None:
    """Joins the cluster at ``address``, or starts a local one (with the
    ``raygrid_trial`` resource); nothing if Ray is already initialised."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    if address:
        ray.init(address=address, log_to_driver=False)
        if TRIAL_RESOURCE not in ray.cluster_resources():
            raise ConfigError(
                f"--address {address}: the cluster has no {TRIAL_RESOURCE!r} resource; start its head node with "
                f"--resources '{{\"{TRIAL_RESOURCE}\": {int(TRIAL_RESOURCE_TOTAL)}}}' (cluster.yaml does)"
            )
    else:
        # never a bare ray.init(): it would join whatever cluster Ray's temp folder points at
        ray.init(
            address="local",
            resources={TRIAL_RESOURCE: TRIAL_RESOURCE_TOTAL},
            include_dashboard=True,  # frees a stopped trial's placement group (State API)
            log_to_driver=False,
            configure_logging=False,
        )


def check_resources(spec: SweepSpec, cluster: Mapping[str, float], nodes: list[Mapping[str, float]]) -> int:
    """Raises ConfigError if one trial can never be placed; returns how many
    trials fit at once."""
    r = spec.resources
    need = {"CPU": r.cpus_per_worker, **({"GPU": r.gpus_per_worker} if r.use_gpu else {})}
    for name, amount in need.items():
        if not any(node.get(name, 0.0) >= amount for node in nodes):
            have = max((node.get(name, 0.0) for node in nodes), default=0.0)
            raise ConfigError(
                f"{spec.source}: resources.{'gpus' if name == 'GPU' else 'cpus'}_per_worker: {amount:g} {name} per "
                f"worker, but the largest node has {have:g}; allowed: at most {have:g}"
            )
        total = cluster.get(name, 0.0)
        if total < amount * r.num_workers:
            raise ConfigError(
                f"{spec.source}: resources.num_workers: {r.num_workers} workers need {amount * r.num_workers:g} "
                f"{name}, the cluster has {total:g}"
            )
    fits = [int(cluster.get(name, 0.0) // (amount * r.num_workers)) for name, amount in need.items() if amount > 0]
    return max(1, min(fits) if fits else 1)


def autoscaler_node_groups() -> list[tuple[dict[str, float], int]]:
    """(resources of one node, how many more the autoscaler may start) per
    node type of the cluster's autoscaler config; [] without an autoscaler
    (a local cluster, or one started by hand)."""
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # noqa: BLE001 - a private API: no config means no autoscaling
        return []
    if config is None:
        return []
    groups = []
    for group in config.node_group_configs:
        resources = {str(k): float(v) for k, v in group.resources.items()}
        if resources and group.max_count != 0:
            groups.append((resources, int(group.max_count)))
    return groups


def with_autoscaling(
    cluster: Mapping[str, float], nodes: list[Mapping[str, float]], groups: list[tuple[dict[str, float], int]]
) -> tuple[dict[str, float], list[Mapping[str, float]]]:
    """The resources an autoscaling cluster can reach: the live nodes plus
    each node type's maximum count (-1: unbounded, counted as 64 nodes). A
    sweep submitted to an autoscaling cluster at its minimum size sizes its
    concurrency by what the cluster can grow to; Tune's pending trials are
    what makes the autoscaler add nodes."""
    grown: dict[str, float] = {}
    for resources, max_count in groups:
        count = 64 if max_count < 0 else max_count
        for name, amount in resources.items():
            grown[name] = grown.get(name, 0.0) + amount * count
    total = {name: max(cluster.get(name, 0.0), grown.get(name, 0.0)) for name in {*cluster, *grown}}
    return total, [*nodes, *(resources for resources, _ in groups)]

def cluster_address() -> str:
    """The address a second driver process joins this driver's cluster with."""
    return str(ray.get_runtime_context().gcs_address)


def shutdown() -> None:
    if ray.is_initialized():
        ray.shutdown()


__all__ = ["TRIAL_RESOURCE", "autoscaler_node_groups", "check_resources", "cluster_address", "shutdown", "start",
           "start_ray", "with_autoscaling"]  # fmt: skip
