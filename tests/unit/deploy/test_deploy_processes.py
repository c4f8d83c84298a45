"""What every deployment (compose, Kubernetes, systemd) runs is robocover as it is: each
command line a real subcommand with real options, each ROBOCOVER_* variable a real setting of
the process it is given to, each secret file one the process's settings read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from cloud_api.settings import ApiSettings, JobSettings
from database.settings import CloudSettings
from edge_agent.settings import AgentSettings
from ingest.settings import ConnectorSettings, IngestSettings
from risk_engine.settings import WorkerSettings
from tests.unit.deploy.deploy_files import (
    COMPOSE_DIR,
    SECRETS_DIR,
    SYSTEMD_DIR,
    NotACommandError,
    Process,
    compose_processes,
    containers_of,
    kubernetes_processes,
    load_compose,
    parse_robocover,
    render_kubernetes,
    robocover_services,
    systemd_processes,
    unit,
    values,
)

SETTINGS: dict[tuple[str, ...], type[CloudSettings]] = {
    ("api",): ApiSettings,
    ("ingest",): IngestSettings,
    ("jobs",): JobSettings,
    ("risk", "worker"): WorkerSettings,
    ("migrate",): CloudSettings,
}
CLOUD_CLASSES: tuple[type[BaseSettings], ...] = (
    ApiSettings,
    JobSettings,
    IngestSettings,
    ConnectorSettings,
    WorkerSettings,
)
VARIABLE = re.compile(r"\bROBOCOVER_[A-Z0-9_]+\b")


def _variable(field: str) -> str:
    return f"ROBOCOVER_{field.upper()}"


def _cloud_variables() -> set[str]:
    return {_variable(name) for cls in CLOUD_CLASSES for name in cls.model_fields}


def _all_processes() -> list[Process]:
    return compose_processes() + kubernetes_processes() + systemd_processes()


def test_every_deployment_runs_each_cloud_process() -> None:
    for where, processes in (
        ("compose", compose_processes()),
        ("kubernetes", kubernetes_processes()),
        ("systemd", systemd_processes()),
    ):
        paths = {parse_robocover(p.args) for p in processes}
        assert paths == set(SETTINGS), where
        assert sum(p.args[:1] == ("jobs",) and "--beat" in p.args for p in processes) == 1, (
            f"{where}: one jobs beat"
        )


@pytest.mark.parametrize("process", _all_processes(), ids=lambda p: p.where)
def test_each_command_line_is_a_real_robocover_command(process: Process) -> None:
    assert parse_robocover(process.args) in SETTINGS


@pytest.mark.parametrize(
    "args",
    [("api", "--domain", "claims"), ("api", "--domains", "payments"), ("risk", "wrker"), ("jobz",)],
)
def test_the_command_check_refuses_what_robocover_would(args: tuple[str, ...]) -> None:
    with pytest.raises(NotACommandError):
        parse_robocover(args)


def test_every_variable_named_in_compose_is_a_setting_of_its_process(tmp_path: Path) -> None:
    known = _cloud_variables()
    for name, service in robocover_services(load_compose()).items():
        if "entrypoint" in service:
            continue
        settings = SETTINGS[parse_robocover(tuple(service["command"]))]
        fields = {_variable(field) for field in settings.model_fields}
        for variable in service.get("environment", {}):
            assert variable in fields, f"compose {name}: {variable} is no setting of {settings}"
    make_secrets = (COMPOSE_DIR / "make-secrets.sh").read_text()
    for variable in VARIABLE.findall(make_secrets):
        assert variable in known, f"make-secrets.sh: {variable}"


def test_every_variable_named_in_kubernetes_is_a_setting_of_its_process() -> None:
    resources = render_kubernetes()
    config = next(r for r in resources if r["metadata"]["name"] == "robocover-config")
    shared = {_variable(field) for field in CloudSettings.model_fields}
    assert set(config["data"]) <= shared
    processes = kubernetes_processes()
    for resource in resources:
        for container in containers_of(resource):
            if not container["image"].startswith("robocover/cloud"):
                continue
            process = next(
                p for p in processes if p.where.endswith(f"/{resource['metadata']['name']}")
            )
            fields = {_variable(f) for f in SETTINGS[parse_robocover(process.args)].model_fields}
            for variable in container.get("env", []):
                if variable["name"].startswith("ROBOCOVER_"):
                    assert variable["name"] in fields, f"{process.where}: {variable['name']}"


def test_every_variable_named_in_systemd_is_a_setting() -> None:
    known = _cloud_variables()
    agent = {f"ROBOCOVER_AGENT_{field.upper()}" for field in AgentSettings.__struct_fields__}
    texts = [p.read_text() for p in SYSTEMD_DIR.glob("*.service")]
    texts += [p.read_text() for p in (SYSTEMD_DIR / "env").iterdir()]
    for text in texts:
        for variable in VARIABLE.findall(text):
            assert variable in known | agent, variable


def test_secret_files_are_those_each_process_reads() -> None:
    """A secret mounted under the settings' SECRETS_DIR carries the file name its process's
    settings read (CloudSettings.secret_files): a misnamed one would be silently unused."""
    for name, service in robocover_services(load_compose()).items():
        if "entrypoint" in service:
            continue
        settings = SETTINGS[parse_robocover(tuple(service["command"]))]
        for secret in service.get("secrets", []):
            target = Path(secret["target"])
            if str(target.parent) == SECRETS_DIR:
                assert target.name in settings.secret_files.values(), f"compose {name}: {target}"
    for resource in render_kubernetes():
        for container in containers_of(resource):
            for mount in container.get("volumeMounts", []):
                if mount["mountPath"] != SECRETS_DIR:
                    continue
                volume = next(
                    v
                    for v in resource["spec"]["template"]["spec"]["volumes"]
                    if v["name"] == mount["name"]
                )
                paths = [
                    item["path"]
                    for source in volume.get("projected", {}).get("sources", [])
                    for item in source["secret"]["items"]
                ]
                process = next(
                    p
                    for p in kubernetes_processes()
                    if p.where.endswith(f"/{resource['metadata']['name']}")
                )
                settings = SETTINGS[parse_robocover(process.args)]
                for path in paths:
                    assert path in settings.secret_files.values(), f"{process.where}: {path}"


def test_the_systemd_units_give_every_process_its_environment_files() -> None:
    for path in SYSTEMD_DIR.glob("robocover-*.service"):
        if path.name == "robocover-agent.service":
            continue
        parsed = unit(path)
        assert "/etc/robocover/cloud.env" in values(parsed, "Service", "EnvironmentFile")
        for line in values(parsed, "Service", "Environment"):
            assert not re.search(r"PASSWORD|SECRET|KEY=", line), f"{path.name}: a secret inline"
