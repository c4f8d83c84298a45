"""The deployment the demo runs, every process as it is deployed, on the local services: two
`robocover ingest` processes in one share group (each with its own broker account), two
`robocover api` processes, the jobs' Celery worker and a second worker that also runs the beat
(`robocover jobs`, `robocover jobs --beat`), the risk engine's worker with its beat (the
rescoring after severe events, `robocover risk worker --beat`), and the payment processor's
local stand-in. Each is configured only through its ``ROBOCOVER_*`` environment.

The jobs' tasks wait in their own Celery queue (``JOBS_QUEUE``, cloud_api/worker.py), the risk
engine's in Celery's default one, on the same Redis."""

from __future__ import annotations

import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from celery import Celery

from cloud_api.broker_accounts import DynsecAdmin, MqttCredentials
from cloud_api.demo.processes import Managed, ProcessGroup, answers, wait_until
from cloud_api.settings import ApiSettings
from risk_engine.worker import reliable_config

BIN = Path(sys.executable).parent
JOBS_QUEUE = "robocover-jobs"
"""The jobs worker's queue (cloud_api/worker.py's, which the demo may not import)."""
STOP_ORDER = ("agent", "processor", "gateway", "api", "jobs", "risk", "ingest")
"""Robots first (their outboxes keep what is not acknowledged), the ingest last (it drains)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    settings: ApiSettings
    group: ProcessGroup
    run_dir: Path
    api_urls: list[str] = field(default_factory=list)
    ingest_ports: list[int] = field(default_factory=list)
    ingest_accounts: list[MqttCredentials] = field(default_factory=list)
    processor_url: str = ""
    processor_key: str = field(default_factory=lambda: "sk_demo_" + secrets.token_urlsafe(24))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_urlsafe(24))
    redis_url: str = ""
    gateway_url: str | None = None
    ca_file: Path | None = None
    _celery: Celery | None = None

    @property
    def base_url(self) -> str:
        """Where clients reach the API: the gateway once there is one."""
        return self.gateway_url or self.api_urls[0]

    @property
    def enroll_url(self) -> str:
        """Where robots enroll (https through the gateway: ``agent_env`` trusts its CA)."""
        return self.base_url

    def agent_env(self) -> dict[str, str]:
        """The agents' environment: the demo's CA trusted when there is one."""
        return self.env(**({} if self.ca_file is None else {"SSL_CERT_FILE": str(self.ca_file)}))

    @property
    def verify(self) -> bool | str:
        return True if self.ca_file is None else str(self.ca_file)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "ROBOCOVER_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def celery(self) -> Celery:
        """A client of the Celery apps (one for the run): sends tasks by name, reads their
        results."""
        if self._celery is None:
            self._celery = Celery("robocover-demo")
            self._celery.conf.update(**reliable_config(self.redis_url))
        return self._celery

    def alive(self) -> None:
        """Raises if a process of the deployment (not a robot) has died."""
        dead = [c for c in self.group.children if c.role != "agent" and c.popen.poll() is not None]
        if dead:
            names = ", ".join(f"{c.name} ({c.state})" for c in dead)
            raise RuntimeError(f"a process died: {names}; see {self.group.log_path}")


def broker_admin(settings: ApiSettings) -> DynsecAdmin:
    """An admin connection to the deployment's broker (its dynamic-security plugin)."""
    if settings.mqtt_admin_password is None:
        raise RuntimeError("no broker admin password: run scripts/services-up.sh")
    return DynsecAdmin(
        host=settings.mqtt_url.host or "127.0.0.1",
        port=settings.mqtt_url.port or 1884,
        username=settings.mqtt_admin_username,
        password=settings.mqtt_admin_password.get_secret_value(),
    )


def _ingest_env(stack: Stack, account: MqttCredentials, port: int) -> dict[str, str]:
    return stack.env(
        ROBOCOVER_DATABASE_URL=stack.settings.libpq_url,
        ROBOCOVER_MQTT_URL=str(stack.settings.mqtt_url).rstrip("/"),
        ROBOCOVER_MQTT_USERNAME=account.username,
        ROBOCOVER_MQTT_PASSWORD=account.password,
        ROBOCOVER_MQTT_CLIENT_ID=account.username,
        ROBOCOVER_HTTP_PORT=str(port),
    )


def _jobs_env(stack: Stack) -> dict[str, str]:
    return stack.env(
        ROBOCOVER_METRICS_PORT=str(free_port()),
        ROBOCOVER_PROCESSOR_URL=stack.processor_url,
        ROBOCOVER_PROCESSOR_API_KEY=stack.processor_key,
        # The demo's minutes: card charges and claim payouts every 2 s rather than 30.
        ROBOCOVER_CHARGE_SECONDS="2",
        ROBOCOVER_DELIVERY_SECONDS="5",
    )


