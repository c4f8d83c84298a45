"""Real `robocover-agent` processes for the lab: enrolled through the enrollment service, run with
the simulator collector in a state directory of their own, watched through their outbox and
their sockets."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from cloud_api.enrollment.service import enroll, issue_token
from database.models import RobotClass
from database.settings import CloudSettings
from edge_agent.identity import KEY_FILE, Identity, load_or_create_signer, save_identity
from firmware_protocol import (
    EventBatch,
    EventKind,
    MessageKind,
    RobotSigner,
    SignatureError,
    Topic,
    TopicKind,
    decode,
    verify,
)
from tests.adversarial.lab_base import BIN, KEEPALIVE_S, TENANT, Db
from tests.support.broker import MosquittoBroker


@dataclass
class AgentProcess:
    """`robocover-agent --config agent.toml run`, with a simulator collector, as robots run it."""

    state_dir: Path
    config: Path
    log: Path
    identity: Identity
    broker_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def robot_id(self) -> uuid.UUID:
        return self.identity.robot_id

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "robocover-agent"), "--config", str(self.config), "run"],
                stdout=out,
                stderr=out,
            )

    def signal(self, sig: int) -> int:
        """Send `sig` and wait for the process to end; its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(30)
        self.process = None
        return code

    def connected(self) -> bool:
        """Has the process a TCP connection established to the broker (from the kernel)?"""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            sockets = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(
            s.status == psutil.CONN_ESTABLISHED and s.raddr and s.raddr[1] == self.broker_port
            for s in sockets
        )

    def _outbox(self) -> contextlib.closing[sqlite3.Connection]:
        return contextlib.closing(sqlite3.connect(self.state_dir / "outbox.sqlite3", timeout=10))

    def next_seq(self) -> int:
        """The chain state on disk: the seq the agent gives its next message."""
        with self._outbox() as outbox:
            return int(outbox.execute("SELECT next_seq FROM chain").fetchone()[0])

    def pending(self) -> list[tuple[int, int, bytes]]:
        """(seq, kind, payload) of what the outbox holds unacknowledged."""
        with self._outbox() as outbox:
            rows = outbox.execute("SELECT seq, kind, payload FROM messages ORDER BY seq")
            return [(int(s), int(k), bytes(p)) for s, k, p in rows.fetchall()]

    def dropped_messages(self) -> int:
        with self._outbox() as outbox:
            return int(outbox.execute("SELECT dropped_messages FROM chain").fetchone()[0])

    def state(self, key: str) -> bytes | None:
        with self._outbox() as outbox:
            row = outbox.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def public_key(self) -> bytes:
        return RobotSigner.from_seed((self.state_dir / KEY_FILE).read_bytes()).public_key

    def current_identity(self) -> Identity:
        document = json.loads((self.state_dir / "identity.json").read_text())
        return Identity(
            uuid.UUID(document["robot_id"]),
            document["tenant"],
            document["mqtt_username"],
            document["mqtt_password"],
            document["mqtt_client_id"],
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_count(self, text: str) -> int:
        return self.log_text().count(text)

    def topic(self, kind: TopicKind) -> str:
        return str(Topic(self.identity.tenant, str(self.robot_id), kind))


AGENT_TOML = """
mqtt_url = "{url}"
state_dir = "{state_dir}"
log_level = "INFO"
firmware_version = "kr-8.6.1"
vendor = "KUKA"
model = "KR 8"

[sampling]
read_interval_ms = 20
window_ms = 200
batch_interval_s = 1

[outbox]
headroom_bytes = 0

[publisher]
keepalive_s = {keepalive}
backoff_min_s = 0.2
backoff_max_s = 1.0
ack_timeout_s = 5.0
drain_timeout_s = 5.0

[collectors.simulator]
kind = "industrial_arm"
metrics = 12
seed = 11
"""


def enroll_robot(
    database: CloudSettings, broker: MosquittoBroker, state_dir: Path, tenant: str
) -> Identity:
    """Enrollment's own code path (cloud_api/enrollment/service.py): a token for a pending
    robot, then the robot's public key (made in its state directory) against it; the broker
    account is made through dynamic security, as the API makes it. The agent's identity file is
    what `robocover-agent enroll` writes."""
    signer = load_or_create_signer(state_dir)
    engine = create_engine(database.sqlalchemy_url, poolclass=pool.NullPool)
    now = datetime.now(UTC)
    try:
        with Session(engine) as session, session.begin():
            issued = issue_token(
                session,
                tenant=tenant,
                serial_number=uuid.uuid4().hex[:12],
                robot_class=RobotClass.INDUSTRIAL_ARM,
                manufacturer="KUKA",
                model="KR 8",
                ttl=timedelta(minutes=10),
                now=now,
            )
        with Session(engine) as session, session.begin(), broker.admin() as admin:
            enrollment = enroll(
                session, admin, token=issued.token, public_key=signer.public_key, now=now
            )
    finally:
        engine.dispose()
    identity = Identity(
        enrollment.robot_id,
        enrollment.tenant,
        enrollment.credentials.username,
        enrollment.credentials.password,
    )
    save_identity(state_dir, identity)
    return identity


AgentFactory = Callable[[], AgentProcess]


@pytest.fixture
def agent_factory(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> Iterator[AgentFactory]:
    """Enrolled robots with an agent each (not started). Every agent still running at the end is
    stopped (SIGTERM, then SIGKILL)."""
    agents: list[AgentProcess] = []

    def make() -> AgentProcess:
        home = tmp_path / f"robot-{len(agents)}"
        state_dir = home / "state"
        identity = enroll_robot(fresh_database, mqtt_broker, state_dir, TENANT)
        config = home / "agent.toml"
        config.write_text(
            AGENT_TOML.format(url=mqtt_broker.url, state_dir=state_dir, keepalive=KEEPALIVE_S)
        )
        agent = AgentProcess(state_dir, config, home / "agent.log", identity, mqtt_broker.port)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        process = agent.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


# ---------------------------------------------------------------------------- MQTT clients


class ConnectionWatch:
    """Watches, from the kernel's socket table, when the agent's broker connection goes."""

    def __init__(self, agent: AgentProcess) -> None:
        self.agent = agent
        self.gone_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.agent.connected():
                self.gone_at = time.monotonic()
                return
            time.sleep(0.005)

    def __enter__(self) -> ConnectionWatch:
        assert self.agent.connected()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._thread.join(10)
        self._stop.set()
        self._thread.join()


def landed_exactly_once(db: Db, robot_id: uuid.UUID) -> list[tuple[int, int, int]]:
    """(seq, samples the receipt says, telemetry rows written) of every seq whose rows differ:
    a seq written twice, or not at all, shows here."""
    rows = db.rows(
        "SELECT r.seq, r.sample_count, (SELECT count(*) FROM telemetry t"
        " WHERE t.robot_id = r.robot_id AND t.seq = r.seq) FROM batch_receipts r"
        " WHERE r.robot_id = %s ORDER BY r.seq",
        robot_id,
    )
    return [(int(s), int(n), int(c)) for s, n, c in rows if int(n) != int(c)]


def signed_by(payload: bytes, public_key: bytes) -> bool:
    try:
        verify(decode(payload), public_key)
    except SignatureError:
        return False
    return True


def key_rotated_seq(payloads: list[tuple[int, int, bytes]], rotation_id: int) -> int | None:
    for seq, kind, payload in payloads:
        if kind != MessageKind.EVENTS:
            continue
        message = decode(payload).message
        if isinstance(message, EventBatch) and any(
            e.kind == EventKind.KEY_ROTATED and e.code == str(rotation_id) for e in message.events
        ):
            return seq
    return None
