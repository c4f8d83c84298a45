"""Edge agent benchmark: resources of one agent, and the outbox's throughput against baselines.

    python bench/agent_bench.py [--duration 60] [--output docs/benchmarks.md]

1. One `robocover-agent run` process (the simulator collector, 100 metrics read at 10 Hz,
   aggregated to 1 s windows, a signed batch every 5 s) over TLS to a Mosquitto of its own with a
   cloud stand-in that acknowledges every message. Measured with psutil after a warm-up: RSS
   (max over the run) and CPU time / wall time (percent of one core). Goal: <= 40 MB, <= 2 %.
   Then the same agent restarted onto a stored backlog (10,000 batches, 14 hours of outage):
   RSS while it resends everything, and how fast the backlog drains.
2. The outbox's throughput, store then delete by ack, for the same payload in the same run:
   SQLite WAL with synchronous=FULL on append and NORMAL on delete (the outbox), the same in
   rollback-journal mode (SQLite's default), and a naive spool of one fsynced file per message.
   Plus the outbox's full append path (quantize, encode, sign, store) for the benchmark's batch.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType

import numpy as np
import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.agent_report import render, write  # noqa: E402
from edge_agent.identity import OUTBOX_FILE, Identity, load_or_create_signer, save_identity  # noqa: E402
from edge_agent.origin import Origin  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from firmware_protocol import (  # noqa: E402
    Ack,
    ChainedMessage,
    SeqRange,
    TelemetryBatch,
    TelemetryRows,
    Topic,
    TopicKind,
    decode,
    encode,
)

TENANT = "bench"


def _load_broker_module() -> ModuleType:
    # tests/ is not a package on sys.path (a site-packages `tests` may shadow it): load by path.
    spec = importlib.util.spec_from_file_location(
        "robocover_bench_broker", PROJECT / "tests" / "support" / "broker.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Acker:
    """Acknowledges every chained message of one robot, as the ingest would after committing."""

    def __init__(self, broker: object, robot_id: uuid.UUID) -> None:
        client_id = f"acker-{uuid.uuid4().hex[:8]}"
        creds = broker.standin_credentials(client_id)  # type: ignore[attr-defined]
        self.robot_id = robot_id
        self.received = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(creds.username, creds.password)
        self.client.on_message = self._on_message
        self.ack_topic = str(Topic(TENANT, str(robot_id), TopicKind.ACK))
        self.client.connect("127.0.0.1", broker.port)  # type: ignore[attr-defined]
        for kind in (TopicKind.TELEMETRY, TopicKind.EVENTS):
            self.client.subscribe(str(Topic(TENANT, str(robot_id), kind)), qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        link = decode(message.payload).link
        if link is None:
            return
        self.received += 1
        ack = Ack(self.robot_id, time.time_ns() // 1000, (SeqRange(link.seq, link.seq),))
        client.publish(self.ack_topic, encode(ack), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _start_agent(config: Path) -> tuple[subprocess.Popen[bytes], psutil.Process]:
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "--config", str(config), "run"],
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    return process, psutil.Process(process.pid)


def _outbox_counts(outbox: Path) -> tuple[int, int]:
    """(messages ever stored, messages not yet acknowledged), read beside the running agent."""
    with sqlite3.connect(outbox) as db:
        stored, pending = db.execute(
            "SELECT (SELECT next_seq FROM chain), (SELECT count(*) FROM messages)"
        ).fetchone()
    return int(stored), int(pending)


def _fill_backlog(state: Path, robot_id: uuid.UUID, count: int) -> None:
    """`count` stored, unacknowledged batches, as an outage of count x 5 s would leave."""
    from edge_agent.identity import load_signer

    origin = Origin(robot_id)  # one earlier boot of the robot
    outbox = Outbox(state / OUTBOX_FILE, load_signer(state), origin, budget_bytes=1 << 30)
    series = {f"vibration_rms_m_s2.{c}": [0.2 + 0.001 * c] * 5 for c in range(1, 101)}
    stamps = [1_000_000 * (i + 1) for i in range(5)]

    def build(seq: int, prev: bytes) -> ChainedMessage:
        return TelemetryRows.from_values(
            **origin.chain_fields(seq, prev), timestamps_us=stamps, series=series
        )

    for _ in range(count):
        outbox.append(build, samples=500)
    outbox.close()


def measure_agent(
    workdir: Path, duration_s: float, warmup_s: float, backlog: int
) -> dict[str, float]:
    """Steady state, then a restart onto a stored backlog of `backlog` batches to drain; the
    agent talks TLS (mqtts://, the broker verified against a CA file), as in production."""
    from tests.support.tls import make_server_tls

    broker_module = _load_broker_module()
    tls = make_server_tls(workdir / "tls")
    broker = broker_module.MosquittoBroker(workdir / "broker", tls=tls)
    broker.start()
    try:
        robot_id = uuid.uuid4()
        username, password = broker.add_robot(TENANT, robot_id)
        state = workdir / "agent"
        save_identity(state, Identity(robot_id, TENANT, username, password))
        load_or_create_signer(state)
        config = workdir / "agent.toml"
        config.write_text(
            f'mqtt_url = "{broker.tls_url}"\nstate_dir = "{state}"\nlog_level = "WARNING"\n'
            f'[publisher]\ntls_ca_file = "{tls.ca_file}"\n'
            "[sampling]\nread_interval_ms = 100\nwindow_ms = 1000\nbatch_interval_s = 5\n"
            "[outbox]\nheadroom_bytes = 0\n"
            '[collectors.simulator]\nkind = "industrial_arm"\nmetrics = 100\nseed = 1\n'
        )
        acker = Acker(broker, robot_id)
        process, watched = _start_agent(config)
        time.sleep(warmup_s)
        cpu_start, wall_start = sum(watched.cpu_times()[:2]), time.monotonic()
        rss_max = 0
        while time.monotonic() - wall_start < duration_s:
            rss_max = max(rss_max, watched.memory_info().rss)
            time.sleep(1)
        cpu = sum(watched.cpu_times()[:2]) - cpu_start
        wall = time.monotonic() - wall_start
        uss = watched.memory_full_info().uss
        process.terminate()
        process.wait(30)
        stored, pending = _outbox_counts(state / OUTBOX_FILE)
        acked = acker.received

        # The same agent restarted onto a backlog, as after a long outage: memory while it
        # resends everything (in order, through its bounded in-flight window).
        _fill_backlog(state, robot_id, backlog)
        process, watched = _start_agent(config)
        drain_start, drain_rss = time.monotonic(), 0
        while _outbox_counts(state / OUTBOX_FILE)[1] > 0:
            drain_rss = max(drain_rss, watched.memory_info().rss)
            if time.monotonic() - drain_start > 600:
                raise TimeoutError("the backlog did not drain in 10 minutes")
            time.sleep(0.2)
        drain_s = time.monotonic() - drain_start
        process.terminate()
        process.wait(30)
        acker.close()
        return {
            "rss_mb": rss_max / 1e6,
            "uss_mb": uss / 1e6,
            "cpu_pct": 100 * cpu / wall,
            "messages": float(stored),
            "pending": float(pending),
            "acked": float(acked),
            "backlog": float(backlog),
            "drain_rss_mb": drain_rss / 1e6,
            "drain_rate": backlog / drain_s,
        }
    finally:
        broker.stop()


IMPORT_PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
if "pydantic_settings" in sys.argv:  # a settings model, as the agent had: pydantic builds it
    import pydantic_settings
    class Probe(pydantic_settings.BaseSettings):
        x: int = 1
    Probe()
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")))
"""
AGENT_MODULES = ("edge_agent.cli", "edge_agent.agent", "edge_agent.collectors.simulator")
DROPPED_LIBRARIES = ("numpy", "pydantic_settings", "loguru",
                     "cryptography.hazmat.primitives.asymmetric.ed25519")  # fmt: skip


def measure_import_floors() -> dict[str, float]:
    """RSS (MB) of an interpreter that only imports: nothing; the agent; the agent plus the
    libraries it no longer loads (numpy, pydantic-settings with a model, loguru, cryptography)."""

    def rss(*modules: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE, *modules],
            cwd=PROJECT, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
        )  # fmt: skip
        return int(out.stdout.split()[-1]) * 1024 / 1e6

    return {
        "bare": min(rss() for _ in range(3)),
        "agent": min(rss(*AGENT_MODULES) for _ in range(3)),
        "before": min(rss(*AGENT_MODULES, *DROPPED_LIBRARIES) for _ in range(3)),
    }


def _payload() -> tuple[bytes, ChainedMessage]:
    rng = np.random.default_rng(1)
    series = {
        f"vibration_rms_m_s2.{c}": 0.2 + np.abs(rng.normal(0, 0.02, 5)) for c in range(1, 101)
    }
    batch = TelemetryBatch.from_values(
        robot_id=uuid.uuid4(), boot_id=uuid.uuid4(), seq=0, prev_digest=bytes(32), wall_us=1,
        mono_us=1, timestamps_us=np.arange(1, 6) * 1_000_000, series=series,
    )  # fmt: skip
    from firmware_protocol import RobotSigner

    return encode(batch, RobotSigner.generate()), batch


def _sqlite_rate(path: Path, payload: bytes, count: int, *, wal: bool) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    db.execute("CREATE TABLE m (seq INTEGER PRIMARY KEY, payload BLOB)")
    started = time.perf_counter()
    for seq in range(count):
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO m VALUES (?, ?)", (seq, payload))
        db.execute("COMMIT")
        if seq % 10 == 9:  # acks come in groups
            db.execute(f"PRAGMA synchronous={'NORMAL' if wal else 'FULL'}")
            db.execute("DELETE FROM m WHERE seq BETWEEN ? AND ?", (seq - 9, seq))
    elapsed = time.perf_counter() - started
    db.close()
    return count / elapsed


def _spool_rate(directory: Path, payload: bytes, count: int) -> float:
    directory.mkdir()
    started = time.perf_counter()
    for seq in range(count):
        path = directory / f"{seq:012d}.json"
        with path.open("w") as out:
            json.dump({"seq": seq, "payload": payload.hex()}, out)
            out.flush()
            os.fsync(out.fileno())
        if seq % 10 == 9:
            for old in range(seq - 9, seq + 1):
                (directory / f"{old:012d}.json").unlink()
    return count / (time.perf_counter() - started)


def _outbox_append_rate(path: Path, batch: ChainedMessage, count: int) -> float:
    from firmware_protocol import RobotSigner

    assert isinstance(batch, TelemetryBatch)
    origin = Origin(batch.robot_id, batch.boot_id)
    outbox = Outbox(path, RobotSigner.generate(), origin, budget_bytes=1 << 30)
    # What the agent builds: plain lists into the numpy-free TelemetryRows.
    series = {key: batch.series(key).tolist() for key in batch.keys}
    timestamps = batch.timestamps_us.tolist()

    def build(seq: int, prev: bytes) -> ChainedMessage:
        return TelemetryRows.from_values(
            robot_id=origin.robot_id, boot_id=origin.boot_id, seq=seq, prev_digest=prev,
            wall_us=1, mono_us=1, timestamps_us=timestamps, series=series,
        )  # fmt: skip

    started = time.perf_counter()
    for i in range(count):
        outbox.append(build, samples=500)
        if i % 10 == 9:
            outbox.acknowledge([SeqRange(i - 9, i)])
    rate = count / (time.perf_counter() - started)
    outbox.close()
    return rate


def measure_outbox(workdir: Path, count: int) -> dict[str, float]:
    payload, batch = _payload()
    return {
        "payload_bytes": float(len(payload)),
        "wal": _sqlite_rate(workdir / "wal.sqlite3", payload, count, wal=True),
        "rollback": _sqlite_rate(workdir / "rollback.sqlite3", payload, count, wal=False),
        "spool": _spool_rate(workdir / "spool", payload, count),
        "append": _outbox_append_rate(workdir / "outbox.sqlite3", batch, count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--outbox-messages", type=int, default=2000)
    parser.add_argument("--backlog", type=int, default=10_000, help="batches to drain")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent-bench-") as tmp:
        work = Path(tmp)
        threading.current_thread().name = "bench"
        outbox = measure_outbox(work, args.outbox_messages)
        floors = measure_import_floors()
        agent = measure_agent(work, args.duration, args.warmup, args.backlog)
    section = render(agent, outbox, floors, args.duration)
    print(section)
    if args.output:
        write(args.output, section)


if __name__ == "__main__":
    main()
