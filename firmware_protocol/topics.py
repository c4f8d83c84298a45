"""The MQTT topic namespace: ``rc/v1/{tenant}/{robot}/{kind}``.

Topic segments are validated so that no id can smuggle a wildcard (``+``, ``#``), a level
separator or a ``$`` prefix into a subscription, and so that a topic maps back to exactly one
(tenant, robot, kind) triple.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from firmware_protocol.errors import ErrorCode, TopicError

TOPIC_ROOT: Final = "rc"
TOPIC_VERSION: Final = "v1"
_TENANT_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
_ROBOT_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_GROUP_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_MAX_TOPIC_CHARS: Final = 128


class TopicKind(StrEnum):
    """Last topic level. Direction: robot to cloud, except CONFIG and ACK."""

    TELEMETRY = "telemetry"
    EVENTS = "events"
    STATUS = "status"
    CONFIG = "config"
    ACK = "ack"


def validate_tenant(tenant: str) -> str:
    """Tenant ids are slugs: 1-32 of ``[a-z0-9-]``, not starting or ending with ``-``."""
    if not isinstance(tenant, str) or _TENANT_RE.fullmatch(tenant) is None:
        raise TopicError(f"tenant id {tenant!r} is not a slug [a-z0-9-]{{1,32}}")
    return tenant


def validate_robot(robot: str) -> str:
    """Robot ids are UUIDs in lowercase canonical 8-4-4-4-12 text."""
    if not isinstance(robot, str) or _ROBOT_RE.fullmatch(robot) is None:
        raise TopicError(f"robot id {robot!r} is not a lowercase canonical UUID")
    return robot


@dataclass(frozen=True, slots=True)
class Topic:
    """One concrete (never wildcard) protocol topic."""

    tenant: str
    robot: str
    kind: TopicKind
    robot_id: uuid.UUID = field(init=False, repr=False, compare=False)
    """The robot as a UUID, parsed once (the ingest asks for it many times a message)."""

    def __post_init__(self) -> None:
        validate_tenant(self.tenant)
        validate_robot(self.robot)
        if not isinstance(self.kind, TopicKind):
            raise TopicError(f"topic kind {self.kind!r} is not a TopicKind")
        object.__setattr__(self, "robot_id", uuid.UUID(self.robot))

    @property
    def retained(self) -> bool:
        """Status and config are published retained; the rest are a stream."""
        return self.kind in (TopicKind.STATUS, TopicKind.CONFIG)

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{TOPIC_VERSION}/{self.tenant}/{self.robot}/{self.kind.value}"

    @classmethod
    def parse(cls, text: str) -> Topic:
        """Parse a topic as received; raises `TopicError` (BAD_TOPIC) unless it is ours."""
        if not isinstance(text, str) or len(text) > _MAX_TOPIC_CHARS:
            raise TopicError("topic is not a string of at most 128 characters")
        parts = text.split("/")
        if len(parts) != 5 or parts[0] != TOPIC_ROOT or parts[1] != TOPIC_VERSION:
            raise TopicError(f"topic {text!r} is not rc/v1/{{tenant}}/{{robot}}/{{kind}}")
        try:
            kind = TopicKind(parts[4])
        except ValueError:
            raise TopicError(f"unknown topic kind {parts[4]!r}") from None
        return cls(tenant=parts[2], robot=parts[3], kind=kind)


def topic_filter(kind: TopicKind, *, tenant: str | None = None, robot: str | None = None) -> str:
    """A subscription filter; an omitted tenant or robot becomes the ``+`` wildcard."""
    tenant_level = "+" if tenant is None else validate_tenant(tenant)
    robot_level = "+" if robot is None else validate_robot(robot)
    return f"{TOPIC_ROOT}/{TOPIC_VERSION}/{tenant_level}/{robot_level}/{TopicKind(kind).value}"


def shared_subscription(group: str, kind: TopicKind = TopicKind.TELEMETRY) -> str:
    """MQTT 5 shared subscription for a pool of ingest workers.

    ``$share/{group}/rc/v1/+/+/{kind}``: the broker hands each message to one member.
    """
    if not isinstance(group, str) or _GROUP_RE.fullmatch(group) is None:
        raise TopicError(f"share group {group!r} is not 1-32 of [A-Za-z0-9_-]", ErrorCode.BAD_TOPIC)
    return f"$share/{group}/{topic_filter(kind)}"
