"""deploy/compose: the compose-spec schema (check-jsonschema's vendored copy; no docker here),
the secrets make-secrets.sh makes being the ones compose.yaml names and enough for every
process's settings, the broker's accounts made by broker-init on a real Mosquitto with the
stack's own configuration, and the gateway's upstreams being the stack's API pools."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from paho.mqtt.enums import CallbackAPIVersion

from cloud_api.settings import ApiSettings, JobSettings
from database.settings import CloudSettings
from ingest.settings import IngestSettings
from risk_engine.settings import WorkerSettings
from tests.support.broker import dynsec_plugin, free_port, wait_for_port
from tests.unit.deploy.deploy_files import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    DOCKER_DIR,
    NGINX_DIR,
    PROJECT,
    SECRETS_DIR,
    load_compose,
    parse_robocover,
    robocover_services,
)

SETTINGS: dict[tuple[str, ...], type[CloudSettings]] = {
    ("api",): ApiSettings,
    ("ingest",): IngestSettings,
    ("jobs",): JobSettings,
    ("risk", "worker"): WorkerSettings,
    ("migrate",): CloudSettings,
}


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("compose") / "secrets"
    subprocess.run(["bash", str(COMPOSE_DIR / "make-secrets.sh"), str(target)], check=True)
    return target


def _local(path: str, secrets_dir: Path) -> Path:
    """A compose path ./secrets/X as the file make-secrets.sh wrote."""
    assert path.startswith("./secrets/"), path
    return secrets_dir / path.removeprefix("./secrets/")


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_compose_file_follows_the_compose_spec() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_bad_compose_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  api:\n    image: x\n    restart: sometimes\n    replicas: 2\n")
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1


def test_make_secrets_makes_every_secret_and_env_file_compose_names(secrets_dir: Path) -> None:
    compose = load_compose()
    for name, secret in compose["secrets"].items():
        path = _local(secret["file"], secrets_dir)
        assert path.stat().st_size > 0, name
    for name, service in compose["services"].items():
        for env_file in service.get("env_file", []):
            assert _local(env_file, secrets_dir).exists(), (name, env_file)
    passwords = [p.read_text() for p in secrets_dir.glob("*_password")]
    assert len(set(passwords)) == len(passwords) >= 7
    key = load_pem_private_key((secrets_dir / "api_jwt_signing_key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert oct(secrets_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((secrets_dir / "cloud.env").stat().st_mode & 0o777) == "0o600"
    # A second run keeps what exists.
    before = (secrets_dir / "api_cursor_secret").read_text()
    subprocess.run(["bash", str(COMPOSE_DIR / "make-secrets.sh"), str(secrets_dir)], check=True)
    assert (secrets_dir / "api_cursor_secret").read_text() == before


def _service_environment(service: dict[str, Any], secrets_dir: Path) -> dict[str, str]:
    """What the service's process finds: env files, then environment, then its secret files
    under SECRETS_DIR as the settings read them (field name from `secret_files`)."""
    settings = SETTINGS[parse_robocover(tuple(service["command"]))]
    environment: dict[str, str] = {}
    for env_file in service.get("env_file", []):
        environment.update(_env_file(_local(env_file, secrets_dir)))
    environment.update({k: str(v) for k, v in service.get("environment", {}).items()})
    files = load_compose()["secrets"]
    by_file = {file: field for field, file in settings.secret_files.items()}
    for secret in service.get("secrets", []):
        target = Path(secret["target"])
        if str(target.parent) == SECRETS_DIR and target.name in by_file:
            value = _local(files[secret["source"]]["file"], secrets_dir).read_text().strip()
            environment.setdefault(f"ROBOCOVER_{by_file[target.name].upper()}", value)
    return environment


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in list(os.environ):
        if variable.startswith("ROBOCOVER_"):
            monkeypatch.delenv(variable)
    return monkeypatch


def test_every_process_gets_every_setting_it_needs(
    secrets_dir: Path, clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each service's settings build from what compose gives it (required ones included) and
    point at the stack's services, not at the defaults' 127.0.0.1."""
    # The settings read SECRETS_DIR when the environment says nothing: an empty one here, so
    # that only what compose gives counts.
    import database.settings

    clean_environment.setattr(database.settings, "SECRETS_DIR", tmp_path)
    for name, service in robocover_services(load_compose()).items():
        if "entrypoint" in service:
            continue
        settings_class = SETTINGS[parse_robocover(tuple(service["command"]))]
        with clean_environment.context() as scope:
            for key, value in _service_environment(service, secrets_dir).items():
                scope.setenv(key, value)
            settings = settings_class()
        assert settings.database_url.hosts()[0]["host"] == "timescaledb", name
        assert settings.redis_url.host == "redis", name
        assert settings.mqtt_url.host == "mosquitto", name
        if isinstance(settings, ApiSettings | IngestSettings):
            assert settings.mqtt_username, name
            assert settings.mqtt_password, name
    api = robocover_services(load_compose())["api-robots"]
    assert "ROBOCOVER_MQTT_ADMIN_PASSWORD" in _service_environment(api, secrets_dir)
    core = robocover_services(load_compose())["api-core"]
    assert "ROBOCOVER_MQTT_ADMIN_PASSWORD" not in _service_environment(core, secrets_dir)


def test_ingest_processes_share_one_group_each_with_its_own_account() -> None:
    services = robocover_services(load_compose())
    ingest = {n: s for n, s in services.items() if s.get("command") == ["ingest"]}
    assert len(ingest) >= 2
    assert {s["environment"]["ROBOCOVER_MQTT_SHARE_GROUP"] for s in ingest.values()} == {"ingest"}
    users = [s["environment"]["ROBOCOVER_MQTT_USERNAME"] for s in ingest.values()]
    assert len(set(users)) == len(users)
    accounts = {Path(s["target"]).name: s["source"] for s in services["broker-init"]["secrets"]}
    for service in ingest.values():
        user = service["environment"]["ROBOCOVER_MQTT_USERNAME"]
        (password,) = (s["source"] for s in service["secrets"])
        assert accounts[user] == password, user


