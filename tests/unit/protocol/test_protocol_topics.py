from __future__ import annotations

import uuid

import pytest

from firmware_protocol import ErrorCode, Topic, TopicError, TopicKind
from firmware_protocol.topics import shared_subscription, topic_filter

ROBOT = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def test_format_and_parse_round_trip() -> None:
    topic = Topic("acme-logistics", ROBOT, TopicKind.TELEMETRY)
    text = str(topic)
    assert text == f"rc/v1/acme-logistics/{ROBOT}/telemetry"
    assert Topic.parse(text) == topic
    assert topic.robot_id == uuid.UUID(ROBOT)
    assert not topic.retained


@pytest.mark.parametrize("kind", list(TopicKind))
def test_every_kind_parses(kind: TopicKind) -> None:
    topic = Topic.parse(f"rc/v1/t1/{ROBOT}/{kind.value}")
    assert topic.kind is kind
    assert topic.retained == (kind in (TopicKind.STATUS, TopicKind.CONFIG))


@pytest.mark.parametrize(
    "text",
    [
        f"rc/v2/t1/{ROBOT}/telemetry",
        f"xx/v1/t1/{ROBOT}/telemetry",
        f"rc/v1/t1/{ROBOT}/selfies",
        f"rc/v1/t1/{ROBOT}/telemetry/extra",
        f"rc/v1/+/{ROBOT}/telemetry",
        f"rc/v1/#/{ROBOT}/telemetry",
        f"rc/v1/T1/{ROBOT}/telemetry",
        f"rc/v1/-t1/{ROBOT}/telemetry",
        f"rc/v1/{'a' * 33}/{ROBOT}/telemetry",
        f"rc/v1/t1/{ROBOT.upper()}/telemetry",
        "rc/v1/t1/not-a-uuid/telemetry",
        "rc/v1/t1/+/telemetry",
        "",
        "x" * 200,
    ],
)
def test_bad_topics_are_refused(text: str) -> None:
    with pytest.raises(TopicError) as caught:
        Topic.parse(text)
    assert caught.value.code is ErrorCode.BAD_TOPIC


def test_constructor_validates() -> None:
    with pytest.raises(TopicError):
        Topic("ok", ROBOT, "telemetry")  # type: ignore[arg-type]
    with pytest.raises(TopicError):
        Topic("$sys", ROBOT, TopicKind.ACK)


def test_filters() -> None:
    assert topic_filter(TopicKind.EVENTS) == "rc/v1/+/+/events"
    assert topic_filter(TopicKind.CONFIG, tenant="t1", robot=ROBOT) == f"rc/v1/t1/{ROBOT}/config"
    assert shared_subscription("ingest") == "$share/ingest/rc/v1/+/+/telemetry"
    assert shared_subscription("ingest", TopicKind.STATUS) == "$share/ingest/rc/v1/+/+/status"
    with pytest.raises(TopicError):
        shared_subscription("in/gest")
    with pytest.raises(TopicError):
        topic_filter(TopicKind.ACK, tenant="+")
