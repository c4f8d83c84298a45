"""Notification deliveries on a database of their own, to a real local webhook receiver and a
real SMTP server (aiosmtpd): a receiver that fails, times out and answers slowly gets every
event once by delivery id, each signature verifying; a receiver that keeps failing dead-letters
the delivery after its last try, and a replay delivers it under the same id; emails arrive with
their subject; without an SMTP relay an email is dead-lettered with the reason."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlalchemy import Engine, create_engine, pool, select
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.notifications import service
from cloud_api.notifications.delivery import DeliveryRules, deliver_due
from cloud_api.notifications.schemas import EventType, SubscriptionCreate
from database.models import NotificationDelivery, Tenant, User
from database.settings import CloudSettings
from tests.support.api import principal
from tests.support.webhook_receiver import Receiver, serve_receiver

HOLDER = principal(Role.POLICYHOLDER, "acme")
FAST = DeliveryRules(
    max_attempts=4, backoff_s=0.01, backoff_max_s=0.05, timeout_s=0.5, allow_private_targets=True
)


@pytest.fixture
def engine(fresh_database: CloudSettings) -> Iterator[Engine]:
    made = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with Session(made) as session, session.begin():
        session.add(Tenant(slug="acme", name="Acme"))
    yield made
    made.dispose()


def tenant_id(session: Session) -> uuid.UUID:
    return session.scalars(select(Tenant.id).where(Tenant.slug == "acme")).one()


def subscribe(engine: Engine, url: str, events: list[EventType]) -> str:
    with Session(engine) as session, session.begin():
        body = SubscriptionCreate.model_validate({"url": url, "event_types": events})
        _, secret = service.subscribe(session, HOLDER, body)
    return secret


def told(engine: Engine, events: list[EventType]) -> None:
    with Session(engine) as session, session.begin():
        for n, event in enumerate(events):
            service.notify(
                session,
                tenant_id=tenant_id(session),
                event=event,
                subject=("claim", uuid.uuid4()),
                payload={"number": f"CL-2026-{n:06d}", "status": "triaged"},
                now=datetime.now(UTC),
            )


def deliveries(engine: Engine) -> list[NotificationDelivery]:
    with Session(engine) as session:
        return list(session.scalars(select(NotificationDelivery)))


def drain(engine: Engine, rules: DeliveryRules, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        deliver_due(engine, rules, lambda: datetime.now(UTC))
        if all(d.status != "pending" for d in deliveries(engine)):
            return
        time.sleep(0.02)
    raise AssertionError("deliveries still pending")


def test_a_failing_timing_out_slow_receiver_gets_every_event_once_by_delivery_id(
    engine: Engine,
) -> None:
    receiver = Receiver(secret="", script=["500", "timeout", "slow", "ok", "500", "slow"])
    with serve_receiver(receiver) as url:
        receiver.secret = subscribe(engine, url, [EventType.CLAIM_STATUS_CHANGED])
        subscribe(engine, url + "/other", [EventType.POLICY_ISSUED])  # not for these events
        told(engine, [EventType.CLAIM_STATUS_CHANGED] * 4)
        drain(engine, FAST)
    rows = deliveries(engine)
    assert len(rows) == 4
    assert {r.status for r in rows} == {"delivered"}
    assert set(receiver.processed) == {str(r.id) for r in rows}  # each id processed once
    assert receiver.bad_signatures == 0
    assert sum(receiver.requests.values()) > 4  # the failures were retried
    assert sum(r.attempts for r in rows) == sum(receiver.requests.values())
    retried = [r for r in rows if r.attempts > 1]
    assert retried
    assert {e["event"] for e in receiver.events} == {"claim_status_changed"}
    assert all(e["tenant"] == "acme" for e in receiver.events)


def test_a_dead_lettered_delivery_replays_under_its_id(engine: Engine) -> None:
    receiver = Receiver(secret="", always_fail=True)
    with serve_receiver(receiver) as url:
        receiver.secret = subscribe(engine, url, [EventType.PAYMENT_FAILED])
        told(engine, [EventType.PAYMENT_FAILED])
        drain(engine, FAST)
        (dead,) = deliveries(engine)
        assert (dead.status, dead.attempts, dead.last_status_code) == ("dead", 4, 500)
        assert dead.last_error == "HTTP 500"
        assert receiver.processed == {}
        receiver.always_fail = False
        with Session(engine) as session, session.begin():
            replayed = service.replay(session, HOLDER, dead.id, datetime.now(UTC))
            assert (replayed.status, replayed.attempts, replayed.replays) == ("pending", 0, 1)
        drain(engine, FAST)
    (row,) = deliveries(engine)
    assert (row.id, row.status, row.replays) == (dead.id, "delivered", 1)
    assert list(receiver.processed) == [str(dead.id)]


def test_a_webhook_to_a_private_address_is_refused_unless_allowed(engine: Engine) -> None:
    receiver = Receiver(secret="")
    with serve_receiver(receiver) as url:
        receiver.secret = subscribe(engine, url, [EventType.POLICY_ISSUED])
        told(engine, [EventType.POLICY_ISSUED])
        strict = DeliveryRules(max_attempts=1, backoff_s=0.01, timeout_s=0.5)
        drain(engine, strict)
    (row,) = deliveries(engine)
    assert row.status == "dead"
    assert row.last_error is not None
    assert "non-public address (127.0.0.1)" in row.last_error
    assert sum(receiver.requests.values()) == 0


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)


def test_emails_reach_the_tenants_policyholders_and_wait_for_no_relay(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        acme = tenant_id(session)
        for name, disabled in (("ops", None), ("gone", datetime.now(UTC))):
            session.add(
                User(
                    email=f"{name}@acme.test",
                    full_name=name,
                    role="policyholder",
                    tenant_id=acme,
                    password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                    disabled_at=disabled,
                )
            )
    told(engine, [EventType.LAPSE_WARNING])
    drain(engine, FAST)  # no relay configured: dead-lettered, with why
    (dead,) = deliveries(engine)
    assert (dead.channel, dead.recipient, dead.status) == ("email", "ops@acme.test", "dead")
    assert dead.last_error == "no SMTP relay is configured (ROBOCOVER_SMTP_HOST)"
    inbox = Inbox()
    with socket.socket() as probe:  # a free port: aiosmtpd checks its server by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        relay = DeliveryRules(
            max_attempts=2, backoff_s=0.01, timeout_s=2, smtp_host="127.0.0.1", smtp_port=port
        )
        with Session(engine) as session, session.begin():
            service.replay(session, HOLDER, dead.id, datetime.now(UTC))
        drain(engine, relay)
    finally:
        controller.stop()
    (row,) = deliveries(engine)
    assert row.status == "delivered"
    (message,) = inbox.messages
    assert message["To"] == "ops@acme.test"  # type: ignore[index]
    assert message["Robocover-Delivery"] == str(row.id)  # type: ignore[index]
    assert message["Subject"] == (  # type: ignore[index]
        "Invoice ? is overdue: pay it before the policy lapses"
    )