def _connects(port: int, ca: Path, client_id: str, user: str, password: str) -> bool:
    result: list[bool] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(ca))

    def on_connect(*args: object) -> None:
        result.append(not args[3].is_failure)  # type: ignore[attr-defined]
        done.set()

    client.on_connect = on_connect
    client.connect("localhost", port)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return bool(result and result[0])


def test_broker_init_accounts_on_a_real_broker_with_the_stacks_configuration(
    secrets_dir: Path, tmp_path: Path
) -> None:
    """broker-init.sh lays the accounts out as compose mounts them; Mosquitto, run with
    deploy/compose/mosquitto.conf (the image's paths and ports mapped to this machine's),
    lets each ingest process in over TLS with its own client id, and no other id."""
    service = load_compose()["services"]["broker-init"]
    files = load_compose()["secrets"]
    root = tmp_path / "run"
    for secret in service["secrets"]:
        target = root / Path(secret["target"]).relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(_local(files[secret["source"]]["file"], secrets_dir), target)
    data = tmp_path / "data"
    data.mkdir()
    dynsec_file, secrets_arg = service["command"]
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(DOCKER_DIR / "broker-init.sh", scripts)
    shutil.copy(PROJECT / "scripts" / "dynsec_init.py", scripts)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [
        "sh",
        str(scripts / "broker-init.sh"),
        str(data / Path(dynsec_file).name),
        str(root / Path(secrets_arg).relative_to("/")),
    ]
    subprocess.run(command, check=True, env=env, capture_output=True)
    plain, tls = free_port(), free_port()
    config = (
        (COMPOSE_DIR / "mosquitto.conf")
        .read_text()
        .replace("/usr/lib/mosquitto_dynamic_security.so", dynsec_plugin())
        .replace("/mosquitto/data", str(data))
        .replace("/mosquitto/certs/broker.crt", str(secrets_dir / "broker.crt"))
        .replace("/mosquitto/certs/broker.key", str(secrets_dir / "broker.key"))
        .replace("listener 1883", f"listener {plain} 127.0.0.1")
        .replace("listener 8883", f"listener {tls} 127.0.0.1")
    )
    assert str(plain) in config
    assert str(tls) in config
    assert dynsec_plugin() in config
    (tmp_path / "mosquitto.conf").write_text(config + f"\nuser {getpass.getuser()}\n")
    log = (tmp_path / "mosquitto.log").open("wb")
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(tmp_path / "mosquitto.conf")], stdout=log, stderr=log
    )
    try:
        wait_for_port(tls)
        ingest = root / "run/robocover-broker/ingest"
        ca = secrets_dir / "broker.crt"
        for account in sorted(ingest.iterdir()):
            password = account.read_text().strip()
            assert _connects(tls, ca, account.name, account.name, password), account.name
        first, second = sorted(p.name for p in ingest.iterdir())
        password = (ingest / second).read_text().strip()
        assert not _connects(tls, ca, first, second, password)
        assert not _connects(tls, ca, second, second, "not-the-password")
    finally:
        broker.terminate()
        broker.wait(10)
        log.close()


def _gateway_pools() -> dict[str, set[str]]:
    """The compose gateway's upstream host per pool, and the domains it routes there."""
    text = (NGINX_DIR / "compose.conf").read_text()
    hosts = dict(re.findall(r"upstream (\w+) \{[^}]*?server ([\w.-]+):8000", text, re.S))
    routes: dict[str, set[str]] = {}
    for upstream, domain in re.findall(r"\"~\^[^\"]+\" (\w+);\s+# (\w+)", text):
        routes.setdefault(hosts[upstream], set()).add(domain)
    return routes


def test_the_gateways_upstreams_are_the_stacks_api_pools() -> None:
    """Each upstream of deploy/nginx/compose.conf is a compose service running
    `robocover api --domains` with exactly the domains the gateway routes to it."""
    pools = _gateway_pools()
    assert len(pools) == 3
    services = robocover_services(load_compose())
    for host, domains in pools.items():
        command = services[host]["command"]
        assert command[:2] == ["api", "--domains"], host
        assert set(command[2].split(",")) == domains, host
    gateway = load_compose()["services"]["gateway"]
    assert set(gateway["depends_on"]) == set(pools)
    mounts = {v.split(":")[1]: v.split(":")[0] for v in gateway["volumes"]}
    assert (COMPOSE_DIR / mounts["/etc/nginx/nginx.conf"]).resolve() == NGINX_DIR / "compose.conf"
    targets = {s["target"] for s in gateway["secrets"]}
    assert targets == {"/etc/robocover/tls/gateway.crt", "/etc/robocover/tls/gateway.key"}
    text = (NGINX_DIR / "compose.conf").read_text()
    assert all(target in text for target in targets)


def test_health_checks_volumes_and_order() -> None:
    compose = load_compose()
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        one_shot = service.get("restart") == "no"
        health = service.get("healthcheck", {})
        assert one_shot == bool(health.get("disable")), name
        if not one_shot:
            assert health.get("test"), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in declared, (name, source)
    for name, service in robocover_services(compose).items():
        if name in {"migrate", "broker-init"}:
            continue
        condition = service["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
        assert service["read_only"], name
        assert service["cap_drop"] == ["ALL"], name
    assert compose["services"]["mosquitto"]["depends_on"]["broker-init"] == {
        "condition": "service_completed_successfully"
    }
