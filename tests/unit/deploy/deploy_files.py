"""The deployment's files as data, for the tests of deploy/: the compose stack, the Kubernetes
manifests (assembled as kustomize would: the kustomization's resources, its namespace, labels,
images and generated ConfigMaps), the systemd units, and the process command lines of each."""

from __future__ import annotations

import configparser
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml

from cloud_api.cli import app as cloud_cli
from cloud_api.domains import parse_domains

PROJECT = Path(__file__).resolve().parents[3]
DEPLOY = PROJECT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
KUBERNETES_DIR = DEPLOY / "kubernetes"
SYSTEMD_DIR = DEPLOY / "systemd"
DOCKER_DIR = DEPLOY / "docker"
NGINX_DIR = DEPLOY / "nginx"
CLOUD_IMAGE = "robocover/cloud"
SECRETS_DIR = "/var/lib/robocover/secrets"


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def robocover_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run the cloud image."""
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith(CLOUD_IMAGE + ":")
    }


# ---------------------------------------------------------------- Kubernetes


def kustomization() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((KUBERNETES_DIR / "kustomization.yaml").read_text())
    return document


CLUSTER_SCOPED = {"Namespace"}


def render_kubernetes() -> list[dict[str, Any]]:
    """The resources `kubectl kustomize` makes of deploy/kubernetes, without the generated
    ConfigMaps' hash suffixes (names as written)."""
    kust = kustomization()
    resources: list[dict[str, Any]] = []
    for name in kust["resources"]:
        for document in yaml.safe_load_all((KUBERNETES_DIR / name).read_text()):
            if document:
                resources.append(document)
    for generator in kust.get("configMapGenerator", []):
        data = {}
        for entry in generator["files"]:
            key, _, path = entry.partition("=")
            data[key] = (KUBERNETES_DIR / path).read_text()
        resources.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": data,
            }
        )
    tags = {image["name"]: image["newTag"] for image in kust.get("images", [])}
    for resource in resources:
        if resource["kind"] not in CLUSTER_SCOPED:
            resource["metadata"]["namespace"] = kust["namespace"]
        for label in kust.get("labels", []):
            resource["metadata"].setdefault("labels", {}).update(label["pairs"])
        for container in containers_of(resource, init=True):
            image = container.get("image", "")
            if image in tags:
                container["image"] = f"{image}:{tags[image]}"
    return resources


def pod_spec(resource: dict[str, Any]) -> dict[str, Any] | None:
    spec = resource.get("spec", {})
    if resource["kind"] in {"Deployment", "StatefulSet", "Job"}:
        pod: dict[str, Any] = spec["template"]["spec"]
        return pod
    return None


def containers_of(resource: dict[str, Any], *, init: bool = False) -> list[dict[str, Any]]:
    pod = pod_spec(resource)
    if pod is None:
        return []
    found: list[dict[str, Any]] = list(pod.get("containers", []))
    if init:
        found += pod.get("initContainers", [])
    return found


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


# ---------------------------------------------------------------- systemd


def unit(path: Path) -> configparser.ConfigParser:
    """A unit file's sections (repeated keys kept, joined by newlines)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(_join_repeated(path.read_text()))
    return parser


def _join_repeated(text: str) -> str:
    """configparser refuses a key twice in a section; systemd adds them up."""
    counts: dict[tuple[str, str], int] = {}
    section, lines = "", []
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        elif "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            count = counts.get((section, key), 0)
            counts[(section, key)] = count + 1
            lines.append(f"{key}#{count}={value}" if count else line)
            continue
        lines.append(line)
    return "\n".join(lines)


def values(parser: configparser.ConfigParser, section: str, key: str) -> list[str]:
    if not parser.has_section(section):
        return []
    return [
        value for name, value in parser.items(section) if name == key or name.startswith(key + "#")
    ]


# ---------------------------------------------------------------- process command lines


@dataclass(frozen=True)
class Process:
    """One process a deployment runs from the cloud image: where, and its robocover arguments."""

    where: str
    args: tuple[str, ...]


def compose_processes() -> list[Process]:
    processes = []
    for name, service in robocover_services(load_compose()).items():
        if "entrypoint" in service:
            continue  # broker-init runs a script of the image, not robocover
        processes.append(Process(f"compose {name}", tuple(service["command"])))
    return processes


_EXEC_ROBOCOVER = re.compile(r"exec robocover ([^;&|]+)")


def kubernetes_processes() -> list[Process]:
    processes = []
    for resource in render_kubernetes():
        for container in containers_of(resource, init=True):
            if not container["image"].startswith(CLOUD_IMAGE):
                continue
            where = f"kubernetes {resource['kind']}/{resource['metadata']['name']}"
            command = container.get("command")
            if command is None:
                processes.append(Process(where, tuple(container["args"])))
            elif command[:2] == ["sh", "-c"]:
                match = _EXEC_ROBOCOVER.search(" ".join(container["args"]))
                assert match, f"{where}: a shell command that runs no robocover"
                processes.append(Process(where, tuple(shlex.split(match.group(1)))))
    return processes


def systemd_processes() -> list[Process]:
    processes = []
    for path in sorted(SYSTEMD_DIR.glob("robocover*.service")):
        for line in values(unit(path), "Service", "ExecStart"):
            program, *args = shlex.split(line)
            if program == "/opt/robocover/venv/bin/robocover":
                processes.append(Process(f"systemd {path.name}", tuple(args)))
    return processes


class NotACommandError(ValueError):
    """A command line robocover would refuse (unknown command, option or value)."""


def parse_robocover(args: tuple[str, ...]) -> tuple[str, ...]:
    """The robocover command path `args` runs (('risk', 'worker'), ...), after the command's
    own parser read every option; NotACommandError if robocover would refuse it."""
    command: Any = typer.main.get_command(cloud_cli)
    context: Any = command.context_class(command, info_name="robocover")
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "list_commands"):  # a group: the next word names a subcommand
        if not rest:
            raise NotACommandError(f"robocover {' '.join(path)} needs a subcommand")
        name, rest = rest[0], rest[1:]
        sub = command.get_command(context, name)
        if sub is None:
            raise NotACommandError(f"no such command: robocover {' '.join([*path, name])}")
        path.append(name)
        context = sub.context_class(sub, info_name=name, parent=context)
        command = sub
    try:
        parsed = command.make_context(path[-1], rest, parent=context.parent)
        if path == ["api"] and parsed.params.get("domains") is not None:
            parse_domains(str(parsed.params["domains"]))  # the command checks them at its start
    except Exception as exc:  # typer's own (vendored) click raises its UsageError
        raise NotACommandError(f"robocover {' '.join(args)}: {exc}") from exc
    return tuple(path)
