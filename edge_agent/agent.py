"""One robot's agent: collectors -> windows and event detection -> outbox -> publisher.

The sampling loop runs on the caller's thread and sleeps until each next read (no busy wait);
the publisher runs on its own network thread. Everything is bounded: one window of floats per
metric, the batch being built, and `inflight_window` sequence numbers.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version

from edge_agent import rotation
from edge_agent.collectors import Collector
from edge_agent.identity import OUTBOX_FILE, Identity, load_identity, load_signer
from edge_agent.origin import Origin
from edge_agent.outbox import MessageFactory, Outbox, OutboxStats
from edge_agent.publisher import Publisher
from edge_agent.remote_config import (
    STATE_KEY,
    AppliedConfig,
    RemoteConfig,
    select_metrics,
)
from edge_agent.settings import AgentSettings, SamplingSettings
from edge_agent.windows import BatchBuilder, ThresholdDetector, ThresholdRule, WindowAggregator
from firmware_protocol import (
    ChainedMessage,
    Event,
    EventBatch,
    EventKind,
    RobotSigner,
    RobotState,
    Severity,
    Status,
    TelemetryRows,
    Topic,
    TopicKind,
)

MAX_EVENTS = 256
logger = logging.getLogger(__name__)


def agent_version() -> str:
    try:
        return version("robocover")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        identity: Identity,
        signer: RobotSigner,
        collectors: Mapping[str, Collector],
        *,
        boot_offset_us: int = 0,
    ) -> None:
        """`collectors`: each by the name it is configured under (remote config enables and
        disables them by that name). `boot_offset_us`: a simulated robot's clock against the
        host's (Origin.boot_offset_us)."""
        self.settings = settings
        self.identity = identity
        self.origin = Origin(identity.robot_id, boot_offset_us=boot_offset_us)
        self.collector_names = tuple(collectors)
        self.collectors = tuple(collectors.values())
        self.declarations = tuple(d for c in self.collectors for d in c.declarations)
        self.keys = tuple(d.key for d in self.declarations)
        self._spans = (0, *itertools.accumulate(len(c.declarations) for c in self.collectors))
        self._misreporting: set[Collector] = set()
        self.final_stats: OutboxStats | None = None
        """The outbox as the agent left it when `run` returned (the outbox is closed then)."""
        self._closing = threading.Lock()  # `stats` from another thread against the close
        self.outbox = Outbox(
            settings.state_dir / OUTBOX_FILE,
            signer,
            self.origin,
            budget_bytes=settings.outbox.budget_bytes,
            headroom_bytes=settings.outbox.headroom_bytes,
            low_water=settings.outbox.low_water,
            compress=settings.sampling.compress,
        )
        if rotation.finish(settings.state_dir, self.outbox):  # one a crash left half done
            identity, signer = load_identity(settings.state_dir), load_signer(settings.state_dir)
            self.identity = identity
            self.outbox.replace_signer(signer)
        self._connection_seq = 0
        self._exponents = {d.key: d.exponent for d in self.declarations}
        rules = tuple(ThresholdRule(t.metric, t.above, t.hysteresis) for t in settings.thresholds)
        self._detector = ThresholdDetector(self.keys, rules)
        self._lock = threading.Lock()
        self._events: list[Event] = []
        host, port, tls = settings.mqtt_host_port
        self.publisher = Publisher(
            settings=settings.publisher,
            host=host,
            port=port,
            tls=tls,
            identity=identity,
            signer=signer,
            outbox=self.outbox,
            birth=self._birth,
            last_will=self._last_will,
            on_config=self._on_config,
            on_connecting=self._begin_connection,
        )
        stored = self.outbox.get_state(STATE_KEY)
        applied = AppliedConfig.from_json(stored) if stored else None
        self.remote_config = RemoteConfig(
            topic=Topic(identity.tenant, str(identity.robot_id), TopicKind.CONFIG),
            base=settings.sampling,
            base_budget=settings.outbox.budget_bytes,
            known_metrics=self.keys,
            known_collectors=self.collector_names,
            apply=self.apply_sampling,
            report=self._report_config,
            applied=applied,
        )
        self.apply_sampling(
            self.remote_config.applied.sampling, self.remote_config.applied.budget_bytes
        )

    # ------------------------------------------------------------------ configuration

    def apply_sampling(self, sampling: SamplingSettings, budget_bytes: int | None) -> None:
        """Switch to new sampling settings between two reads; the open batch is sent first."""
        aggregator = WindowAggregator(
            self.declarations, sampling.window_ms * 1000, sampling.gauge_statistic
        )
        selected = select_metrics(self.keys, sampling.metrics)
        chosen = self.collector_names if sampling.collectors is None else sampling.collectors
        unknown = sorted(set(chosen) - set(self.collector_names))
        if unknown:
            raise ValueError(f"sampling.collectors names no configured collector: {unknown}")
        enabled = tuple(
            name in chosen and (selected is None or any(d.key in selected for d in c.declarations))
            for name, c in zip(self.collector_names, self.collectors, strict=True)
        )
        with self._lock:
            if hasattr(self, "_builder"):
                self._flush_telemetry()
            self.sampling = sampling
            self._aggregator = aggregator
            self._builder = BatchBuilder(self.keys, self._exponents)
            self._selected = selected
            self._enabled = enabled
            self._windows_per_batch = max(1, sampling.batch_interval_s * 1000 // sampling.window_ms)
            self.outbox.compress = sampling.compress
            if budget_bytes is not None:
                self.outbox.budget_bytes = budget_bytes

    def _on_config(self, payload: bytes) -> None:
        request = self.remote_config.decode(payload)
        if request is not None and rotation.wanted(request, self.outbox):
            try:
                rotated = rotation.rotate(
                    self.settings.state_dir, self.outbox, self.identity, self.origin, request
                )
            except (rotation.RotationError, OSError) as exc:
                logger.error("credential rotation %s failed: %s", request.rotation_id, exc)
                self._report_config(
                    EventKind.CONFIG_REJECTED, request.config_version, f"rotation: {exc}"
                )
                return
            self.identity = rotated.identity
            self.publisher.switch_after_ack(rotated.seq, rotated.identity, rotated.signer)
            self.publisher.pump()
        applied = self.remote_config.handle(payload)
        if applied is not None:
            self.outbox.set_state(STATE_KEY, applied.to_json())

    def _report_config(self, kind: EventKind, config_version: int, reason: str) -> None:
        _, mono_us = self.origin.clock()
        severity = Severity.INFO if kind == EventKind.CONFIG_APPLIED else Severity.WARNING
        event = Event(int(kind), mono_us, severity, code=str(config_version), message=reason[:250])
        with self._lock:
            self._events.append(event)
            self._flush_events()
        self.publisher.pump()

    # ------------------------------------------------------------------ status messages

    def _begin_connection(self) -> None:
        """Count the connection about to open: its will and its birth carry the count."""
        self._connection_seq = self.outbox.next_counter("connection_seq")

    def _status(self, state: RobotState) -> Status:
        wall_us, mono_us = self.origin.clock()
        online = state == RobotState.ONLINE
        next_seq, head_digest = self.outbox.head()
        return Status(
            robot_id=self.identity.robot_id,
            boot_id=self.origin.boot_id,
            wall_us=wall_us,
            mono_us=mono_us,
            state=state,
            firmware_version=self.settings.firmware_version if online else None,
            agent_version=agent_version() if online else None,
            next_seq=next_seq if online or next_seq > 0 else None,
            catalogue=self.declarations if online else (),
            vendor=self.settings.vendor if online else None,
            model=self.settings.model if online else None,
            config_version=self._config_version() if online else None,
            connection_seq=self._connection_seq or None,
            head_digest=head_digest if next_seq > 0 else None,
        )

    def _config_version(self) -> int | None:
        """The remote config applied, if any."""
        version = self.remote_config.applied.version
        return version if version >= 0 else None

    def _birth(self) -> Status:
        return self._status(RobotState.ONLINE)

    def _last_will(self) -> Status:
        return self._status(RobotState.OFFLINE)

    # ------------------------------------------------------------------ sampling

    def step(self, mono_us: int) -> None:
        """One read of every enabled collector, aggregated; closes windows and batches."""
        values = [math.nan] * len(self.keys)
        events: list[Event] = []
        for i, collector in enumerate(self.collectors):
            if not self._enabled[i]:
                continue
            reading = collector.read(mono_us)
            start, end = self._spans[i], self._spans[i + 1]
            if len(reading.values) == end - start:
                values[start:end] = reading.values
            elif collector not in self._misreporting:  # its values are left out, said once
                self._misreporting.add(collector)
                logger.error("collector %s returned %d values for its %d declared metrics: "
                             "its values are ignored", type(collector).__name__,
                             len(reading.values), end - start)  # fmt: skip
            events.extend(reading.events)
        events.extend(self._detector.check(mono_us, values))
        with self._lock:
            closed = self._aggregator.add(mono_us, values)
            self._events.extend(events)
            if closed is not None:
                self._builder.add(*closed)
                if self._events:
                    self._flush_events()
                if len(self._builder) >= self._windows_per_batch:
                    self._flush_telemetry()
        if closed is not None:
            self.publisher.pump()

    def _flush_events(self) -> None:
        while self._events:
            chunk = tuple(self._events[:MAX_EVENTS])
            del self._events[:MAX_EVENTS]
            self.outbox.append(self._factory(EventBatch, {"events": chunk}))

    def _flush_telemetry(self) -> None:
        times, series = self._builder.take(self._selected)
        if not times or not series:  # no window, or no metric with a value in the batch
            return
        samples = len(times) * len(series)

        fields: dict[str, object] = {
            "timestamps_us": times,
            "series": series,
            "exponents": self._exponents,
        }
        self.outbox.append(self._factory(TelemetryRows.from_values, fields), samples=samples)

    def _factory(
        self, constructor: Callable[..., ChainedMessage], fields: dict[str, object]
    ) -> MessageFactory:
        origin = self.origin

        def build(seq: int, prev_digest: bytes) -> ChainedMessage:
            message: ChainedMessage = constructor(**origin.chain_fields(seq, prev_digest), **fields)
            return message

        return build

    # ------------------------------------------------------------------ running

    def run(self, stop: threading.Event) -> None:
        """Sample until `stop` is set, then send what is open and say goodbye."""
        self.publisher.start()
        logger.info(
            "agent for robot %s started: %d metrics", self.identity.robot_id, len(self.keys)
        )
        try:
            next_read = self.origin.clock()[1]
            while not stop.is_set():
                self.step(next_read)
                next_read += self.sampling.read_interval_ms * 1000
                delay_us = next_read - self.origin.clock()[1]
                if delay_us < 0:  # behind (a slow collector, a suspended process): skip ahead
                    next_read = self.origin.clock()[1]
                    continue
                stop.wait(delay_us / 1e6)
            with self._lock:
                self._flush_events()
                self._flush_telemetry()
            self.publisher.pump()
            if not self.publisher.drain(self.settings.publisher.drain_timeout_s):
                unacked = self.outbox.stats().pending_messages
                logger.info(
                    "stopping with %d messages unacknowledged: sent at the next start", unacked
                )
        finally:
            self.publisher.stop()
            for collector in self.collectors:
                collector.close()
            with self._closing:
                self.final_stats = self.outbox.stats()
                self.outbox.close()

    def stats(self) -> OutboxStats:
        """The outbox's figures, from any thread: read from the outbox while it is open, as
        it was left once `run` closed it (a read racing the close waits for it)."""
        with self._closing:
            if self.final_stats is not None:
                return self.final_stats
            return self.outbox.stats()
