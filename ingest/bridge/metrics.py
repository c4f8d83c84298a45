"""The bridge's Prometheus metrics and the health it reports, on a registry of its own."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.bridge.writes import FlushOutcome

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "ingest_messages", "Messages handled, by outcome", ["outcome"], registry=r
        )
        self.samples = Counter("ingest_samples_committed", "Samples committed", registry=r)
        self.dead_letters = Counter(
            "ingest_dead_letters",
            "Messages sent to dead letters, by reason",
            ["reason"],
            registry=r,
        )
        self.gaps = Counter("ingest_sequence_gaps_opened", "Gaps opened in chains", registry=r)
        self.flush_seconds = Histogram(
            "ingest_flush_seconds",
            "Time to judge, write and commit a flush",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.receive_to_commit = Histogram(
            "ingest_receive_to_commit_seconds",
            "From receipt of a message to its commit",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.message_delay = Histogram(
            "ingest_message_delay_seconds",
            "From a robot making a chained message to its receipt, clock skew removed: the "
            "time it waited in the robot's outbox, the broker and the network",
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.database_retries = Counter(
            "ingest_database_retries", "Flushes retried while the database was away", registry=r
        )
        self.broker_connected = Gauge(
            "ingest_broker_connected", "1 while connected to the broker", registry=r
        )
        self.database_connected = Gauge(
            "ingest_database_connected", "1 while the database answers", registry=r
        )
        self.last_commit = Gauge(
            "ingest_last_commit_timestamp_seconds", "Unix time of the last commit", registry=r
        )

    def record(self, outcome: FlushOutcome, received_us: list[int], seconds: float) -> None:
        now = time.time()
        self.messages.labels("accepted").inc(outcome.accepted)
        self.messages.labels("duplicate").inc(outcome.duplicates)
        self.messages.labels("dead_letter").inc(sum(outcome.dead_letters.values()))
        for reason, count in outcome.dead_letters.items():
            self.dead_letters.labels(reason).inc(count)
        self.samples.inc(outcome.samples)
        self.gaps.inc(outcome.gaps_opened)
        self.flush_seconds.observe(seconds)
        for received in received_us:
            self.receive_to_commit.observe(max(0.0, now - received / 1e6))
        for delay_us in outcome.delays_us:
            self.message_delay.observe(delay_us / 1e6)
        self.last_commit.set(now)


@dataclass
class Health:
    """What /health answers; written by the bridge's loop, read by the HTTP thread."""

    broker_connected: bool = False
    database_connected: bool = False
    stopping: bool = False
    last_commit_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            healthy = self.broker_connected and self.database_connected and not self.stopping
            return {
                "status": "ok" if healthy else "degraded",
                "broker_connected": self.broker_connected,
                "database_connected": self.database_connected,
                "stopping": self.stopping,
                "last_commit_at": self.last_commit_at,
            }
