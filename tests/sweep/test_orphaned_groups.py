"""Placement groups a killed driver left behind (raygrid.sweep.cluster):
which count as orphans (Ray's own lifetime rule), and, on a real local Ray,
that reading Ray's tables works and removes nothing that lives."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from raygrid.sweep.cluster import PlacementGroupInfo, orphaned_placement_groups


def _group(id_hex: str, *, state: str = "CREATED", detached: bool = False, job: str = "02000000",
           actor: str | None = "aa") -> PlacementGroupInfo:  # fmt: skip
    return PlacementGroupInfo(id_hex, state, detached, job, actor)


def test_an_orphan_is_a_live_group_of_a_dead_job_whose_creator_is_gone() -> None:
    groups = [
        _group("orphan"),  # a dead job's controller (dead) asked for it: Ray should have removed it
        _group("pending-orphan", state="PENDING"),
        _group("driver-made", actor=None),  # the dead job's driver made it
        _group("live-job", job="04000000"),  # the running driver's
        _group("removed", state="REMOVED"),
        _group("detached", detached=True),  # lives on by design
        _group("detached-creator", actor="bb"),  # its creating actor (detached) is alive: it lives with it
    ]
    assert orphaned_placement_groups(groups, dead_jobs={"02000000"}, live_actors={"bb"}) == [
        "orphan", "pending-orphan", "driver-made"]  # fmt: skip
    assert orphaned_placement_groups(groups, dead_jobs=set(), live_actors=set()) == []


_DETACHED_GROUP = """
import ray
from ray.util.placement_group import placement_group
ray.init(address="{address}", log_to_driver=False)
group = placement_group([{{"CPU": 0.01}}], lifetime="detached", name="raygrid-test-detached")
ray.get(group.ready(), timeout=60)
"""


@pytest.mark.e2e
def test_on_a_real_ray_nothing_that_lives_is_removed_and_an_orphan_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A detached group of a finished driver and this driver's own group
    stay; the function reads Ray 2.60's tables (fails when they move). Then,
    this job taken for dead, its group is an orphan and is removed."""
    import ray
    from ray._private import state
    from ray.util.placement_group import placement_group

    from raygrid.sweep.cluster import remove_orphaned_placement_groups

    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        address = ray.get_runtime_context().gcs_address
        done = subprocess.run([sys.executable, "-c", _DETACHED_GROUP.format(address=address)],
                              env={**os.environ, "RAY_ADDRESS": address}, capture_output=True, text=True, timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        own = placement_group([{"CPU": 0.01}])
        ray.get(own.ready(), timeout=60)
        assert remove_orphaned_placement_groups() == []
        table = ray.util.placement_group_table()
        states = {info["name"]: info["state"] for info in table.values()}
        assert states["raygrid-test-detached"] == "CREATED"
        assert table[own.id.hex()]["state"] == "CREATED"
        job = ray.get_runtime_context().get_job_id()
        monkeypatch.setattr(state, "jobs", lambda: [{"JobID": job, "IsDead": True}])
        assert remove_orphaned_placement_groups() == [own.id.hex()]
        assert ray.util.placement_group_table()[own.id.hex()]["state"] == "REMOVED"
        detached = next(key for key, info in table.items() if info["name"] == "raygrid-test-detached")
        assert ray.util.placement_group_table()[detached]["state"] == "CREATED"
    finally:
        ray.shutdown()
