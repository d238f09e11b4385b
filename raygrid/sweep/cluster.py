"""Ray core for the sweep's supervisor: start or join the cluster, check
that a trial fits, its address for the segment processes, shut down.

No Ray Tune or Ray Train here (they are :mod:`raygrid.sweep.ray_backend`'s):
the supervisor process (:mod:`raygrid.sweep.segments`) imports only this,
and stays small for the sweep's life.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import ray

from raygrid.errors import ConfigError
from raygrid.spec import SweepSpec

TRIAL_RESOURCE = "raygrid_trial"  # the custom resource each trial function holds 0.01 of
TRIAL_RESOURCE_TOTAL = 1000.0


def start(address: str | None, spec: SweepSpec) -> None:
    """Starts (or joins) Ray and checks that one trial of ``spec`` fits: on
    the live nodes, or on what the cluster's autoscaler may add (a sweep
    submitted to an autoscaling cluster at its minimum size)."""
    start_ray(address)
    live = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    groups = autoscaler_node_groups()
    cluster, nodes = with_autoscaling(ray.cluster_resources(), live, groups)
    check_node_groups(spec, groups, live)
    check_resources(spec, cluster, nodes)


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


class NodeGroup(NamedTuple):
    """One node type of the cluster's autoscaler config (a plain
    ``(resources, max_count)`` pair still reads as one)."""

    resources: dict[str, float]  # of one node
    max_count: int  # how many the autoscaler may start (-1: no limit)
    name: str = ""  # the node type, as the config names it
    source: str = ""  # where the config was read (for error messages)


#: The command line option Ray's autoscaler monitor reads its config from.
_MONITOR_CONFIG_OPTION = "--autoscaling-config="


def autoscaler_node_groups() -> list[NodeGroup]:
    """The worker node types the cluster's autoscaler may start; [] without
    an autoscaler (a local cluster, or one started by hand).

    Read from the cluster config the GCS publishes where something reports
    it (``ray._private.state.get_cluster_config``; Ray 2.60's own autoscaler
    never does), else from the config file of the autoscaler monitor of this
    cluster running on this machine: the driver runs on the head, and so does
    the monitor (``ray up`` starts it with ``--autoscaling-config=
    ~/ray_bootstrap_config.yaml``).
    """
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # noqa: BLE001 - a private API: no config means no autoscaling
        config = None
    if config is not None and config.node_group_configs:
        return [
            NodeGroup({str(k): float(v) for k, v in g.resources.items()}, int(g.max_count), str(g.name), "the GCS")
            for g in config.node_group_configs
            if g.resources and g.max_count != 0
        ]
    path = monitor_config_path(cluster_address())
    if path is None:
        return []
    from pathlib import Path

    import yaml

    try:
        text = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return []
    return node_groups(text, path) if isinstance(text, Mapping) else []


def monitor_config_path(gcs_address: str) -> str | None:
    """The ``--autoscaling-config`` of the autoscaler monitor (v1 or v2)
    whose ``--gcs-address`` is ``gcs_address``, among this machine's
    processes; None if there is none."""
    from pathlib import Path

    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not any(a.endswith(("autoscaler/v2/monitor.py", "autoscaler/_private/monitor.py")) for a in args[:3]):
            continue
        if f"--gcs-address={gcs_address}" not in args:
            continue
        for arg in args:
            if arg.startswith(_MONITOR_CONFIG_OPTION):
                return os.path.expanduser(arg[len(_MONITOR_CONFIG_OPTION) :])
    return None


def node_groups(config: Mapping[str, object], source: str) -> list[NodeGroup]:
    """The worker node types of a cluster launcher config (``cluster.yaml``'s
    ``available_node_types``, the head type excluded); each type's
    ``max_workers`` is capped by the config's own ``max_workers``."""
    types = config.get("available_node_types")
    if not isinstance(types, Mapping):
        return []
    cap = config.get("max_workers")
    out = []
    for name, node_type in types.items():
        if name == config.get("head_node_type") or not isinstance(node_type, Mapping):
            continue
        raw = node_type.get("max_workers", cap if cap is not None else -1)
        max_count = int(raw) if isinstance(raw, (int, float)) else -1
        if isinstance(cap, (int, float)) and (max_count < 0 or max_count > cap):
            max_count = int(cap)
        resources = node_type.get("resources")
        if isinstance(resources, Mapping) and max_count != 0:
            out.append(NodeGroup({str(k): float(v) for k, v in resources.items()}, max_count, str(name), source))
    return out


