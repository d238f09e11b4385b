"""An autoscaling cluster's node types, as the driver reads and checks them
before a sweep starts (raygrid/sweep/cluster.py), without any Ray cluster:
the node groups are fed in directly, or read from a config file the way the
driver finds the autoscaler monitor's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from raygrid.errors import ConfigError
from raygrid.spec import SweepSpec, load_spec, parse_spec
from raygrid.sweep import cluster
from raygrid.sweep.cluster import (
    TRIAL_RESOURCE,
    NodeGroup,
    check_node_groups,
    check_resources,
    monitor_config_path,
    node_groups,
    with_autoscaling,
)

ROOT = Path(__file__).resolve().parents[2]
HEAD = {"CPU": 0.0, TRIAL_RESOURCE: 1000.0}


def _spec(num_workers: int = 1, cpus: float = 1, max_concurrent: int | None = None) -> SweepSpec:
    return parse_spec(
        {
            "name": "s",
            "model": {"name_or_path": "m"},
            "data": {"source": "bundled"},
            "intermediates": ["none"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "resources": {"num_workers": num_workers, "cpus_per_worker": cpus, "use_gpu": False},
            "max_concurrent_trials": max_concurrent,
            "storage": "runs/",
        }
    )


def _group(name: str = "worker-spot", cpus: float = 1, max_count: int = 2, **extra: float) -> NodeGroup:
    return NodeGroup({"CPU": cpus, **extra}, max_count, name, "cluster.yaml")


def test_cluster_yaml_node_types_are_read_without_the_head_and_capped() -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    groups = {g.name: g for g in node_groups(config, "cluster.yaml")}
    assert set(groups) == {"gpu4-spot", "gpu4-ondemand", "gpu1-spot", "gpu1-ondemand"}
    assert groups["gpu4-spot"].max_count == 8 and groups["gpu4-spot"].resources["GPU"] == 4
    config["max_workers"] = 3  # the cluster's own cap bounds every type
    assert {g.name: g.max_count for g in node_groups(config, "cluster.yaml")}["gpu4-spot"] == 3


def test_cluster_yaml_holds_the_robustness_spec_at_minimum_size() -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    spec = load_spec(ROOT / "search_spaces" / "robustness.yaml")
    head = config["available_node_types"]["head"]["resources"]
    groups = node_groups(config, "cluster.yaml")
    check_node_groups(spec, groups, live=[head])  # passes
    total, nodes = with_autoscaling(head, [head], groups)
    assert check_resources(spec, total, nodes) >= 2


def test_no_node_type_with_the_trial_resource_is_refused_naming_it() -> None:
    head_without = {"CPU": 0.0}
    with pytest.raises(ConfigError, match=rf"^cluster\.yaml: available_node_types: no node type has resources\.{TRIAL_RESOURCE} .*allowed: the head node type with {TRIAL_RESOURCE}: 1000"):
        check_node_groups(_spec(), [_group()], live=[head_without])


@pytest.mark.parametrize(
    ("num_workers", "max_count", "wanted"),
    [(2, 1, 2), (4, 2, 4)],
)
def test_max_workers_below_one_trial_is_refused_naming_the_type(num_workers: int, max_count: int, wanted: int) -> None:
    with pytest.raises(ConfigError) as error:
        check_node_groups(_spec(num_workers=num_workers), [_group(max_count=max_count)], live=[HEAD])
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"cluster.yaml: available_node_types.worker-spot.max_workers: {max_count} (1 trial worker(s) a node)")
    assert f"one trial needs {num_workers} workers" in message and message.endswith(f"allowed: at least {wanted}")


def test_a_trial_spread_over_two_node_types_or_one_big_node_passes() -> None:
    check_node_groups(_spec(num_workers=4), [_group("a", max_count=2), _group("b", max_count=2)], live=[HEAD])
    check_node_groups(_spec(num_workers=4), [_group("big", cpus=4, max_count=1)], live=[HEAD])
    check_node_groups(_spec(num_workers=8), [_group("unbounded", max_count=-1)], live=[HEAD])


def test_live_nodes_started_by_hand_count() -> None:
    by_hand = [HEAD, {"CPU": 2.0}, {"CPU": 2.0}]
    check_node_groups(_spec(num_workers=4), [_group(max_count=1)], live=by_hand)


def test_the_wanted_count_counts_the_other_types() -> None:
    with pytest.raises(ConfigError, match=r"available_node_types\.b\.max_workers: 2 \(2 trial worker\(s\) a node\).*allowed: at least 4$"):
        check_node_groups(_spec(num_workers=8), [_group("a", max_count=1), _group("b", cpus=2, max_count=2)], live=[HEAD])


def test_no_autoscaler_no_check() -> None:
    check_node_groups(_spec(num_workers=32), [], live=[HEAD])


def test_the_driver_refuses_before_the_sweep_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """cluster.start: the check runs on the node groups, with the cluster at
    its minimum size (the head alone), before anything is written."""
    monkeypatch.setattr(cluster, "start_ray", lambda address: None)
    monkeypatch.setattr(cluster.ray, "nodes", lambda: [{"Alive": True, "Resources": HEAD}])
    monkeypatch.setattr(cluster.ray, "cluster_resources", lambda: dict(HEAD))
    monkeypatch.setattr(cluster, "autoscaler_node_groups", lambda: [_group(max_count=1)])
    cluster.start("127.0.0.1:1", _spec())  # one worker of one CPU: the head alone grows to hold it
    with pytest.raises(ConfigError, match=r"worker-spot\.max_workers: 1 "):
        cluster.start("127.0.0.1:1", _spec(num_workers=2))


def test_a_spec_that_fits_at_maximum_size_gets_its_concurrency_from_it() -> None:
    total, nodes = with_autoscaling(HEAD, [HEAD], [_group(cpus=1, max_count=3)])
    assert total["CPU"] == 3 and check_resources(_spec(), total, nodes) == 3


def _fake_monitor(tmp_path: Path, args: list[str]) -> subprocess.Popen[bytes]:
    """A process whose command line is an autoscaler monitor's."""
    script = tmp_path / "ray" / "autoscaler" / "v2" / "monitor.py"
    script.parent.mkdir(parents=True)
    script.write_text("import time\ntime.sleep(60)\n")
    return subprocess.Popen([sys.executable, str(script), *args])


def test_the_monitor_of_this_cluster_gives_its_config(tmp_path: Path) -> None:
    config: dict[str, Any] = {
        "max_workers": 2, "head_node_type": "head",
        "available_node_types": {"head": {"resources": HEAD, "max_workers": 0},
                                 "w": {"resources": {"CPU": 1}, "min_workers": 0, "max_workers": 2}},
    }  # fmt: skip
    path = tmp_path / "autoscaling.yaml"
    path.write_text(yaml.safe_dump(config))
    monitor = _fake_monitor(tmp_path, ["--logs-dir=/x", "--gcs-address=127.0.0.1:41234", f"--autoscaling-config={path}"])
    try:
        deadline = time.time() + 30
        found = None
        while found is None and time.time() < deadline:
            found = monitor_config_path("127.0.0.1:41234")
            time.sleep(0.1)
        assert found == str(path)
        assert monitor_config_path("127.0.0.1:41235") is None  # another cluster's monitor is not this one's
        assert node_groups(yaml.safe_load(Path(found).read_text()), found) == [NodeGroup({"CPU": 1.0}, 2, "w", found)]
    finally:
        monitor.kill()
        monitor.wait()
