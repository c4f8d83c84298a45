"""deploy/kubernetes: every resource against Kubernetes' own schemas (kubernetes-validate bundles
them: no cluster), strictly, then what a scale-out needs of them: the gateway's upstreams as the
pools' Services, the ingest in one share group, probes, requests and limits, non-root pods,
disruption budgets, autoscalers, network policies, and no Secret with a value in the tree."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy.deploy_files import (
    DEPLOY,
    KUBERNETES_DIR,
    NGINX_DIR,
    PROJECT,
    by_kind,
    containers_of,
    kustomization,
    pod_spec,
    render_kubernetes,
)

KUBERNETES_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests are for (docs/deployment.md)."""


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return render_kubernetes()


def test_every_resource_follows_kubernetes_schemas(resources: list[dict[str, Any]]) -> None:
    assert len(resources) > 40
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_refuses_a_bad_resource(resources: list[dict[str, Any]]) -> None:
    deployment = dict(by_kind(resources, "Deployment")["api-core"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_resource_file_is_in_the_kustomization() -> None:
    listed = set(kustomization()["resources"])
    assert listed == {p.name for p in KUBERNETES_DIR.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kustomize_builds_the_same_resources(resources: list[dict[str, Any]]) -> None:
    """Where kubectl is (its kustomize built in), its build has the same resources."""
    built = subprocess.run(
        ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(KUBERNETES_DIR)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout

    def key(resource: dict[str, Any]) -> tuple[str, str, str]:
        name = resource["metadata"]["name"]
        if resource["kind"] == "ConfigMap" and resource["metadata"]["name"] != "robocover-config":
            name = re.sub(r"-[a-z0-9]{10}$", "", name)  # the generated ConfigMaps' hash
        return resource["kind"], name, resource["metadata"].get("namespace", "")

    assert {key(r) for r in yaml.safe_load_all(built) if r} == {key(r) for r in resources}


def _gateway_upstreams() -> dict[str, set[str]]:
    text = (NGINX_DIR / "kubernetes.conf").read_text()
    hosts = dict(re.findall(r"upstream (\w+) \{[^}]*?server ([\w.-]+):8000", text, re.S))
    routes: dict[str, set[str]] = {}
    for upstream, domain in re.findall(r"\"~\^[^\"]+\" (\w+);\s+# (\w+)", text):
        routes.setdefault(hosts[upstream], set()).add(domain)
    return routes


def test_the_gateways_upstreams_are_the_pools_services(resources: list[dict[str, Any]]) -> None:
    services = by_kind(resources, "Service")
    deployments = by_kind(resources, "Deployment")
    upstreams = _gateway_upstreams()
    assert len(upstreams) == 3
    for host, domains in upstreams.items():
        name, namespace, *_ = host.split(".")
        service = services[name]
        assert service["metadata"]["namespace"] == namespace == "robocover"
        assert service["spec"]["ports"][0]["port"] == 8000
        selector = service["spec"]["selector"]
        (deployment,) = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        (container,) = containers_of(deployment)
        assert container["args"][:2] == ["api", "--domains"]
        assert set(container["args"][2].split(",")) == domains, name
    gateway = by_kind(resources, "Deployment")["robocover-gateway"]
    volumes = {v["name"]: v for v in pod_spec(gateway)["volumes"]}  # type: ignore[index]
    assert volumes["config"]["configMap"]["name"] == "robocover-gateway"
    generated = by_kind(resources, "ConfigMap")["robocover-gateway"]
    assert generated["data"]["nginx.conf"] == (NGINX_DIR / "kubernetes.conf").read_text()


def test_ingest_scales_out_in_one_share_group(resources: list[dict[str, Any]]) -> None:
    ingest = by_kind(resources, "StatefulSet")["robocover-ingest"]
    (container,) = containers_of(ingest)
    env = {e["name"]: e for e in container["env"]}
    assert env["ROBOCOVER_MQTT_SHARE_GROUP"]["value"] == "ingest"
    assert env["ROBOCOVER_MQTT_USERNAME"]["value"] == "$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert ingest["spec"]["replicas"] >= 2
    hpa = by_kind(resources, "HorizontalPodAutoscaler")["robocover-ingest"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "robocover-ingest",
    }
    assert hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Disabled"
    # The broker's init container makes an account for each key of the ingest accounts' Secret.
    mosquitto = by_kind(resources, "StatefulSet")["mosquitto"]
    (init,) = pod_spec(mosquitto)["initContainers"]  # type: ignore[index]
    volumes = {v["name"]: v for v in pod_spec(mosquitto)["volumes"]}  # type: ignore[index]
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    ingest_dir = init["args"][2]
    assert volumes[mounts[ingest_dir]]["secret"]["secretName"] == "robocover-mqtt-ingest"
    accounts = {v["name"]: v for v in pod_spec(ingest)["volumes"]}  # type: ignore[index]
    assert accounts["accounts"]["secret"]["secretName"] == "robocover-mqtt-ingest"


def test_workloads_are_probed_bounded_and_unprivileged(resources: list[dict[str, Any]]) -> None:
    for resource in resources:
        pod = pod_spec(resource)
        if pod is None:
            continue
        name = f"{resource['kind']}/{resource['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers_of(resource, init=True):
            limits = container["resources"]
            assert {"cpu", "memory"} <= set(limits["requests"]) & set(limits["limits"]), name
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
        if resource["kind"] != "Job":
            for container in containers_of(resource):
                assert "livenessProbe" in container, name
                if resource["metadata"]["name"] not in {"robocover-jobs", "robocover-beat"} | {
                    "robocover-risk"
                }:
                    assert "readinessProbe" in container, name


def test_disruption_budgets_autoscalers_and_singletons(resources: list[dict[str, Any]]) -> None:
    budgets = by_kind(resources, "PodDisruptionBudget")
    workloads = by_kind(resources, "Deployment") | by_kind(resources, "StatefulSet")
    for name, workload in workloads.items():
        if workload["spec"]["replicas"] > 1:
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert any(
                b["spec"]["selector"]["matchLabels"].items() <= labels.items()
                for b in budgets.values()
            ), name
    autoscaled = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(resources, "HorizontalPodAutoscaler").values()
    }
    assert {"api-core", "api-claims", "api-robots", "robocover-ingest"} <= autoscaled
    assert autoscaled <= set(workloads)
    for singleton in ("robocover-beat", "robocover-risk"):
        assert workloads[singleton]["spec"]["replicas"] == 1
        assert workloads[singleton]["spec"]["strategy"]["type"] == "Recreate"
        assert singleton not in autoscaled


def test_network_policies_deny_by_default(resources: list[dict[str, Any]]) -> None:
    policies = by_kind(resources, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    api = policies["api"]["spec"]["ingress"]
    assert {"app.kubernetes.io/name": "gateway"} in [
        peer.get("podSelector", {}).get("matchLabels") for rule in api for peer in rule["from"]
    ]
    labels = {
        w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for w in resources
        if pod_spec(w) is not None
    }
    for policy in policies.values():
        selector = policy["spec"]["podSelector"]
        named = selector.get("matchLabels", {}).get("app.kubernetes.io/name")
        assert named is None or named in labels, policy["metadata"]["name"]


def test_secrets_are_referenced_never_committed(resources: list[dict[str, Any]]) -> None:
    assert not by_kind(resources, "Secret")
    referenced: set[str] = set()
    text = yaml.safe_dump(resources)
    referenced |= set(re.findall(r"secretName: (robocover-[\w-]+)", text))
    referenced |= set(re.findall(r"\bname: (robocover-[\w-]+)\n\s+(?:key|items|optional)", text))
    referenced |= {
        s["name"]
        for r in resources
        for c in containers_of(r, init=True)
        for s in [e.get("secretRef") for e in c.get("envFrom", [])]
        if s
    }
    assert {"robocover-database", "robocover-api", "robocover-mqtt-ingest"} <= referenced
    guide = (PROJECT / "docs" / "deployment.md").read_text()
    for name in referenced:
        assert name in guide, f"{name} is not said how to create in docs/deployment.md"
    for path in DEPLOY.rglob("*"):
        if path.is_file() and "secrets" not in path.parts:
            assert "-----BEGIN" not in path.read_text(errors="ignore"), path
