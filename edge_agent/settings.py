"""Settings of `robocover-agent`, the deployable that runs on a robot controller.

Sources, strongest first: arguments, ``ROBOCOVER_AGENT_*`` environment variables (nested with
``__``, e.g. ``ROBOCOVER_AGENT_OUTBOX__BUDGET_BYTES``), the TOML file given with ``--config``
(see edge_agent/packaging/agent.example.toml), then the defaults. The cloud may change the
`sampling` part at run time (remote config); the rest is local to the robot.

Validated with msgspec rather than pydantic: the agent must fit in 40 MB of memory, and
pydantic's model machinery alone costs it about 11 MB (docs/benchmarks.md). An unknown key, in
the file or in the environment, is an error rather than silently ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

MIB = 1 << 20
ENV_PREFIX = "ROBOCOVER_AGENT_"
ENV_NESTING = "__"


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the offending key and why."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Frozen; unknown keys are errors. Subclasses restate `frozen=True` for type checkers."""


class SamplingSettings(_Section, frozen=True):
    """What the cloud may change through the config topic."""

    read_interval_ms: Annotated[int, msgspec.Meta(ge=10, le=60_000)] = 100
    """Raw read period."""
    window_ms: Annotated[int, msgspec.Meta(ge=10, le=3_600_000)] = 1000
    """Aggregation window = the reported sample period."""
    batch_interval_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 5
    """Telemetry batch period."""
    compress: bool = True
    gauge_statistic: Literal["mean", "max", "last"] = "mean"
    metrics: tuple[str, ...] | None = None
    """Metric keys to report (globs allowed); None = all."""
    collectors: tuple[str, ...] | None = None
    """Names of the configured collectors to read; None = all. A collector left out, or none of
    whose metrics are selected, is not read at all."""

    def __post_init__(self) -> None:
        if self.window_ms < self.read_interval_ms:
            raise ValueError("window_ms must be at least read_interval_ms")
        if self.window_ms > self.batch_interval_s * 1000:
            raise ValueError("window_ms must not exceed batch_interval_s")
        if self.batch_interval_s * 1000 // self.window_ms > 4096:
            raise ValueError("a batch would hold more than 4096 windows")


class OutboxSettings(_Section, frozen=True):
    budget_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 64 * MIB
    headroom_bytes: Annotated[int, msgspec.Meta(ge=0)] = 256 * MIB
    """Free space left to the robot."""
    low_water: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.9


class PublisherSettings(_Section, frozen=True):
    inflight_window: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 32
    ack_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    backoff_min_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    backoff_max_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    keepalive_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    drain_timeout_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 5.0
    """At a clean stop, how long to wait for the acks of what was sent. At most 10 s: with the
    goodbye and the disconnect it must fit the systemd unit's TimeoutStopSec (20 s)."""
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    """A client certificate, if the broker wants one; its key may be in the same PEM file."""
    tls_key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.backoff_min_s > self.backoff_max_s:
            raise ValueError("backoff_min_s must not exceed backoff_max_s")
        if self.tls_key_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_key_file needs tls_cert_file")


class ThresholdSettings(_Section, frozen=True):
    metric: str
    above: float
    hysteresis: Annotated[float, msgspec.Meta(ge=0)] = 1.0


Label = Annotated[str, msgspec.Meta(max_length=64)]


class AgentSettings(_Section, frozen=True):
    """Built by `load_settings` (or `validate_settings`), which check every field."""

    mqtt_url: Annotated[str, msgspec.Meta(pattern=r"^mqtts?://[^/\s]+$")] = "mqtt://127.0.0.1:1884"
    """The broker, mqtt:// or mqtts:// (TLS)."""
    state_dir: Path = Path("/var/lib/robocover-agent")
    """Where the outbox, the signing key and the applied config live."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    firmware_version: Label = "unknown"
    vendor: Label | None = None
    model: Label | None = None
    collectors: dict[str, dict[str, Any]] = msgspec.field(default_factory=lambda: {"system": {}})
    """Collector name -> its options (entry point group robocover.collectors)."""
    sampling: SamplingSettings = SamplingSettings()
    outbox: OutboxSettings = OutboxSettings()
    publisher: PublisherSettings = PublisherSettings()
    thresholds: tuple[ThresholdSettings, ...] = ()

    @property
    def mqtt_host_port(self) -> tuple[str, int, bool]:
        scheme, _, rest = self.mqtt_url.partition("://")
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
        tls = scheme == "mqtts"
        return host, int(port) if port else (8883 if tls else 1883), tls


S = TypeVar("S", bound=_Section)


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError(f"cannot read a {kind.__name__} from settings")


def _encode_path(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot write a {type(value).__name__} to settings")


def validate_settings(document: Mapping[str, Any], kind: type[S], *, strict: bool = True) -> S:
    """Check `document` against `kind`; SettingsError says which key is wrong and why.
    `strict=False` also reads numbers and booleans written as text (the environment)."""
    try:
        return msgspec.convert(document, kind, strict=strict, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        raise SettingsError(str(exc)) from None


def settings_document(settings: _Section) -> dict[str, Any]:
    """Plain JSON-able values of `settings` (paths as text), as `validate_settings` reads them."""
    document: dict[str, Any] = msgspec.to_builtins(settings, enc_hook=_encode_path)
    return document


def settings_json(settings: _Section) -> str:
    return msgspec.json.format(
        msgspec.json.encode(settings, enc_hook=_encode_path), indent=2
    ).decode()


def replace_settings(settings: S, **changes: Any) -> S:
    """A copy of `settings` with `changes`, validated again."""
    return validate_settings(settings_document(settings) | changes, type(settings))


def _environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """ROBOCOVER_AGENT_OUTBOX__BUDGET_BYTES=1 -> {"outbox": {"budget_bytes": "1"}}. A value that
    parses as a JSON object or array (a table of collectors, a list of metrics) is taken as one;
    any other value stays text (validation converts it). A whole table and variables nested
    below it merge, whatever their order in the environment."""
    document: dict[str, Any] = {}
    names = sorted((n for n in environ if n.startswith(ENV_PREFIX)), key=lambda n: n.count("__"))
    for name in names:
        text = environ[name]
        *sections, key = name[len(ENV_PREFIX) :].lower().split(ENV_NESTING)
        value: Any = text
        if text.lstrip()[:1] in ("{", "["):
            # Not JSON: text that merely starts with a bracket, e.g. a vendor "[lab] arm".
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(text)
        target = document
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                raise SettingsError(f"{name} nests below a value that is not a section")
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            value = _merge(target[key], value)
        target[key] = value
    return document


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> AgentSettings:
    """The agent's settings: `overrides` over the environment over `config_file` (TOML)."""
    document: dict[str, Any] = {}
    if config_file is not None:
        if not config_file.is_file():
            raise FileNotFoundError(f"agent config file {config_file} does not exist")
        try:
            document = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{config_file}: {exc}") from None
    env = _environment(os.environ if environ is None else environ)
    # Sources merge as documents and are validated once, together: a file may rely on the
    # environment (a TLS key given there) and the other way round. A default table
    # (collectors) is replaced, not merged, by one given in a source. Validation is lax about
    # text and whole floats for numbers (the environment is text; TOML may say 5.0).
    merged = _merge(_merge(document, env), overrides)
    try:
        return validate_settings(merged, AgentSettings, strict=False)
    except SettingsError as exc:
        sources = [str(config_file)] if config_file is not None else []
        sources += [f"{ENV_PREFIX}* variables"] if env else []
        sources += ["arguments"] if overrides else []
        raise SettingsError(f"{exc} (from {', '.join(sources) or 'the defaults'})") from None
