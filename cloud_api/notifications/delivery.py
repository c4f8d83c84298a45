"""Sending the due deliveries: each claimed in a short transaction (locked past other workers
and leased), sent outside any transaction, and its outcome recorded in another. A failed try
waits ``backoff * 2^(tries - 1)`` (capped, with up to a quarter more at random, so retries of
many deliveries do not arrive together); the last failed try dead-letters the delivery. A
worker that dies while sending leaves its deliveries due again when their lease ends: a
delivery may then be sent twice, under the same delivery id, which is what receivers
deduplicate on (at least once, and idempotent by id)."""

from __future__ import annotations

import ipaddress
import random
import smtplib
import socket
import string
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cloud_api.notifications import repository, signing
from cloud_api.notifications.events import SUBJECTS
from cloud_api.notifications.schemas import EventType
from database.models import DeliveryStatus, NotificationDelivery

MAX_ERROR = 500


@dataclass(frozen=True)
class DeliveryRules:
    max_attempts: int = 8
    backoff_s: float = 30.0
    backoff_max_s: float = 6 * 3600
    timeout_s: float = 10.0
    allow_private_targets: bool = False
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "robocover@localhost"

    def lease(self, batch: int) -> timedelta:
        """How long a claimed batch is ours: every send of it timing out, and a margin."""
        return timedelta(seconds=batch * self.timeout_s + 30)

    def wait(self, attempts: int) -> timedelta:
        base = min(self.backoff_s * 2 ** (attempts - 1), self.backoff_max_s)
        return timedelta(seconds=base * (1 + random.random() / 4))  # noqa: S311 - jitter


@dataclass(frozen=True)
class Outgoing:
    """What sending a delivery needs, read before its claim's transaction ends."""

    delivery_id: uuid.UUID
    channel: str
    recipient: str
    secret: str | None
    event_type: str
    body: bytes
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def _outgoing(row: Any) -> Outgoing:
    delivery, notification, secret, tenant = row
    document = {
        "delivery_id": delivery.id,
        "event": notification.event_type,
        "notification_id": notification.id,
        "tenant": tenant,
        "subject": {"type": notification.subject_type, "id": notification.subject_id},
        "created_at": notification.created_at,
        "data": notification.payload,
    }
    return Outgoing(
        delivery_id=delivery.id,
        channel=delivery.channel,
        recipient=delivery.recipient,
        secret=secret,
        event_type=notification.event_type,
        body=orjson.dumps(document),
        payload=notification.payload,
    )


@dataclass(frozen=True)
class Pinned:
    """A webhook's URL with its host resolved once and checked: the request goes to the
    address checked, the name kept for the Host header and for TLS (SNI and the certificate's
    name), so a name that answers otherwise when asked again (DNS rebinding) is never asked
    again."""

    url: str
    name: str
    host_header: str


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global


def _pin(url: str) -> Pinned | str:
    """The URL pinned to its host's checked address, or why it may not be called (the host
    does not resolve, or one of its addresses is loopback, private, link-local...)."""
    parsed = httpx.URL(url)
    name = parsed.raw_host.decode("ascii")
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError as error:
        return f"the host {name!r} does not resolve: {error}"
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for ip in addresses:
        if not _is_public(ip):
            return f"the host {name!r} is a non-public address ({ip})"
    if not addresses:
        return f"the host {name!r} has no address"
    pinned = parsed.copy_with(host=str(addresses[0]))
    return Pinned(str(pinned), name, parsed.netloc.decode("ascii"))


