"""What Prometheus would scrape in each deployment, against what each process listens on.

compose: the targets of deploy/prometheus/prometheus.yml (DNS names and ports) checked against
the compose services: each a service Prometheus shares a network with, running a process that
serves /metrics on that port beyond loopback. Kubernetes: the relabelling of
deploy/prometheus/kubernetes.yml run over the manifests' pods as Prometheus's pod discovery would
present them, and the NetworkPolicies letting the namespace monitoring in.

Where a process listens comes from its settings class, as the process reads it: the image's ENV,
then what the deployment sets, then the setting's default (validated by the field itself)."""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser
from pydantic import BaseModel, create_model

from cloud_api.settings import ApiSettings, JobSettings
from database.settings import CloudSettings
from ingest.settings import IngestSettings
from tests.unit.deploy.deploy_files import (
    CLOUD_IMAGE,
    DEPLOY,
    DOCKER_DIR,
    containers_of,
    kubernetes_processes,
    parse_robocover,
    pod_spec,
    robocover_services,
)

PROMETHEUS_DIR = DEPLOY / "prometheus"
COMPOSE_SCRAPE = PROMETHEUS_DIR / "prometheus.yml"
KUBERNETES_SCRAPE = PROMETHEUS_DIR / "kubernetes.yml"
METRICS_PATH = "/metrics"
MONITORING_NAMESPACE = "monitoring"

# Each process that serves /metrics: its settings, the fields it listens on, its scrape job.
SERVES_METRICS: dict[tuple[str, ...], tuple[type[CloudSettings], str, str, str]] = {
    ("api",): (ApiSettings, "api_host", "api_port", "api"),
    ("ingest",): (IngestSettings, "http_host", "http_port", "ingest"),
    ("jobs",): (JobSettings, "metrics_host", "metrics_port", "worker"),
}
LOOPBACK = re.compile(r"^(127\.|localhost$|::1$|\[::1\]$)")


def load_yaml(path: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def image_environment() -> dict[str, str]:
    """The cloud image's ENV (its last stage's), which every process of the image starts with."""
    return dict(_image_environment())


@functools.cache
def _image_environment() -> tuple[tuple[str, str], ...]:
    parser = DockerfileParser(fileobj=io.BytesIO((DOCKER_DIR / "cloud.Dockerfile").read_bytes()))
    return tuple(parser.envs.items())


@functools.cache
def _kubernetes_commands() -> dict[str, tuple[str, ...]]:
    """Each Kubernetes workload's robocover command path, by workload name."""
    return {p.where.rpartition("/")[2]: parse_robocover(p.args) for p in kubernetes_processes()}


@dataclass(frozen=True)
class Listening:
    job: str
    host: str
    port: int

    @property
    def reachable(self) -> bool:
        """Served, and beyond the container's loopback."""
        return self.port != 0 and not LOOPBACK.match(self.host)


def listening(path: tuple[str, ...], environment: dict[str, str]) -> Listening | None:
    """Where the process `robocover <path>` serves /metrics, given its environment (None: it
    serves none). The two fields are validated by a model of those fields of its settings class,
    defaults and constraints included."""
    if path not in SERVES_METRICS:
        return None
    settings, host_field, port_field, job = SERVES_METRICS[path]
    fields = {name: settings.model_fields[name] for name in (host_field, port_field)}
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "Listening", **{name: (field.annotation, field) for name, field in fields.items()}
    )
    given = {
        name: environment[f"ROBOCOVER_{name.upper()}"]
        for name in fields
        if f"ROBOCOVER_{name.upper()}" in environment
    }
    parsed = model.model_validate(given)
    return Listening(job, str(getattr(parsed, host_field)), int(getattr(parsed, port_field)))


# ---------------------------------------------------------------- compose


@dataclass(frozen=True)
class Target:
    job: str
    host: str
    port: int
    path: str


def compose_targets(config: dict[str, Any]) -> list[Target]:
    """Every target of a compose scrape configuration: DNS names with their port, or static."""
    targets = []
    for scrape in config["scrape_configs"]:
        path = scrape.get("metrics_path", METRICS_PATH)
        for key in set(scrape) & {"kubernetes_sd_configs", "file_sd_configs", "consul_sd_configs"}:
            raise AssertionError(f"{scrape['job_name']}: {key} cannot name a compose service")
        for sd in scrape.get("dns_sd_configs", []):
            assert sd.get("type", "SRV") == "A", f"{scrape['job_name']}: an SRV record names a port"
            targets += [Target(scrape["job_name"], name, sd["port"], path) for name in sd["names"]]
        for static in scrape.get("static_configs", []):
            for address in static["targets"]:
                host, _, port = address.rpartition(":")
                targets.append(Target(scrape["job_name"], host, int(port), path))
    return targets