def check_node_groups(spec: SweepSpec, groups: Sequence[NodeGroup], live: Sequence[Mapping[str, float]] = ()) -> None:
    """Refuses an autoscaler config on which no trial of ``spec`` can ever
    run, before the sweep starts: no node (live, or of a node type) carries
    the trial resource, or the node types that fit a trial worker may not
    start enough nodes for one trial's workers (the live nodes count too).
    Nothing without ``groups``.

    Raises:
        ConfigError: one line naming the node type, the field, its value and
            what is allowed.
    """
    if not groups:
        return
    source = groups[0].source
    if not any(node.get(TRIAL_RESOURCE, 0.0) > 0 for node in [*live, *(g.resources for g in groups)]):
        raise ConfigError(
            f"{source}: available_node_types: no node type has resources.{TRIAL_RESOURCE} (and no live node "
            f"has it); allowed: the head node type with {TRIAL_RESOURCE}: {int(TRIAL_RESOURCE_TOTAL)} (cluster.yaml), "
            f"worker types with {TRIAL_RESOURCE}: 0"
        )
    r = spec.resources
    need = {"CPU": r.cpus_per_worker, **({"GPU": r.gpus_per_worker} if r.use_gpu else {})}

    def per_node(resources: Mapping[str, float]) -> int:
        """How many trial workers one node holds."""
        fits = [int(resources.get(name, 0.0) // amount) for name, amount in need.items() if amount > 0]
        return min(fits) if fits else r.num_workers

    holding = [(g, per_node(g.resources)) for g in groups if per_node(g.resources) > 0]
    if not holding:
        return  # no type fits one worker: check_resources names the resource and the largest node
    if any(group.max_count < 0 for group, _ in holding):
        return
    # a type's max_workers counts its live nodes too: the live nodes reach
    # further only where some were started by hand
    grown = sum(each * group.max_count for group, each in holding)
    if max(grown, sum(per_node(node) for node in live)) < r.num_workers:
        group, each = max(holding, key=lambda pair: pair[1] * pair[0].max_count)
        wanted = -(-(r.num_workers - (grown - each * group.max_count)) // each)
        raise ConfigError(
            f"{source}: available_node_types.{group.name}.max_workers: {group.max_count} ({each} trial worker(s) "
            f"a node), but one trial needs {r.num_workers} workers ({spec.source}: resources.num_workers); "
            f"allowed: at least {wanted}"
        )


def with_autoscaling(
    cluster: Mapping[str, float],
    nodes: list[Mapping[str, float]],
    groups: Sequence[NodeGroup | tuple[dict[str, float], int]],
) -> tuple[dict[str, float], list[Mapping[str, float]]]:
    """The resources an autoscaling cluster can reach: the live nodes plus
    each node type's maximum count (-1: unbounded, counted as 64 nodes). A
    sweep submitted to an autoscaling cluster at its minimum size sizes its
    concurrency by what the cluster can grow to; Tune's pending trials are
    what makes the autoscaler add nodes. The nodes returned are the live
    ones, then one of each node type."""
    grown: dict[str, float] = {}
    for resources, max_count, *_ in groups:
        count = 64 if max_count < 0 else max_count
        for name, amount in resources.items():
            grown[name] = grown.get(name, 0.0) + amount * count
    total = {name: max(cluster.get(name, 0.0), grown.get(name, 0.0)) for name in {*cluster, *grown}}
    return total, [*nodes, *(group[0] for group in groups)]


class PlacementGroupInfo(NamedTuple):
    """What :func:`orphaned_placement_groups` reads of a placement group."""

    id_hex: str
    state: str  # PENDING, CREATED, REMOVED, ...
    detached: bool
    creator_job: str  # hex
    creator_actor: str | None  # hex; None: created by the job's driver


def orphaned_placement_groups(
    groups: Sequence[PlacementGroupInfo], dead_jobs: set[str], live_actors: set[str]
) -> list[str]:
    """The placement groups Ray should have removed with their creator: not
    detached, not removed, their job dead and their creating actor (if any)
    no longer alive (Ray's own lifetime rule). Ray 2.60 can miss one: a
    Train controller that asks for its worker group's placement group while
    its driver is being killed leaves a group that is created later, on a
    node the autoscaler then never removes (seen in
    benchmarks/autoscale_campaign.py --restart-driver: a worker node held
    1 CPU "reserved in placement groups" by a dead job for good)."""
    return [
        g.id_hex for g in groups
        if g.state != "REMOVED" and not g.detached and g.creator_job in dead_jobs
        and (g.creator_actor is None or g.creator_actor not in live_actors)
    ]  # fmt: skip


def find_orphaned_placement_groups() -> list[str]:
    """:func:`orphaned_placement_groups` of the cluster this process joined
    (ids, hex); reads Ray's GCS tables through ``ray._private.state`` (Ray
    2.60; tests/sweep/test_orphaned_groups.py fails when they move) and
    changes nothing."""
    from ray._private import state
    from ray.core.generated import gcs_pb2

    nil_actor = "f" * 32
    groups = []
    for raw in state.state._connect_and_get_accessor().get_placement_group_table():
        data = gcs_pb2.PlacementGroupTableData.FromString(raw)
        actor = data.creator_actor_id.hex()
        groups.append(PlacementGroupInfo(
            data.placement_group_id.hex(), gcs_pb2.PlacementGroupTableData.PlacementGroupState.Name(data.state),
            data.is_detached, data.creator_job_id.hex(), None if not actor or actor == nil_actor else actor,
        ))  # fmt: skip
    groups = [g for g in groups if g.state != "REMOVED" and not g.detached]
    if not groups:
        return []
    dead_jobs = {str(j["JobID"]) for j in state.jobs() if j.get("IsDead")}
    groups = [g for g in groups if g.creator_job in dead_jobs]
    # every actor of the cluster, read only when a dead job's group was made by one (a live sweep's 30 s look
    # usually stops above: its own groups belong to a live job)
    live_actors = ({str(a) for a, info in state.actors().items() if info.get("State") != "DEAD"}
                   if any(g.creator_actor is not None for g in groups) else set())  # fmt: skip
    return orphaned_placement_groups(groups, dead_jobs, live_actors)


def remove_orphaned_placement_groups() -> list[str]:
    """Removes :func:`find_orphaned_placement_groups`; returns their ids
    (hex). A segment that joins a cluster runs it at its start, every half
    minute and at its end (:class:`raygrid.sweep.ray_backend.ReapOrphanedGroups`:
    a killed driver's controller may register its group a moment after the
    driver is gone)."""
    from ray.util.placement_group import PlacementGroup

    orphans = find_orphaned_placement_groups()
    for id_hex in orphans:
        ray.util.remove_placement_group(PlacementGroup(ray.PlacementGroupID(bytes.fromhex(id_hex))))
    return orphans


def cluster_address() -> str:
    """The address a second driver process joins this driver's cluster with."""
    return str(ray.get_runtime_context().gcs_address)


def shutdown() -> None:
    if ray.is_initialized():
        ray.shutdown()


__all__ = ["TRIAL_RESOURCE", "NodeGroup", "PlacementGroupInfo", "autoscaler_node_groups", "check_node_groups",
           "check_resources", "cluster_address", "find_orphaned_placement_groups", "monitor_config_path", "node_groups",
           "orphaned_placement_groups", "remove_orphaned_placement_groups", "shutdown", "start", "start_ray", "with_autoscaling"]  # fmt: skip
