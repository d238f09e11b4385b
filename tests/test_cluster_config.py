"""cluster.yaml and deploy/kuberay/*.yaml, checked offline.

- cluster.yaml goes through Ray's own launcher path: ``prepare_config`` (the
  defaults of the AWS provider, merged setup commands, per-type worker limits;
  no cloud call) and ``validate_config`` (ray/autoscaler/ray-schema.json).
- the KubeRay manifests are validated against KubeRay's CRD schemas
  (tests/data/kuberay/, a trimmed copy: see its README) and read by Ray's own
  KubeRay autoscaler config translator.
- both are checked against what raygrid's driver needs: the ``raygrid_trial``
  resource, a node type that holds a trial of search_spaces/robustness.yaml
  (the driver's own ``check_resources``), and no credentials in any file.
"""

from __future__ import annotations

import copy
import functools
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_YAML = ROOT / "cluster.yaml"
RAYCLUSTER_YAML = ROOT / "deploy" / "kuberay" / "raycluster.yaml"
RAYJOB_YAML = ROOT / "deploy" / "kuberay" / "rayjob.yaml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
CRD_DIR = Path(__file__).resolve().parent / "data" / "kuberay"
ROBUSTNESS_SPEC = ROOT / "search_spaces" / "robustness.yaml"

# vCPUs and GPUs of the EC2 instance types cluster.yaml uses (AWS's published specs)
INSTANCE_SPECS = {
    "m5.2xlarge": {"CPU": 8, "GPU": 0},
    "g5.2xlarge": {"CPU": 8, "GPU": 1},
    "g5.12xlarge": {"CPU": 48, "GPU": 4},
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def trial_resource() -> tuple[str, float]:
    from raygrid.sweep.cluster import TRIAL_RESOURCE, TRIAL_RESOURCE_TOTAL

    return TRIAL_RESOURCE, TRIAL_RESOURCE_TOTAL


# -- credentials ------------------------------------------------------------------------------------

# Key material or credential assignments, in any config file we ship.
_SECRET_TEXT = [
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),  # Hugging Face tokens
    re.compile(r"(?i)\btoken\s*="),
    re.compile(r"(?i)\baws_(secret_access_key|access_key_id|session_token)\s*[:=]"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
_SECRET_NAME = re.compile(r"(?i)(secret|password|passwd|token|access_?key|credential|private_?key)")


def credential_problems(text: str) -> list[str]:
    """Credential-like strings in a file's text."""
    return [f"{p.pattern!r} matches {m.group(0)!r}" for p in _SECRET_TEXT for m in p.finditer(text)]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, key, value) of every mapping entry, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            yield here, key, value
            yield from walk(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def containers(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = manifest["spec"].get("rayClusterSpec", manifest["spec"])
    groups = [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]
    for group in groups:
        yield from group["template"]["spec"]["containers"]


def env_problems(manifest: dict[str, Any]) -> list[str]:
    """Secret-looking environment variables that are not Secret references."""
    problems = []
    for container in containers(manifest):
        for var in container.get("env", []):
            if _SECRET_NAME.search(var["name"]):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if "value" in var or not ref:
                    problems.append(f"{container['name']}: {var['name']} is not a secretKeyRef")
    return problems


@pytest.mark.parametrize("path", [CLUSTER_YAML, RAYCLUSTER_YAML, RAYJOB_YAML, DOCKERFILE], ids=lambda p: p.name)
def test_no_credentials_in_cluster_files(path: Path) -> None:
    assert credential_problems(path.read_text()) == []


def test_no_credential_keys_in_cluster_yaml() -> None:
    keys = [where for where, key, _ in walk(load(CLUSTER_YAML)) if _SECRET_NAME.search(str(key))]
    assert keys == []
    assert "ssh_private_key" not in load(CLUSTER_YAML).get("auth", {})


@pytest.mark.parametrize("path", [RAYCLUSTER_YAML, RAYJOB_YAML], ids=lambda p: p.name)
def test_manifest_secrets_only_by_reference(path: Path) -> None:
    manifest = load(path)
    assert env_problems(manifest) == []
    names = {var["name"] for c in containers(manifest) for var in c.get("env", [])}
    assert {"HF_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= names


def test_credential_checks_catch_credentials() -> None:
    """The checks above can fail."""
    fake_key = "AKIA" + "ABCDEFGHIJKLMNOP"
    fake_token = "hf_" + "a" * 34
    for leak in [f"aws_access_key_id: {fake_key}\n", "aws_secret_access_key = x\n", f"HF token: {fake_token}\n",
                 "url: https://host/x?token=abc\n"]:  # fmt: skip
        assert credential_problems(CLUSTER_YAML.read_text() + leak)
    leaky = load(RAYCLUSTER_YAML)
    leaky["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"].append({"name": "HF_TOKEN", "value": "x"})
    assert env_problems(leaky) == ["ray-head: HF_TOKEN is not a secretKeyRef"]


# -- cluster.yaml: Ray's own launcher schema -------------------------------------------------------


def prepared(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` builds from the file before any cloud call, validated."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(config))
    validate_config(config)
    return config


def test_cluster_yaml_passes_ray_schema() -> None:
    config = prepared(load(CLUSTER_YAML))
    assert config["provider"]["type"] == "aws"
    assert config["max_workers"] >= sum(t["min_workers"] for t in config["available_node_types"].values())
    assert config["idle_timeout_minutes"] > 0
    for name, node_type in config["available_node_types"].items():
        if name != config["head_node_type"]:
            assert 0 <= node_type["min_workers"] <= node_type["max_workers"] <= config["max_workers"], name


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        _set("max_worker", 3),  # unknown top-level key
        _set("max_workers", "12"),  # wrong type
        _set("available_node_types.gpu4-spot.resources.GPU", 0.5),  # resources are integers
        _set("available_node_types.gpu4-spot.min_worker", 1),  # unknown node-type key
        _drop("available_node_types.gpu1-spot.node_config"),  # required
        _set("head_node_type", "ray.head.default"),  # not one of the node types
        _set("max_workers", 0),  # below the sum of min_workers
    ],
    ids=["unknown-key", "wrong-type", "float-resource", "unknown-node-key", "no-node-config", "bad-head", "min>max"],
)
def test_ray_schema_rejects_broken_cluster_yaml(mutate: Callable[[dict[str, Any]], None]) -> None:
    config = load(CLUSTER_YAML)
    mutate(config)
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        prepared(config)


# -- cluster.yaml: what raygrid needs ---------------------------------------------------------------


def node_types() -> dict[str, dict[str, Any]]:
    return load(CLUSTER_YAML)["available_node_types"]


def is_spot(node_type: dict[str, Any]) -> bool:
    return node_type["node_config"].get("InstanceMarketOptions", {}).get("MarketType") == "spot"


def test_declared_resources_match_instance_types() -> None:
    for name, node_type in node_types().items():
        instance = node_type["node_config"]["InstanceType"]
        assert instance in INSTANCE_SPECS, f"{name}: add {instance}'s vCPUs and GPUs to INSTANCE_SPECS"
        declared = node_type["resources"]
        if name != load(CLUSTER_YAML)["head_node_type"]:
            assert declared["CPU"] == INSTANCE_SPECS[instance]["CPU"], name
        assert declared["GPU"] == INSTANCE_SPECS[instance]["GPU"], name


def test_nodes_get_credentials_from_instance_profiles() -> None:
    """S3 access (and the head's EC2 access) come from IAM instance profiles, by name."""
    profiles = {name: t["node_config"].get("IamInstanceProfile") for name, t in node_types().items()}
    config = load(CLUSTER_YAML)
    assert profiles.pop(config["head_node_type"]) == {"Name": "raygrid-head"}
    assert set(map(str, profiles.values())) == {str({"Name": "raygrid-worker"})}


def test_head_hosts_the_driver_but_no_training() -> None:
    config = load(CLUSTER_YAML)
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"]["CPU"] == 0
    assert head["resources"]["GPU"] == 0
    assert INSTANCE_SPECS[head["node_config"]["InstanceType"]]["GPU"] == 0
    assert not is_spot(head)  # the driver must not be taken back by EC2


def test_every_node_type_declares_the_trial_resource() -> None:
    name, total = trial_resource()
    config = load(CLUSTER_YAML)
    for type_name, node_type in node_types().items():
        assert name in node_type["resources"], type_name
        if type_name == config["head_node_type"]:
            assert node_type["resources"][name] == int(total)
        else:  # trial functions (and their Train controllers) stay off the workers
            assert node_type["resources"][name] == 0, type_name


def test_gpu_types_come_as_spot_and_on_demand_pairs() -> None:
    config = load(CLUSTER_YAML)
    assert config["provider"]["cache_stopped_nodes"] is False  # one-time spot instances cannot be stopped
    gpu = {n: t for n, t in node_types().items() if t["resources"]["GPU"] > 0}
    by_instance: dict[str, dict[bool, list[str]]] = {}
    for name, node_type in gpu.items():
        by_instance.setdefault(node_type["node_config"]["InstanceType"], {True: [], False: []})[is_spot(node_type)].append(name)
    assert len(by_instance) >= 2  # a single-GPU and a multi-GPU instance type
    assert any(INSTANCE_SPECS[i]["GPU"] == 1 for i in by_instance) and any(INSTANCE_SPECS[i]["GPU"] > 1 for i in by_instance)
    for instance, kinds in by_instance.items():
        assert len(kinds[True]) == 1 and len(kinds[False]) == 1, instance
        spot, on_demand = gpu[kinds[True][0]], gpu[kinds[False][0]]
        # autoscaler v2 ranks equal fits by priority; v1 by name, highest first
        assert spot.get("priority", 0) > on_demand.get("priority", 0), instance
        assert kinds[True][0] > kinds[False][0], instance
        assert spot["resources"] == on_demand["resources"], instance


def node_resources(types: dict[str, dict[str, Any]], count: str) -> list[dict[str, float]]:
    """The nodes of a cluster with every type at min_workers or max_workers (the head once)."""
    config = load(CLUSTER_YAML)
    nodes = []
    for name, node_type in types.items():
        n = 1 if name == config["head_node_type"] else node_type.get(count, 0)
        nodes += [dict(node_type["resources"])] * n
    return nodes


def check(nodes: list[dict[str, float]]) -> int:
    from raygrid.spec import load_spec
    from raygrid.sweep.cluster import check_resources

    cluster: dict[str, float] = {}
    for node in nodes:
        for key, value in node.items():
            cluster[key] = cluster.get(key, 0) + value
    return check_resources(load_spec(ROBUSTNESS_SPEC), cluster, nodes)


def test_the_smallest_cluster_runs_a_robustness_trial() -> None:
    """At min_workers the driver's own resource check passes (it refuses to
    start otherwise), and at max_workers several trials run at once."""
    assert check(node_resources(node_types(), "min_workers")) >= 1
    assert check(node_resources(node_types(), "max_workers")) >= 8


def test_setup_installs_torch_then_raygrid() -> None:
    import ray

    config = load(CLUSTER_YAML)
    commands = config["setup_commands"]
    torch_at = next(i for i, c in enumerate(commands) if re.search(r"pip install .*\btorch==", c))
    raygrid_at = next(i for i, c in enumerate(commands) if re.search(r"pip install .*raygrid", c))
    assert torch_at < raygrid_at
    wheel_dir = re.search(r"(~/\S+)/raygrid-\*\.whl", commands[raygrid_at])
    assert wheel_dir and config["file_mounts"][wheel_dir.group(1)] == "./dist"
    assert config["docker"]["image"].startswith(f"rayproject/ray:{ray.__version__}-")
    # the merged commands ray up runs: ours first, on the head and on every worker
    merged = prepared(config)
    assert merged["head_setup_commands"][: len(commands)] == commands
    assert merged["worker_setup_commands"][: len(commands)] == commands


# -- KubeRay: the CRD schemas ----------------------------------------------------------------------


def k8s_to_jsonschema(node: Any) -> Any:
    """A CRD's structural OpenAPI v3 schema as a JSON Schema that validates
    like the API server with strict field validation: objects with
    ``properties`` are closed unless ``x-kubernetes-preserve-unknown-fields``;
    ``x-kubernetes-int-or-string`` accepts an integer or a string;
    ``nullable`` accepts null."""
    if isinstance(node, list):
        return [k8s_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: k8s_to_jsonschema(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in schema:
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("x-kubernetes-preserve-unknown-fields"):
        schema.pop("additionalProperties", None)
    elif "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    if schema.pop("nullable", False) and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    schema.pop("default", None)
    schema.pop("format", None)
    return schema


@functools.lru_cache(maxsize=None)
def crd_schema(crd_file: str, group: str, kind: str, version: str) -> jsonschema.Draft7Validator:
    crd = load(CRD_DIR / crd_file)
    assert group == crd["spec"]["group"] and kind == crd["spec"]["names"]["kind"]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    schema = k8s_to_jsonschema(copy.deepcopy(served["schema"]["openAPIV3Schema"]))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def crd_validator(crd_file: str, manifest: dict[str, Any]) -> jsonschema.Draft7Validator:
    group, _, version = manifest["apiVersion"].partition("/")
    return crd_schema(crd_file, group, manifest["kind"], version)


def crd_errors(crd_file: str, manifest: dict[str, Any]) -> list[str]:
    errors = crd_validator(crd_file, manifest).iter_errors(manifest)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


MANIFESTS = [(RAYCLUSTER_YAML, "ray.io_rayclusters.v1.trimmed.yaml"), (RAYJOB_YAML, "ray.io_rayjobs.v1.trimmed.yaml")]


@pytest.mark.parametrize(("path", "crd_file"), MANIFESTS, ids=["raycluster", "rayjob"])
def test_manifest_validates_against_kuberay_crd(path: Path, crd_file: str) -> None:
    manifest = load(path)
    assert manifest["apiVersion"] == "ray.io/v1"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", manifest["metadata"]["name"])
    assert crd_errors(crd_file, manifest) == []


def _cluster_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"].get("rayClusterSpec", manifest["spec"])


@pytest.mark.parametrize(
    ("crd_index", "mutate", "where"),
    [
        (0, lambda m: m["spec"].update(enableInTreeAutoscalling=True), "spec"),  # misspelled field
        (0, lambda m: m["spec"]["workerGroupSpecs"][0].update(minReplicas="1"), "spec.workerGroupSpecs.0.minReplicas"),
        (0, lambda m: m["spec"]["workerGroupSpecs"][0].pop("groupName"), "spec.workerGroupSpecs.0"),
        (0, lambda m: m["spec"]["autoscalerOptions"].update(upscalingMode="Fast"), "spec.autoscalerOptions.upscalingMode"),
        (0, lambda m: m["spec"]["headGroupSpec"]["rayStartParams"].update({"num-cpus": 0}),
         "spec.headGroupSpec.rayStartParams.num-cpus"),  # fmt: skip
        (1, lambda m: m["spec"].update(entrypoint=["raygrid", "run"]), "spec.entrypoint"),
        (1, lambda m: _cluster_spec(m)["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"]
         .update({"nvidia.com/gpu": "four"}), "spec.rayClusterSpec.workerGroupSpecs.0.template.spec.containers.0"),  # fmt: skip
    ],
    ids=["misspelled-field", "string-replicas", "no-group-name", "bad-enum", "int-start-param", "list-entrypoint",
         "bad-quantity"],  # fmt: skip
)
def test_crd_validation_rejects_broken_manifests(crd_index: int, mutate: Callable[[Any], Any], where: str) -> None:
    path, crd_file = MANIFESTS[crd_index]
    manifest = load(path)
    mutate(manifest)
    errors = crd_errors(crd_file, manifest)
    assert errors and any(e.startswith(where) for e in errors), errors


def test_k8s_schema_extensions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "q": {"anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^[0-9]+(Gi)?$",
                  "x-kubernetes-int-or-string": True},  # fmt: skip
            "port": {"x-kubernetes-int-or-string": True},
            "free": {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": True},
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
            "maybe": {"type": "string", "nullable": True},
        },
    }
    validator = jsonschema.Draft7Validator(k8s_to_jsonschema(schema))
    good = {"q": "16Gi", "port": 8265, "free": {"a": "x", "extra": 1}, "closed": {"a": "x"}, "maybe": None}
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({"q": 4, "port": "dashboard"})) == []
    for bad in [{"q": "16 GB"}, {"q": 1.5}, {"port": 1.5}, {"closed": {"extra": 1}}, {"maybe": 3}, {"unknown": 1}]:
        assert list(validator.iter_errors(bad)), bad


# -- KubeRay: what raygrid needs --------------------------------------------------------------------


def autoscaler_view(cluster_spec: dict[str, Any]) -> dict[str, Any]:
    """The node types Ray's KubeRay autoscaler derives from a RayCluster spec
    (the same code runs in the autoscaler container; it validates the result)."""
    from ray.autoscaler._private.kuberay.autoscaling_config import _derive_autoscaling_config_from_ray_cr

    ray_cr = {"metadata": {"name": "raygrid", "namespace": "default"}, "spec": copy.deepcopy(cluster_spec)}
    return _derive_autoscaling_config_from_ray_cr(ray_cr)["available_node_types"]


@pytest.mark.parametrize("path", [RAYCLUSTER_YAML, RAYJOB_YAML], ids=["raycluster", "rayjob"])
def test_kuberay_cluster_gives_raygrid_what_it_needs(path: Path) -> None:
    name, total = trial_resource()
    spec = _cluster_spec(load(path))
    assert spec["enableInTreeAutoscaling"] is True
    types = autoscaler_view(spec)
    head = types.pop("headgroup")
    assert head["resources"]["CPU"] == 0 and "GPU" not in head["resources"]
    assert head["resources"][name] == int(total)
    assert types, "no worker group"
    for group, node_type in types.items():
        assert node_type["resources"]["GPU"] >= 1, group
        assert node_type["resources"][name] == 0, group
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"], group
    nodes_min = [head["resources"]] + [t["resources"] for t in types.values() for _ in range(t["min_workers"])]
    nodes_max = [head["resources"]] + [t["resources"] for t in types.values() for _ in range(t["max_workers"])]
    assert check(nodes_min) >= 1
    assert check(nodes_max) >= 8
    assert len({container["image"] for container in containers(load(path))}) == 1  # one image everywhere


def test_rayjob_runs_the_robustness_sweep_on_s3() -> None:
    job = load(RAYJOB_YAML)
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:3] == ["raygrid", "run", "search_spaces/robustness.yaml"]
    assert (ROOT / argv[2]).is_file()
    assert argv[argv.index("--storage") + 1].startswith("s3://")
    assert argv[argv.index("--address") + 1] == "auto"
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    assert job["spec"]["rayClusterSpec"] == load(RAYCLUSTER_YAML)["spec"]  # the two stay in step


def test_kuberay_image_matches_ray_and_installs_torch_then_raygrid() -> None:
    import ray

    assert load(RAYCLUSTER_YAML)["spec"]["rayVersion"] == ray.__version__
    lines = DOCKERFILE.read_text().splitlines()
    (base,) = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert base.startswith(f"rayproject/ray:{ray.__version__}-")
    torch_at = next(i for i, line in enumerate(lines) if re.search(r"pip install .*\btorch==", line))
    raygrid_at = next(i for i, line in enumerate(lines) if re.search(r"pip install .*raygrid-\*\.whl", line))
    assert torch_at < raygrid_at
    assert any(line.startswith("COPY search_spaces/") for line in lines)


def test_a_sweep_at_minimum_size_plans_for_what_the_autoscaler_can_add() -> None:
    """Submitted while only the head and the min_workers nodes are up, the
    driver sizes its concurrency by the node types' max_workers (the pending
    trials are what makes the autoscaler add nodes), and a spec needing a
    bigger GPU node than any type offers is still refused."""
    from raygrid.errors import ConfigError
    from raygrid.spec import load_spec
    from raygrid.sweep.cluster import check_resources, with_autoscaling

    types = node_types()
    live = node_resources(types, "min_workers")
    cluster: dict[str, float] = {}
    for node in live:
        for key, value in node.items():
            cluster[key] = cluster.get(key, 0) + value
    config = load(CLUSTER_YAML)
    groups = [
        (dict(t["resources"]), 1 if name == config["head_node_type"] else t.get("max_workers", 0))
        for name, t in types.items()
    ]
    spec = load_spec(ROBUSTNESS_SPEC)
    at_min = check_resources(spec, cluster, live)
    grown = check_resources(spec, *with_autoscaling(cluster, live, groups))
    assert grown == check(node_resources(types, "max_workers")) and grown > at_min
    huge = spec.model_copy(update={"resources": spec.resources.model_copy(update={"gpus_per_worker": 64.0})})
    with pytest.raises(ConfigError, match="gpus_per_worker"):
        check_resources(huge, *with_autoscaling(cluster, live, groups))