def _networks(service: dict[str, Any]) -> set[str]:
    networks = service.get("networks", ["default"])
    return set(networks) if isinstance(networks, list) else set(networks or {})


def compose_listening(compose: dict[str, Any]) -> dict[str, Listening]:
    """Each compose service that serves /metrics, and where: the image's ENV, then the
    service's environment (its env files carry only URLs with passwords and optional settings)."""
    found = {}
    for name, service in robocover_services(compose).items():
        if "entrypoint" in service:
            continue
        environment = image_environment()
        environment.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
        where = listening(parse_robocover(tuple(service["command"])), environment)
        if where is not None:
            found[name] = where
    return found


def compose_scrape_problems(config: dict[str, Any], compose: dict[str, Any]) -> list[str]:
    """What would not scrape: a target that is no service Prometheus reaches, a port its process
    does not serve /metrics on from beyond loopback, a job of the wrong kind; and a process that
    serves /metrics but is no target."""
    problems = []
    services = compose["services"]
    reach = _networks(services["prometheus"])
    serving = compose_listening(compose)
    for target in compose_targets(config):
        where = f"{target.job} {target.host}:{target.port}"
        if target.host not in services:
            problems.append(f"{where}: no compose service {target.host}")
            continue
        if not _networks(services[target.host]) & reach:
            problems.append(f"{where}: prometheus shares no network with {target.host}")
        served = serving.get(target.host)
        if served is None:
            problems.append(f"{where}: {target.host} serves no metrics")
            continue
        if not served.reachable:
            problems.append(f"{where}: {target.host} serves on {served.host}:{served.port} only")
        if served.port != target.port:
            problems.append(f"{where}: {target.host} listens on {served.port}")
        if served.job != target.job or target.path != METRICS_PATH:
            problems.append(f"{where}{target.path}: {target.host} belongs in job {served.job}")
    scraped = {target.host for target in compose_targets(config)}
    problems += [f"{name} serves metrics, never scraped" for name in set(serving) - scraped]
    return problems


# ---------------------------------------------------------------- Kubernetes


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus's relabelling (replace, keep, drop) of one target; None when dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        value = config.get("separator", ";").join(
            labels.get(name, "") for name in config.get("source_labels", [])
        )
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        if action == "keep":
            if match is None:
                return None
        elif action == "drop":
            if match is not None:
                return None
        elif action == "replace":
            if match is not None:
                _replace(labels, config["target_label"], config.get("replacement", "$1"), match)
        else:
            raise AssertionError(f"relabel action {action} is not simulated here")
    return labels


def _replace(labels: dict[str, str], target: str, replacement: str, match: re.Match[str]) -> None:
    """The replacement with $n and ${n} expanded; an empty result removes the label."""
    result = re.sub(r"\$\{?(\d+)\}?", lambda ref: match.group(int(ref.group(1))) or "", replacement)
    if result:
        labels[target] = result
    else:
        labels.pop(target, None)


def _label_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


@dataclass(frozen=True)
class PodPort:
    """One declared container port of a running pod, as Prometheus's pod discovery presents it."""

    workload: str
    pod_labels: dict[str, str]
    discovered: dict[str, str]

    @property
    def port(self) -> int:
        return int(self.discovered["__meta_kubernetes_pod_container_port_number"])

    @property
    def port_name(self) -> str:
        return self.discovered["__meta_kubernetes_pod_container_port_name"]


def pod_targets(resources: list[dict[str, Any]]) -> list[PodPort]:
    """Each declared container port of each workload's pods (one pod per workload is enough)."""
    found = []
    for resource in resources:
        pod = pod_spec(resource)
        if pod is None or resource["kind"] == "Job":
            continue
        name = resource["metadata"]["name"]
        labels = resource["spec"]["template"]["metadata"]["labels"]
        meta = {
            "__meta_kubernetes_namespace": resource["metadata"]["namespace"],
            "__meta_kubernetes_pod_name": f"{name}-0",
            "__meta_kubernetes_pod_phase": "Running",
            **{f"__meta_kubernetes_pod_label_{_label_name(k)}": v for k, v in labels.items()},
        }
        for container in containers_of(resource):
            for port in container.get("ports", []):
                discovered = meta | {
                    "__address__": f"10.0.0.1:{port['containerPort']}",
                    "__meta_kubernetes_pod_container_name": container["name"],
                    "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                    "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                }
                found.append(PodPort(name, labels, discovered))
    return found


