"""deploy/prometheus and deploy/grafana against the deployments. compose: every target of
prometheus.yml is a service Prometheus shares a network with, on the port its process serves
/metrics on beyond loopback (from its settings), every process serving /metrics is scraped, and
the prometheus and grafana services are pinned, unprivileged and on no network they do not need.
Kubernetes: kubernetes.yml's relabelling, run over the manifests' pods, keeps exactly the ports
serving /metrics, each reachable from the namespace monitoring. Each check is shown to fail."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.deploy_files import COMPOSE_DIR, DEPLOY, load_compose, render_kubernetes
from tests.unit.deploy.monitoring_targets import (
    COMPOSE_SCRAPE,
    KUBERNETES_SCRAPE,
    PROMETHEUS_DIR,
    compose_listening,
    compose_scrape_problems,
    compose_targets,
    kubernetes_listening,
    kubernetes_scrape_problems,
    load_yaml,
)

PROMTOOL = shutil.which("promtool") or "/usr/local/bin/promtool"
Mutation = Callable[[dict[str, Any]], None]


def _scrape(config: dict[str, Any], job: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in config["scrape_configs"] if s["job_name"] == job)
    return found


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A service's volumes: target -> (source, options)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *options = volume.split(":")
        mounts[target] = (source, ",".join(options))
    return mounts


def _published_on_loopback_only(service: dict[str, Any]) -> bool:
    return all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))


# ---------------------------------------------------------------- compose


def test_every_compose_target_is_a_service_serving_metrics_on_that_port() -> None:
    problems = compose_scrape_problems(load_yaml(COMPOSE_SCRAPE), load_compose())
    assert problems == []
    hosts = {(t.job, t.host, t.port) for t in compose_targets(load_yaml(COMPOSE_SCRAPE))}
    assert hosts == {
        ("api", "api-core", 8000),
        ("api", "api-claims", 8000),
        ("api", "api-robots", 8000),
        ("ingest", "ingest-1", 9464),
        ("ingest", "ingest-2", 9464),
        ("worker", "worker", 9465),
        ("worker", "beat", 9465),
    }
    # The ports are the settings' (the compose file names the hosts, not the ports).
    assert {w.port for w in compose_listening(load_compose()).values()} == {8000, 9464, 9465}


def _set_port(job: str, port: int) -> Mutation:
    return lambda config: _scrape(config, job)["dns_sd_configs"][0].update(port=port)


def _set_names(job: str, names: list[str]) -> Mutation:
    return lambda config: _scrape(config, job)["dns_sd_configs"][0].update(names=names)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set_port("worker", 9464), "worker worker:9464: worker listens on 9465"),
        (_set_port("ingest", 9465), "ingest ingest-1:9465: ingest-1 listens on 9464"),
        (_set_names("api", ["api-core", "api-claim", "api-robots"]), "no compose service"),
        (_set_names("api", ["api-core", "api-claims"]), "api-robots serves metrics, never"),
        (_set_names("ingest", ["ingest-1", "ingest-2", "timescaledb"]), "timescaledb serves no"),
        (_set_names("worker", ["worker", "beat", "risk"]), "risk serves no metrics"),
        (_set_names("worker", ["worker", "beat", "ingest-1"]), "ingest-1 listens on 9464"),
    ],
    ids=["worker-port", "ingest-port", "misspelt", "missing-pool", "database", "risk", "job"],
)
def test_the_compose_check_fails_on_a_wrong_target(mutate: Mutation, expected: str) -> None:
    config = copy.deepcopy(load_yaml(COMPOSE_SCRAPE))
    mutate(config)
    problems = compose_scrape_problems(config, load_compose())
    assert any(expected in problem for problem in problems), problems


def _service(name: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    return lambda compose: change(compose["services"][name])


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _service("beat", lambda s: s["environment"].pop("ROBOCOVER_METRICS_HOST")),
            "beat serves on 127.0.0.1:9465 only",
        ),
        (
            _service("worker", lambda s: s["environment"].update(ROBOCOVER_METRICS_PORT="0")),
            "worker serves on 0.0.0.0:0 only",
        ),
        (
            _service("ingest-2", lambda s: s["environment"].update(ROBOCOVER_HTTP_PORT="9470")),
            "ingest-2 listens on 9470",
        ),
        (
            _service("api-core", lambda s: s["environment"].update(ROBOCOVER_API_PORT="8080")),
            "api-core listens on 8080",
        ),
        (_service("ingest-1", lambda s: s.update(networks=["backend"])), "shares no network"),
    ],
    ids=["loopback", "not-served", "ingest-port", "api-port", "network"],
)
def test_the_compose_check_fails_on_a_wrong_service(mutate: Mutation, expected: str) -> None:
    compose = copy.deepcopy(load_compose())
    mutate(compose)
    problems = compose_scrape_problems(load_yaml(COMPOSE_SCRAPE), compose)
    assert any(expected in problem for problem in problems), problems


def test_the_prometheus_service_reads_the_repositorys_files_unprivileged() -> None:
    service = load_compose()["services"]["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v2\.\d+\.\d+", service["image"]), "pinned, 2.x"
    assert int(service["user"].split(":")[0]) > 0
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["healthcheck"]["test"]
    assert "depends_on" not in service  # it comes up to tell what is down
    assert _published_on_loopback_only(service)
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in service["command"])
    mounts = _mounts(service)
    config_file = flags["config.file"]
    read_only = {config_file: COMPOSE_SCRAPE}
    for rule_file in load_yaml(COMPOSE_SCRAPE)["rule_files"]:
        read_only[str(Path(config_file).parent / rule_file)] = PROMETHEUS_DIR / rule_file
    for target, path in read_only.items():
        source, options = mounts[target]
        assert (COMPOSE_DIR / source).resolve() == path, target
        assert options == "ro", target
    data, options = mounts[flags["storage.tsdb.path"]]
    assert data in load_compose()["volumes"]
    assert options == ""


def test_the_metrics_network_holds_prometheus_and_what_it_scrapes_alone() -> None:
    compose = load_compose()
    assert compose["networks"]["metrics"] == {"internal": True}
    members = {
        name for name, s in compose["services"].items() if "metrics" in s.get("networks", [])
    }
    scraped = {t.host for t in compose_targets(load_yaml(COMPOSE_SCRAPE))}
    assert members == scraped | {"prometheus"}
    for name in ("prometheus", "grafana"):
        assert not {"edge", "backend"} & set(compose["services"][name]["networks"]), name
    assert "monitoring" in compose["services"]["prometheus"]["networks"]


def test_grafana_is_provisioned_with_the_stacks_prometheus_and_the_dashboard() -> None:
    compose = load_compose()
    grafana = compose["services"]["grafana"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"]), "pinned"
    assert int(grafana["user"].split(":")[0]) > 0
    assert grafana["read_only"] is True
    assert grafana["cap_drop"] == ["ALL"]
    assert grafana["healthcheck"]["test"]
    assert _published_on_loopback_only(grafana)
    environment = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    (secret,) = grafana["secrets"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD__FILE"] == f"/run/secrets/{secret}"
    assert compose["secrets"][secret]["file"] == f"./secrets/{secret}"
    assert f" {secret}" in (COMPOSE_DIR / "make-secrets.sh").read_text()
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == environment["GF_USERS_ALLOW_SIGN_UP"]
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"
    mounts = {t: (COMPOSE_DIR / s).resolve() for t, (s, o) in _mounts(grafana).items() if o}
    by_source = {source: target for target, source in mounts.items()}
    grafana_dir = DEPLOY / "grafana"
    datasources = yaml.safe_load((grafana_dir / "provisioning" / "datasources.yml").read_text())
    dashboards = yaml.safe_load((grafana_dir / "provisioning" / "dashboards.yml").read_text())
    assert by_source[grafana_dir / "provisioning" / "datasources.yml"].startswith(
        "/etc/grafana/provisioning/datasources/"
    )
    assert by_source[grafana_dir / "provisioning" / "dashboards.yml"].startswith(
        "/etc/grafana/provisioning/dashboards/"
    )
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["isDefault"] is True
    prometheus = compose["services"]["prometheus"]
    assert source["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in prometheus["ports"]  # Prometheus's listening port
    assert set(grafana["networks"]) & set(prometheus["networks"])
    (provider,) = dashboards["providers"]
    dashboard = Path(by_source[grafana_dir / "robocover.json"])
    assert str(dashboard.parent) == provider["options"]["path"]
    assert (
        source["jsonData"]["timeInterval"] == load_yaml(COMPOSE_SCRAPE)["global"]["scrape_interval"]
    )


# ---------------------------------------------------------------- Kubernetes


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return render_kubernetes()


def test_kubernetes_scrape_keeps_each_pod_serving_metrics(resources: list[dict[str, Any]]) -> None:
    assert kubernetes_scrape_problems(load_yaml(KUBERNETES_SCRAPE), resources) == []
    served = kubernetes_listening(resources)
    assert {name: w.port for name, w in served.items()} == {
        "api-core": 8000,
        "api-claims": 8000,
        "api-robots": 8000,
        "robocover-ingest": 9464,
        "robocover-jobs": 9465,
        "robocover-beat": 9465,
    }
    # The same jobs as the compose stack's, which alerts.yml and the dashboard read.
    jobs = [s["job_name"] for s in load_yaml(KUBERNETES_SCRAPE)["scrape_configs"]]
    assert jobs == [s["job_name"] for s in load_yaml(COMPOSE_SCRAPE)["scrape_configs"]]
    assert load_yaml(KUBERNETES_SCRAPE)["rule_files"] == load_yaml(COMPOSE_SCRAPE)["rule_files"]


def _relabel(job: str, rule: int, regex: str | None) -> Mutation:
    """A relabel rule of the job with another regex, or without the rule (None)."""

    def mutate(document: dict[str, Any]) -> None:
        rules = _scrape(document["config"], job)["relabel_configs"]
        if regex is None:
            del rules[rule]
        else:
            rules[rule]["regex"] = regex

    return mutate


def _container(workload: str, change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        for resource in document["resources"]:
            workloads = {"Deployment", "StatefulSet"}
            if resource["kind"] in workloads and resource["metadata"]["name"] == workload:
                change(resource["spec"]["template"]["spec"]["containers"][0])

    return mutate


def _without_env(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda container: container.update(
        env=[e for e in container["env"] if e["name"] != name]
    )


def _without_policy(name: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["resources"] = [
            r
            for r in document["resources"]
            if not (r["kind"] == "NetworkPolicy" and r["metadata"]["name"] == name)
        ]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_relabel("worker", 0, "jobs"), "robocover-beat serves metrics, never scraped"),
        (_relabel("ingest", 0, "ingest|jobs"), "ingest robocover-jobs:9465: belongs in job worker"),
        (_relabel("ingest", 1, "http"), "robocover-ingest serves metrics, never scraped"),
        (_relabel("api", 3, None), "api api-claims:8000: no pool label"),
        (
            _container("robocover-beat", _without_env("ROBOCOVER_METRICS_HOST")),
            "robocover-beat:9465: serves on 127.0.0.1:9465 only",
        ),
        (_without_policy("jobs-metrics"), "robocover-beat:9465: no NetworkPolicy"),
        (_without_policy("ingest"), "robocover-ingest:9464: no NetworkPolicy"),
        (
            _container("robocover-jobs", lambda c: c["ports"][0].update(containerPort=9466)),
            "robocover-jobs:9466: its process listens on 9465",
        ),
    ],
    ids=[
        "beat-left-out",
        "wrong-job",
        "port-name",
        "pool",
        "loopback",
        "policy",
        "ingest-policy",
        "port",
    ],
)
def test_the_kubernetes_check_fails_on_a_wrong_scrape(
    resources: list[dict[str, Any]], mutate: Mutation, expected: str
) -> None:
    document: dict[str, Any] = {
        "config": copy.deepcopy(load_yaml(KUBERNETES_SCRAPE)),
        "resources": copy.deepcopy(resources),
    }
    mutate(document)
    problems = kubernetes_scrape_problems(document["config"], document["resources"])
    assert any(expected in problem for problem in problems), problems


@pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="promtool (scripts/services-up.sh)")
def test_promtool_accepts_the_kubernetes_scrape_configuration(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery: the rest of the file (relabel
    rules, regular expressions, rule files) is checked with static targets in its place; the
    discovery itself is held to the manifests above."""
    config = load_yaml(KUBERNETES_SCRAPE)
    for scrape in config["scrape_configs"]:
        assert scrape.pop("kubernetes_sd_configs") == [
            {"role": "pod", "namespaces": {"names": ["robocover"]}}
        ]
        scrape["static_configs"] = [{"targets": ["pod:9999"]}]
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path)
    command = [PROMTOOL, "check", "config", "kubernetes.yml"]
    done = subprocess.run(
        command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _scrape(config, "worker")["relabel_configs"][0]["regex"] = "jobs|(beat"
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0  # and it can fail
