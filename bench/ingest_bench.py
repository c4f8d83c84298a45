"""Ingest benchmark: samples committed per second end to end, against its limits, in one run.

    python bench/ingest_bench.py [--robots 20] [--batches 60] [--rounds 7] [--output docs/benchmarks.md]

Simulated robots (20 metrics x 60 samples a batch, signed and chained) publish through a real
Mosquitto into a real `robocover ingest` process and TimescaleDB. Side by side, on the same rows:
(a) a raw binary COPY into the same hypertable, the ceiling, in rounds alternating with the
ingest's (the machine is noisy: each ingest run is set against the COPY runs next to it, and the
median of those ratios is the figure); (b) a naive bridge that inserts each sample with its own
INSERT. Then publish-to-commit latency (to the robot's commit ack, which follows the commit) at
half the median rate. The `robocover ingest` measured is the one installed beside the Python
running this script (another checkout's venv measures that checkout's ingest).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest_report import (
    SAMPLES_PER_BATCH,
    Measured,
    Run,
    ingest_revision,
    median,
    render,
)
from bench.report import write_section
from database.settings import CloudSettings
from firmware_protocol import RobotSigner, TelemetryBatch, TopicKind, decode
from ingest.bridge.copy_format import telemetry_copy_payload, telemetry_copy_rows
from migrations.runner import upgrade
from tests.support.broker import MosquittoBroker
from tests.support.fleet import SimRobot, register_robot
from tests.support.ingest_process import IngestProcess, RobotLink, wait_all_acked

# Flushes of up to 1000 batches (2.4 MB of payload, 1.2 M samples): fewer commits per sample.
INGEST_ENV = {"ROBOCOVER_FLUSH_MAX_MESSAGES": "1000", "ROBOCOVER_FLUSH_MAX_BYTES": "4000000"}
BATCH_SPAN_US = 60 * 1_000_000
"""What a batch of 60 samples a second covers."""


@dataclass
class Scratch:
    """A migrated database of the benchmark's own, dropped at the end."""

    base: CloudSettings
    name: str

    @property
    def settings(self) -> CloudSettings:
        base, _, _ = self.base.libpq_url.rpartition("/")
        return self.base.model_copy(update={"database_url": f"{base}/{self.name}"})

    def __enter__(self) -> Scratch:
        with psycopg.connect(self.base.libpq_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE robocover_template')
        upgrade(self.settings.sqlalchemy_url)
        return self

    def __exit__(self, *_exc: object) -> None:
        with psycopg.connect(self.base.libpq_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def make_fleet(database: str, broker: MosquittoBroker, robots: int) -> list[RobotLink]:
    links = []
    for _ in range(robots):
        signer = RobotSigner.generate()
        links.append(
            RobotLink(
                SimRobot("bench", register_robot(database, signer, tenant="bench"), signer), broker
            )
        )
    return links


def history(robot: SimRobot, batches: int) -> list[bytes]:
    """A robot's last `batches` signed batches as a robot sends them: 60 samples a second
    each, every batch the minute after the one before, the last ending now (batches that all
    covered the same minute would overlap in time, which no robot's consecutive batches do)."""
    now_us = time.time_ns() // 1000
    return [
        robot.telemetry(samples=60, wall_us=now_us - (batches - 1 - k) * BATCH_SPAN_US)
        for k in range(batches)
    ]


def pregenerate(links: list[RobotLink], batches: int) -> list[tuple[RobotLink, bytes]]:
    """Signed batches made before any clock starts, interleaved across robots."""
    made = [history(link.robot, batches) for link in links]
    return [(link, made[i][k]) for k in range(batches) for i, link in enumerate(links)]


def publish_paced(plan: list[tuple[RobotLink, bytes]], rate: float | None) -> None:
    started = time.monotonic()
    for index, (link, payload) in enumerate(plan):
        if rate is not None:
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        link.publish(TopicKind.TELEMETRY, payload)


def end_to_end(
    settings: CloudSettings,
    broker: MosquittoBroker,
    robots: int,
    batches: int,
    rate: float | None,
    *,
    ingests: int = 1,
) -> Run:
    """One run with `ingests` processes in one share group (see Run)."""
    with tempfile.TemporaryDirectory() as tmp:
        processes = [
            IngestProcess(
                settings, broker, log_path=Path(tmp) / f"ingest-{i}.log", extra_env=INGEST_ENV
            )
            for i in range(ingests)
        ]
        for ingest in processes:
            ingest.start()
        links = make_fleet(settings.libpq_url, broker, robots)
        plan = pregenerate(links, batches)
        started = time.monotonic()
        publish_paced(plan, rate)
        wait_all_acked(links, timeout=600, resend_every=60)
        elapsed = max(max(link.acked_at.values()) for link in links) - started
        acked = np.sort([t for link in links for t in link.acked_at.values()])
        low, high = int(len(acked) * 0.1), int(len(acked) * 0.9)
        sustained = (high - low) * SAMPLES_PER_BATCH / (acked[high] - acked[low])
        latencies = [
            link.acked_at[seq] - link.first_sent_at[seq] for link in links for seq in link.acked_at
        ]
        flushes = sum(flush_count(ingest.metrics()) for ingest in processes)
        for link in links:
            link.close()
        for ingest in processes:
            ingest.kill(signal.SIGTERM)
            ingest.retire()
    return Run(len(plan) * SAMPLES_PER_BATCH / elapsed, float(sustained), latencies, flushes)


def flush_count(metrics: str) -> int:
    """Flushes committed, from the process's /metrics."""
    for line in metrics.splitlines():
        if line.startswith("ingest_flush_seconds_count"):
            return int(float(line.split()[-1]))
    return 0


def copy_payloads(robots: int, batches: int, flush_batches: int) -> list[bytes]:
    """The same rows as the end-to-end run, as binary COPY streams of one flush each."""
    fleet = [SimRobot("bench", uuid.uuid4(), RobotSigner.generate()) for _ in range(robots)]
    made = [history(robot, batches) for robot in fleet]
    decoded = [decode(made[i][k]).message for k in range(batches) for i in range(robots)]
    payloads = []
    for start in range(0, len(decoded), flush_batches):
        group = [b for b in decoded[start : start + flush_batches] if isinstance(b, TelemetryBatch)]
        times = np.concatenate(
            [np.tile(b.timestamps_us - b.mono_us + b.wall_us, len(b.keys)) for b in group]
        )
        robots_v16 = np.concatenate(
            [np.full(b.values.size, np.frombuffer(b.robot_id.bytes, "V16")[0]) for b in group]
        )
        metrics = np.concatenate(
            [np.repeat(np.arange(1, len(b.keys) + 1, dtype=np.int32), 60) for b in group]
        )
        values = np.concatenate([b.values.reshape(-1) for b in group])
        seqs = np.concatenate([np.full(b.values.size, b.seq, dtype=np.int64) for b in group])
        payloads.append(
            telemetry_copy_payload(telemetry_copy_rows(times, robots_v16, metrics, values, seqs))
        )
    return payloads


def raw_copy(settings: CloudSettings, payloads: list[bytes], connections: int = 1) -> float:
    """Samples/s of bare COPY + commit per flush into the telemetry hypertable, the flushes
    shared among `connections` parallel connections."""
    shares = [payloads[i::connections] for i in range(connections)]
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        rows = sum(pool.map(lambda share: _copy_all(settings, share), shares))
    return rows / (time.perf_counter() - started)


def _copy_all(settings: CloudSettings, payloads: list[bytes]) -> int:
    rows = 0
    with psycopg.connect(settings.libpq_url) as conn:
        for payload in payloads:
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY telemetry (time, robot_id, metric_id, value, seq) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.write(payload)
            conn.commit()
            rows += (len(payload) - 21) // 64
    return rows


def naive_bridge(settings: CloudSettings, broker: MosquittoBroker, batches: int) -> float:
    """A bridge as often written first: subscribe, decode, one INSERT per sample, commit per
    message. Samples/s, from the first message received to the last commit."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    signer = RobotSigner.generate()
    robot = SimRobot("bench", register_robot(settings.libpq_url, signer, tenant="bench"), signer)
    payloads = history(robot, batches)
    received: list[bytes] = []
    creds = broker.standin_credentials("naive")
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="naive", protocol=mqtt.MQTTv5)
    sub.username_pw_set(creds.username, creds.password)
    sub.on_message = lambda _c, _u, m: received.append(bytes(m.payload))
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe(robot.topic(TopicKind.TELEMETRY), qos=1)
    sub.loop_start()
    time.sleep(0.5)
    link = RobotLink(robot, broker)
    for payload in payloads:
        link.publish(TopicKind.TELEMETRY, payload)
    samples = 0
    with psycopg.connect(settings.libpq_url) as conn:
        started = None
        handled = 0
        while handled < batches:
            if handled >= len(received):
                time.sleep(0.001)
                continue
            started = started or time.perf_counter()
            batch = decode(received[handled]).message
            assert isinstance(batch, TelemetryBatch)
            wall = batch.timestamps_us - batch.mono_us + batch.wall_us
            for m, _key in enumerate(batch.keys):
                for i in range(batch.values.shape[1]):
                    conn.execute(
                        "INSERT INTO telemetry (time, robot_id, metric_id, value, seq)"
                        " VALUES (to_timestamp(%s / 1e6), %s, %s, %s, %s)",
                        (int(wall[i]), batch.robot_id, m + 1, float(batch.values[m, i]), batch.seq),
                    )
                    samples += 1
            conn.commit()
            handled += 1
        elapsed = time.perf_counter() - (started or time.perf_counter())
    sub.loop_stop()
    link.close()
    return samples / elapsed


def run(robots: int, batches: int, rounds: int) -> str:
    """Alternating rounds of one ingest process and the raw COPY of the same rows (the order
    swapping every round: I C, C I, I C, ...), each ingest run set against the mean of the
    COPY runs next to it in time; then two processes, the naive bridge, and latency at half
    the median rate."""
    base = CloudSettings()
    pid = os.getpid()
    sequence: list[tuple[str, float]] = []
    runs: list[Run] = []
    payloads = copy_payloads(robots, batches, 250)
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp))
        broker.start()
        try:
            for number in range(rounds):
                for what in ("ingest", "copy") if number % 2 == 0 else ("copy", "ingest"):
                    with Scratch(base, f"bench_{what}_{pid}_{number}") as scratch:
                        if what == "copy":
                            sequence.append(("copy", raw_copy(scratch.settings, payloads, 1)))
                            continue
                        runs.append(end_to_end(scratch.settings, broker, robots, batches, None))
                        sequence.append(("ingest", runs[-1].overall))
            with Scratch(base, f"bench_ingest_{pid}_2") as scratch:
                two = end_to_end(scratch.settings, broker, robots, batches, None, ingests=2)
            with Scratch(base, f"bench_copy_{pid}_2") as scratch:
                copy_two = raw_copy(scratch.settings, payloads, 2)
            with Scratch(base, f"bench_naive_{pid}") as scratch:
                naive_rate = naive_bridge(scratch.settings, broker, max(3, batches // 20))
            half_rate_batches = median([r.overall for r in runs]) / 2 / SAMPLES_PER_BATCH
            with Scratch(base, f"bench_latency_{pid}") as scratch:
                latency = end_to_end(
                    scratch.settings, broker, robots, batches // 2, rate=half_rate_batches
                )
        finally:
            broker.stop()
    return render(
        Measured(
            robots=robots,
            batches=batches,
            sequence=sequence,
            runs=runs,
            two=two,
            copy_two=copy_two,
            naive=naive_rate,
            half_rate_batches=half_rate_batches,
            latency=latency,
            ingest=ingest_revision(),
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=20)
    parser.add_argument("--batches", type=int, default=60, help="batches per robot")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (>= 5)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    section = run(args.robots, args.batches, args.rounds)
    sys.stdout.write(section)
    if args.output is not None:
        write_section(args.output, "ingest", "Ingest (`bench/ingest_bench.py`)", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