def kubernetes_listening(resources: list[dict[str, Any]]) -> dict[str, Listening]:
    """Each workload that serves /metrics, and where: the image's ENV, then the shared
    ConfigMap, then the container's own env values."""
    config = next(r for r in resources if r["metadata"]["name"] == "robocover-config")
    commands = _kubernetes_commands()
    found = {}
    for resource in resources:
        for container in containers_of(resource):
            name = resource["metadata"]["name"]
            if not container["image"].startswith(CLOUD_IMAGE) or name not in commands:
                continue
            environment = image_environment() | config["data"]
            environment.update(
                {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
            )
            where = listening(commands[name], environment)
            if where is not None:
                found[name] = where
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against a set of labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if not {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


def monitoring_may_reach(
    policies: list[dict[str, Any]], labels: dict[str, str], port: int, port_name: str
) -> bool:
    """Whether some NetworkPolicy selecting these pods lets the namespace monitoring in on the
    port (by number or name). A peer without a namespaceSelector is the pods' own namespace."""
    monitoring = {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
    for policy in policies:
        spec = policy["spec"]
        if "Ingress" not in spec.get("policyTypes", []) or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("ingress", []):
            peers = rule.get("from", [])
            from_monitoring = not peers or any(
                "namespaceSelector" in peer and selects(peer["namespaceSelector"], monitoring)
                for peer in peers
            )
            ports = [p.get("port") for p in rule.get("ports", [])]
            if from_monitoring and (not ports or port in ports or port_name in ports):
                return True
    return False


def kubernetes_scrape_problems(
    config: dict[str, Any], resources: list[dict[str, Any]]
) -> list[str]:
    """What would not scrape on Kubernetes: a job discovering other pods than the namespace's, a
    port kept that is not where its pod serves /metrics from beyond loopback, a job of the wrong
    kind, an API target without its pool, a port no NetworkPolicy lets the namespace monitoring
    reach; a workload serving /metrics that no job keeps, or that two jobs keep."""
    problems = []
    namespaces = {r["metadata"]["namespace"] for r in resources if pod_spec(r) is not None}
    serving = kubernetes_listening(resources)
    policies = [r for r in resources if r["kind"] == "NetworkPolicy"]
    kept: dict[str, list[str]] = {}
    for scrape in config["scrape_configs"]:
        problems += _discovery_problems(scrape, namespaces)
        for pod_port in pod_targets(resources):
            target = relabel(pod_port.discovered, scrape.get("relabel_configs", []))
            if target is None:
                continue
            job = scrape["job_name"]
            where = f"{job} {pod_port.workload}:{pod_port.port}"
            kept.setdefault(pod_port.workload, []).append(where)
            served = serving.get(pod_port.workload)
            if served is None:
                problems.append(f"{where}: serves no metrics")
                continue
            if served.port != pod_port.port:
                problems.append(f"{where}: its process listens on {served.port}")
            if not served.reachable:
                problems.append(f"{where}: serves on {served.host}:{served.port} only")
            if served.job != job:
                problems.append(f"{where}: belongs in job {served.job}")
            if job == "api" and not target.get("pool"):
                problems.append(f"{where}: no pool label")
            if not monitoring_may_reach(
                policies, pod_port.pod_labels, pod_port.port, pod_port.port_name
            ):
                problems.append(f"{where}: no NetworkPolicy lets {MONITORING_NAMESPACE} in")
    problems += [f"{name} serves metrics, never scraped" for name in set(serving) - set(kept)]
    problems += [f"scraped more than once: {hits}" for hits in kept.values() if len(hits) > 1]
    return problems


def _discovery_problems(scrape: dict[str, Any], namespaces: set[str]) -> list[str]:
    """A job must find the pods of the manifests' namespace, through pod discovery alone."""
    job = scrape["job_name"]
    problems = []
    discovery = scrape.get("kubernetes_sd_configs", [])
    for sd in discovery:
        names = set(sd.get("namespaces", {}).get("names", []))
        if sd.get("role") != "pod" or names != namespaces:
            problems.append(f"{job}: discovers {sd}, not the pods of {sorted(namespaces)}")
    if not discovery or set(scrape) & {"static_configs", "dns_sd_configs"}:
        problems.append(f"{job}: not the pods' discovery alone")
    if scrape.get("metrics_path", METRICS_PATH) != METRICS_PATH:
        problems.append(f"{job}: metrics_path {scrape['metrics_path']}")
    return problems