def send_webhook(client: httpx.Client, out: Outgoing, rules: DeliveryRules) -> Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "robocover-notifications/1",
        "Robocover-Delivery": str(out.delivery_id),
        "Robocover-Event": out.event_type,
        signing.HEADER: signing.signature(out.secret or "", int(time.time()), out.body),
    }
    url, extensions = out.recipient, {}
    if not rules.allow_private_targets:
        pinned = _pin(out.recipient)
        if isinstance(pinned, str):
            return Outcome(False, error=pinned)
        url, extensions = pinned.url, {"sni_hostname": pinned.name}
        headers["Host"] = pinned.host_header
        # A connection is to one name's checked address: never kept for another name's request
        # that happens to be pinned to the same address (its TLS was checked for this name).
        headers["Connection"] = "close"
    try:  # the status line is the answer: the body is never read (a receiver cannot stall us)
        with client.stream(
            "POST", url, content=out.body, headers=headers, extensions=extensions
        ) as response:
            code = response.status_code
    except httpx.TimeoutException:
        return Outcome(False, error=f"no answer within {rules.timeout_s:g} s")
    except httpx.HTTPError as error:
        return Outcome(False, error=f"{type(error).__name__}: {error}"[:MAX_ERROR])
    if 200 <= code < 300:
        return Outcome(True, code)
    return Outcome(False, code, f"HTTP {code}")


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        return " ".join(str(value).split())[:120]  # one line: no header injection


def email_of(out: Outgoing, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, out.recipient
    template = SUBJECTS.get(EventType(out.event_type), out.event_type)
    message["Subject"] = string.Formatter().vformat(template, (), _Fields(out.payload))
    message["Robocover-Delivery"] = str(out.delivery_id)
    lines = [f"{key}: {value}" for key, value in sorted(out.payload.items())]
    message.set_content(
        f"{message['Subject']}.\n\n" + "\n".join(lines) + f"\n\nDelivery {out.delivery_id}\n"
    )
    return message


def send_email(out: Outgoing, rules: DeliveryRules) -> Outcome:
    if rules.smtp_host is None:
        return Outcome(False, error="no SMTP relay is configured (ROBOCOVER_SMTP_HOST)")
    try:
        message = email_of(out, rules.smtp_from)
        with smtplib.SMTP(rules.smtp_host, rules.smtp_port, timeout=rules.timeout_s) as smtp:
            smtp.send_message(message)
    except Exception as error:
        return Outcome(False, error=f"{type(error).__name__}: {error}"[:MAX_ERROR])
    return Outcome(True)


def record(
    session: Session, delivery_id: uuid.UUID, outcome: Outcome, now: datetime, rules: DeliveryRules
) -> str:
    """The try's outcome on the delivery; returns its status after it."""
    row = session.scalar(
        select(NotificationDelivery).where(NotificationDelivery.id == delivery_id).with_for_update()
    )
    if row is None or row.status != DeliveryStatus.PENDING:
        return "skipped"  # replayed or settled meanwhile
    row.attempts += 1
    row.last_status_code, row.last_error = outcome.status_code, outcome.error
    if outcome.ok:
        row.status, row.delivered_at = DeliveryStatus.DELIVERED.value, now
    elif row.attempts >= rules.max_attempts or (rules.smtp_host is None and row.channel == "email"):
        row.status = DeliveryStatus.DEAD.value
    else:
        row.next_attempt_at = now + rules.wait(row.attempts)
    return row.status


def deliver_due(
    engine: Engine,
    rules: DeliveryRules,
    now: Callable[[], datetime],
    batch: int = 50,
) -> Counter[str]:
    """Send the deliveries due now, one batch; returns how many ended in each status."""
    with Session(engine) as session, session.begin():
        claimed = repository.claim_due(session, now(), rules.lease(batch), batch)
        due = [_outgoing(row) for row in claimed]
    outcomes: Counter[str] = Counter()
    with httpx.Client(timeout=rules.timeout_s, follow_redirects=False) as client:
        for out in due:
            if out.channel == "webhook":
                outcome = send_webhook(client, out, rules)
            else:
                outcome = send_email(out, rules)
            with Session(engine) as session, session.begin():
                outcomes[record(session, out.delivery_id, outcome, now(), rules)] += 1
    return outcomes
