"""Remote configuration from the retained config topic: validated, applied without a restart,
rolled back when it cannot be applied, and reported.

A Config message may change the raw read period, the window, the batch period, compression, the
metrics reported, the collectors read (by name) and the outbox budget. It is refused when it is
not for this robot, not newer than the applied one, or when the settings it produces are
inconsistent (e.g. a window longer than the batch, a metric no collector reports, a collector
the robot does not have). Refusals and applications are reported upstream as chained events
(protocol 1.1 kinds CONFIG_APPLIED and CONFIG_REJECTED, the config version in `code`, the reason
in `message`) and kept in the outbox's state table, so the applied config survives a restart.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from edge_agent.settings import (
    SamplingSettings,
    SettingsError,
    settings_document,
    validate_settings,
)
from firmware_protocol import Config, EventKind, MetricKey, ProtocolError, Topic, decode

STATE_KEY = "remote_config"
logger = logging.getLogger(__name__)


class ConfigRejectedError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AppliedConfig:
    version: int
    sampling: SamplingSettings
    budget_bytes: int | None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": self.version,
                "sampling": settings_document(self.sampling),
                "budget_bytes": self.budget_bytes,
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> AppliedConfig:
        document = json.loads(data)
        return cls(
            document["version"],
            validate_settings(document["sampling"], SamplingSettings),
            document["budget_bytes"],
        )


# apply(sampling, budget) raises to refuse; report(kind, version, reason) sends the event.
Apply = Callable[[SamplingSettings, int | None], None]
Report = Callable[[EventKind, int, str], None]


class RemoteConfig:
    def __init__(
        self,
        *,
        topic: Topic,
        base: SamplingSettings,
        base_budget: int,
        known_metrics: tuple[MetricKey, ...],
        known_collectors: Iterable[str] = (),
        apply: Apply,
        report: Report,
        applied: AppliedConfig | None = None,
    ) -> None:
        self._topic = topic
        self._known = {str(key) for key in known_metrics}
        self._collectors = frozenset(known_collectors)
        self._apply, self._report = apply, report
        self.applied = applied or AppliedConfig(-1, base, base_budget)
        self.last_rejection: tuple[int, str] | None = None

    def candidate(self, config: Config) -> AppliedConfig:
        """The settings `config` asks for, or ConfigRejectedError saying why not."""
        if config.robot_id != self._topic.robot_id:
            raise ConfigRejectedError("the config names another robot")
        if config.config_version <= self.applied.version:
            raise ConfigRejectedError(
                f"version {config.config_version} is not newer than {self.applied.version}"
            )
        update: dict[str, object] = {}
        if config.sample_interval_ms is not None:
            update["window_ms"] = config.sample_interval_ms
        if config.batch_interval_s is not None:
            update["batch_interval_s"] = config.batch_interval_s
        if config.read_interval_ms is not None:
            update["read_interval_ms"] = config.read_interval_ms
        if config.compress is not None:
            update["compress"] = config.compress
        if config.collectors is not None:
            unknown = sorted(set(config.collectors) - self._collectors)
            if unknown:
                raise ConfigRejectedError(f"no collector named {', '.join(unknown[:5])}")
            update["collectors"] = config.collectors
        if config.metrics is not None:
            unknown = sorted(str(k) for k in config.metrics if str(k) not in self._known)
            if unknown:
                raise ConfigRejectedError(f"no collector reports {', '.join(unknown[:5])}")
            update["metrics"] = tuple(str(k) for k in config.metrics)
        merged = settings_document(self.applied.sampling) | update
        try:
            sampling = validate_settings(merged, SamplingSettings)
        except SettingsError as exc:
            raise ConfigRejectedError(str(exc)) from None
        budget = config.outbox_budget_bytes or self.applied.budget_bytes
        return AppliedConfig(config.config_version, sampling, budget)

    def decode(self, payload: bytes) -> Config | None:
        """The config `payload` holds, if it is one (handle reports what is not)."""
        try:
            message = decode(payload, topic=self._topic, allow_json=False).message
        except ProtocolError:
            return None
        return message if isinstance(message, Config) else None

    def handle(self, payload: bytes) -> AppliedConfig | None:
        """Apply the config message `payload`; returns what was applied, or None."""
        try:
            message = decode(payload, topic=self._topic, allow_json=False).message
        except ProtocolError as exc:
            self._reject(-1, f"undecodable config: {exc}")
            return None
        if not isinstance(message, Config):  # pragma: no cover - check_topic allows only CONFIG
            return None
        if message.config_version <= self.applied.version:
            return None  # the retained copy of what is applied, seen again at reconnect
        try:
            candidate = self.candidate(message)
        except ConfigRejectedError as exc:
            self._reject(message.config_version, str(exc))
            return None
        previous = self.applied
        try:
            self._apply(candidate.sampling, candidate.budget_bytes)
        except Exception as exc:  # any failure to apply: go back to what worked
            self._apply(previous.sampling, previous.budget_bytes)
            self._reject(message.config_version, f"rolled back: {exc}")
            return None
        self.applied = candidate
        self._report(EventKind.CONFIG_APPLIED, candidate.version, "applied")
        logger.info("remote config %d applied", candidate.version)
        return candidate

    def _reject(self, version: int, reason: str) -> None:
        logger.warning("remote config %d refused: %s", version, reason)
        self.last_rejection = (version, reason)
        self._report(EventKind.CONFIG_REJECTED, max(version, 0), reason)


def select_metrics(
    keys: tuple[MetricKey, ...], patterns: tuple[str, ...] | None
) -> frozenset[MetricKey] | None:
    if patterns is None:
        return None
    return frozenset(k for k in keys if any(fnmatch.fnmatchcase(str(k), p) for p in patterns))