def start_services(stack: Stack, *, api_processes: int = 2, ingests: int = 2) -> None:
    """Start every process of the deployment (not yet waiting for them)."""
    run = stack.run_dir.name[-6:]
    group, cwd = stack.group, stack.run_dir
    stack.redis_url = str(stack.settings.redis_url)
    with broker_admin(stack.settings) as admin:
        stack.ingest_accounts = [
            admin.ensure_ingest(f"robocover-demo-{run}-ingest-{i + 1}") for i in range(ingests)
        ]
    for index, account in enumerate(stack.ingest_accounts):
        port = free_port()
        stack.ingest_ports.append(port)
        env = _ingest_env(stack, account, port)
        group.start(
            f"ingest-{index + 1}", [str(BIN / "robocover"), "ingest"], env, role="ingest", cwd=cwd
        )
    processor_port = free_port()
    stack.processor_url = f"http://127.0.0.1:{processor_port}"
    for index in range(api_processes):
        port = free_port()
        stack.api_urls.append(f"http://127.0.0.1:{port}")
        env = stack.env(
            ROBOCOVER_API_HOST="127.0.0.1",
            ROBOCOVER_API_PORT=str(port),
            ROBOCOVER_PROCESSOR_WEBHOOK_SECRET=stack.webhook_secret,
            ROBOCOVER_ATTACHMENTS_DIR=str(stack.run_dir / "attachments"),
        )
        group.start(f"api-{index + 1}", [str(BIN / "robocover"), "api"], env, role="api", cwd=cwd)
    jobs = [str(BIN / "robocover"), "jobs"]
    group.start("jobs-worker", jobs, _jobs_env(stack), role="jobs", cwd=cwd)
    group.start("jobs-beat", [*jobs, "--beat"], _jobs_env(stack), role="jobs", cwd=cwd)
    risk_env = stack.env(
        ROBOCOVER_SEVERE_SCAN_SECONDS="3",
        ROBOCOVER_EVENT_SETTLE_SECONDS="2",
    )
    risk = [str(BIN / "robocover"), "risk", "worker", "--beat"]
    group.start("risk-worker", risk, risk_env, role="risk", cwd=cwd)
    processor_env = stack.env(
        ROBOCOVER_FAKE_PROCESSOR_PORT=str(processor_port),
        ROBOCOVER_FAKE_PROCESSOR_API_KEY=stack.processor_key,
        ROBOCOVER_FAKE_PROCESSOR_WEBHOOK_SECRET=stack.webhook_secret,
        ROBOCOVER_FAKE_PROCESSOR_WEBHOOK_URL=f"{stack.base_url}/v1/webhooks/payment-processor",
        **(
            {}
            if stack.ca_file is None
            else {"ROBOCOVER_FAKE_PROCESSOR_WEBHOOK_CA_FILE": str(stack.ca_file)}
        ),
    )
    processor = [sys.executable, "-m", "cloud_api.demo.fake_processor"]
    group.start("processor", processor, processor_env, role="processor", cwd=cwd)


def _ingest_connected(port: int) -> bool:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    except httpx.HTTPError:
        return False
    return bool(answer.json().get("broker_connected"))


def _workers(app: Celery) -> int:
    return len(app.control.ping(timeout=0.5) or [])


def wait_ready(stack: Stack, timeout_s: float = 90.0) -> None:
    """Until every process answers: the APIs' /readyz, the ingests connected to the broker,
    the workers to Redis, the processor."""
    for url in stack.api_urls:
        wait_until(lambda u=url: answers(f"{u}/readyz"), timeout_s, f"{url}/readyz", stack.alive)  # type: ignore[misc]
    for port in stack.ingest_ports:
        wait_until(lambda p=port: _ingest_connected(p), timeout_s, "ingest", stack.alive)  # type: ignore[misc]
    wait_until(
        lambda: answers(f"{stack.processor_url}/healthz"), timeout_s, "processor", stack.alive
    )
    celery = stack.celery()
    wait_until(lambda: _workers(celery) >= 1, timeout_s, "Celery workers", stack.alive)
    if stack.gateway_url is not None:
        url = f"{stack.gateway_url}/healthz"
        wait_until(lambda: answers(url, stack.verify), timeout_s, "gateway", stack.alive)


def stop_stack(stack: Stack) -> None:
    """Every process, in order; then the ingests' broker sessions ended and accounts removed."""
    stack.group.stop_all(STOP_ORDER)
    if stack._celery is not None:
        stack._celery.close()
    if not stack.ingest_accounts:
        return
    for index, account in enumerate(stack.ingest_accounts):
        env = _ingest_env(stack, account, 0)
        code = stack.group.run(
            f"ingest-{index + 1}-retire", [str(BIN / "robocover"), "ingest", "--retire"], env
        )
        if code != 0:
            stack.group.write("demo", f"ingest {account.username} did not retire ({code})".encode())
    with broker_admin(stack.settings) as admin:
        admin.delete_clients([a.username for a in stack.ingest_accounts])


def processes_summary(children: list[Managed]) -> str:
    """``api 2, ingest 2, ...``: the processes running, by role."""
    counts: dict[str, int] = {}
    for child in children:
        if child.popen.poll() is None:
            counts[child.role] = counts.get(child.role, 0) + 1
    return ", ".join(f"{role} {n}" for role, n in counts.items())
