"""deploy/docker: the Dockerfiles parsed (dockerfile-parse) and linted (hadolint, from its
PyPI wheel), what they copy let through by their .dockerignore, and the health check script's
choices. No image is built here: there is no container daemon."""

from __future__ import annotations

import fnmatch
import importlib.util
import io
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from cloud_api.settings import ApiSettings
from ingest.settings import IngestSettings
from tests.support.broker import free_port
from tests.unit.deploy.deploy_files import DOCKER_DIR, PROJECT

CLOUD = DOCKER_DIR / "cloud.Dockerfile"
AGENT = DOCKER_DIR / "agent.Dockerfile"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "cmake", "-dev ")


def _parsed(path: Path) -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))


def _stages(path: Path) -> list[list[dict[str, Any]]]:
    stages: list[list[dict[str, Any]]] = []
    for instruction in _parsed(path).structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _final(path: Path, instruction: str) -> list[str]:
    return [i["value"] for i in _stages(path)[-1] if i["instruction"] == instruction]


@pytest.mark.parametrize("path", [CLOUD, AGENT], ids=lambda p: p.name)
def test_multi_stage_slim_and_non_root(path: Path) -> None:
    parser = _parsed(path)
    stages = _stages(path)
    assert len(stages) >= 2
    assert parser.baseimage == "python:3.11-slim-bookworm"  # ARG PYTHON_IMAGE resolved
    (user,) = _final(path, "USER")
    uid = user.split(":")[0]
    assert uid.startswith("${") or uid.isdigit()
    args = {a.split("=")[0]: a.split("=")[1] for a in _final(path, "ARG") if "=" in a}
    resolved = args.get(uid.strip("${}"), uid)
    assert resolved.isdigit()
    assert int(resolved) >= 1000
    final_runs = " ".join(_final(path, "RUN"))
    for tool in BUILD_TOOLS:
        assert tool not in final_runs, f"{tool} in the runtime stage"
    assert "apt-get install" not in final_runs
    assert "from=builder" in final_runs  # the wheels come from the builder, bind-mounted
    assert any("pip wheel" in run for run in _final_stage_runs(path, 0))


def _final_stage_runs(path: Path, index: int) -> list[str]:
    return [i["value"] for i in _stages(path)[index] if i["instruction"] == "RUN"]


def test_cloud_image_has_a_health_check_and_runs_robocover() -> None:
    (healthcheck,) = _final(CLOUD, "HEALTHCHECK")
    assert "/opt/robocover/scripts/healthcheck.py" in healthcheck
    assert _final(CLOUD, "ENTRYPOINT") == ['["robocover"]']
    copies = " ".join(_final(CLOUD, "COPY"))
    assert "deploy/docker/healthcheck.py" in copies


def test_agent_image_installs_the_agent_extra_alone() -> None:
    extras = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    args = [i["value"] for i in _parsed(AGENT).structure if i["instruction"] == "ARG"]
    assert "AGENT_EXTRAS=agent" in args
    assert "agent" in extras
    runs = " ".join(_final(AGENT, "RUN"))
    assert "robocover[${AGENT_EXTRAS}]" in runs
    assert "cloud" not in runs
    assert _final(AGENT, "ENTRYPOINT") == ['["robocover-agent"]']
    assert _final(AGENT, "HEALTHCHECK") == ["NONE"]


@pytest.mark.parametrize("path", [CLOUD, AGENT], ids=lambda p: p.name)
def test_what_is_copied_exists_and_passes_the_dockerignore(path: Path) -> None:
    ignore = Path(f"{path}.dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    assert "*" in ignore  # everything else stays out of the context
    for copy in _final(path, "COPY") + [
        i["value"] for i in _stages(path)[0] if i["instruction"] == "COPY"
    ]:
        if copy.startswith("--from"):
            continue
        *sources, _destination = copy.split()
        for source in sources:
            assert (PROJECT / source).exists(), source
            assert any(
                fnmatch.fnmatch(source, pattern) or source.startswith(pattern + "/")
                for pattern in allowed
            ), f"{source} is not in the build context"


@pytest.mark.parametrize("path", [CLOUD, AGENT], ids=lambda p: p.name)
def test_hadolint_finds_nothing(path: Path) -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_say_so(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\n")
    hadolint = Path(sys.executable).with_name("hadolint")
    assert subprocess.run([str(hadolint), str(bad)], capture_output=True, check=False).returncode


@pytest.fixture(scope="module")
def healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", DOCKER_DIR / "healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_follows_the_process(healthcheck: Any) -> None:
    python = "/opt/robocover/venv/bin/python"
    robocover = "/opt/robocover/venv/bin/robocover"
    assert healthcheck.process_of([python, robocover, "api", "--domains", "claims"]) == "api"
    assert healthcheck.process_of(["/sbin/docker-init", "--", "robocover", "ingest"]) == "ingest"
    assert healthcheck.process_of([python, robocover, "risk", "worker", "--beat"]) == "risk"
    assert healthcheck.process_of(["nginx"]) is None
    assert healthcheck.main(["migrate"]) == 0


def test_healthcheck_ports_are_the_settings_defaults(healthcheck: Any) -> None:
    assert ApiSettings.model_fields["api_port"].default == healthcheck.DEFAULT_API_PORT
    assert IngestSettings.model_fields["http_port"].default == healthcheck.DEFAULT_INGEST_PORT


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def answering_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_http_answers(healthcheck: Any, answering_port: int) -> None:
    port = str(answering_port)
    assert healthcheck.check_http("api", {"ROBOCOVER_API_PORT": port})
    assert not healthcheck.check_http("ingest", {"ROBOCOVER_HTTP_PORT": port})  # /health: 503
    assert not healthcheck.check_http("api", {"ROBOCOVER_API_PORT": str(free_port())})
