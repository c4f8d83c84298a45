"""Queries of the notifications domain. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Select, String, cast, func, select, update
from sqlalchemy.orm import Session

from database.models import (
    Notification,
    NotificationDelivery,
    ReviewCase,
    Robot,
    Tenant,
    User,
    WebhookSubscription,
)


def readable(statement: Select[Any], entity: Any, tenant: str | None) -> Any:
    """``statement`` kept to ``tenant``'s rows (a slug), or every tenant's (staff)."""
    joined = statement.join(Tenant, Tenant.id == entity.tenant_id)
    return joined if tenant is None else joined.where(Tenant.slug == tenant)


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def tenant_slugs(session: Session, tenant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The tenants' slugs, in one query for a page of subscriptions."""
    rows = session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids)))
    return {tenant_id: slug for tenant_id, slug in rows}


def event_types(session: Session, notification_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The notifications' event types, in one query for a page of deliveries."""
    rows = session.execute(
        select(Notification.id, Notification.event_type).where(
            Notification.id.in_(notification_ids)
        )
    )
    return {notification_id: event_type for notification_id, event_type in rows}


def subscriptions() -> Select[tuple[WebhookSubscription]]:
    return select(WebhookSubscription)


def subscription(
    session: Session, subscription_id: uuid.UUID, tenant: str | None
) -> WebhookSubscription | None:
    statement = readable(
        select(WebhookSubscription).where(WebhookSubscription.id == subscription_id),
        WebhookSubscription,
        tenant,
    )
    found: WebhookSubscription | None = session.scalar(statement)
    return found


def subscribed(
    session: Session, tenant_id: uuid.UUID, event_type: str
) -> list[WebhookSubscription]:
    return list(
        session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.tenant_id == tenant_id,
                WebhookSubscription.active.is_(True),
                WebhookSubscription.event_types.contains([event_type]),
            )
        )
    )


def policyholder_emails(session: Session, tenant_id: uuid.UUID) -> list[str]:
    return list(
        session.scalars(
            select(User.email)
            .where(
                User.tenant_id == tenant_id,
                User.role == "policyholder",
                User.disabled_at.is_(None),
            )
            .order_by(User.email)
        )
    )


def add(session: Session, row: Notification | NotificationDelivery | WebhookSubscription) -> None:
    session.add(row)
    session.flush()


def deliveries() -> Select[tuple[NotificationDelivery]]:
    return select(NotificationDelivery)


def delivery(
    session: Session, delivery_id: uuid.UUID, tenant: str | None, *, for_update: bool = False
) -> NotificationDelivery | None:
    statement = readable(
        select(NotificationDelivery).where(NotificationDelivery.id == delivery_id),
        NotificationDelivery,
        tenant,
    )
    if for_update:
        statement = statement.with_for_update(of=NotificationDelivery)
    found: NotificationDelivery | None = session.scalar(statement)
    return found


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int) -> list[Any]:
    """The due deliveries, locked past other workers (SKIP LOCKED) and leased: their next
    attempt moves ``lease`` ahead, so a worker that dies while sending leaves them due again
    then. Returns what sending needs: the delivery, its notification and its secret."""
    due = list(
        session.scalars(
            select(NotificationDelivery)
            .where(
                NotificationDelivery.status == "pending",
                NotificationDelivery.next_attempt_at <= now,
            )
            .order_by(NotificationDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in due:
        row.next_attempt_at = now + lease
    session.flush()
    if not due:
        return []
    return list(
        session.execute(
            select(NotificationDelivery, Notification, WebhookSubscription.secret, Tenant.slug)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .join(Tenant, Tenant.id == NotificationDelivery.tenant_id)
            .outerjoin(
                WebhookSubscription,
                WebhookSubscription.id == NotificationDelivery.subscription_id,
            )
            .where(NotificationDelivery.id.in_([d.id for d in due]))
        )
    )


def absence_key(robot_id: uuid.UUID, last_seen_at: datetime) -> str:
    """The subject of a robot's absence: the robot and when it was last seen."""
    return f"{robot_id}@{int(last_seen_at.timestamp())}"


def offline_robots(session: Session, seen_before: datetime, limit: int) -> list[Any]:
    """Enrolled robots offline whose last sign of life is older than ``seen_before`` and whose
    absence no notification has told yet (so the robots told long ago never crowd out a new
    absence)."""
    return list(session.execute(offline_robots_query(seen_before, limit)))


def offline_robots_query(
    seen_before: datetime, limit: int
) -> Select[uuid.UUID, uuid.UUID, str, datetime | None]:
    """offline_robots' statement: whether an absence was told is looked up by the
    notifications' (event_type, subject_id) index."""
    key = func.concat(
        cast(Robot.id, String),
        "@",
        cast(func.floor(func.extract("epoch", Robot.last_seen_at)), BigInteger),
    )
    told_already = (
        select(Notification.id)
        .where(Notification.event_type == "robot_offline", Notification.subject_id == key)
        .exists()
    )
    return (
        select(Robot.id, Robot.tenant_id, Robot.serial_number, Robot.last_seen_at)
        .where(
            Robot.status.in_(("active", "suspended")),
            Robot.online.is_(False),
            Robot.last_seen_at.is_not(None),
            Robot.last_seen_at < seen_before,
            ~told_already,
        )
        .order_by(Robot.last_seen_at)
        .limit(limit)
    )


def tamper_cases_untold(session: Session, limit: int) -> list[Any]:
    """Tamper review cases no notification has told of yet."""
    told_ids = select(Notification.subject_id).where(
        Notification.event_type == "tamper_case_opened"
    )
    return list(
        session.execute(
            select(
                ReviewCase.id,
                ReviewCase.robot_id,
                ReviewCase.reason,
                ReviewCase.opened_at,
                Robot.tenant_id,
                Robot.serial_number,
            )
            .join(Robot, Robot.id == ReviewCase.robot_id)
            .where(
                ReviewCase.category == "tamper",
                cast(ReviewCase.id, String).not_in(told_ids),
            )
            .order_by(ReviewCase.id)
            .limit(limit)
        )
    )


def active_subscription_to(
    session: Session, tenant_id: uuid.UUID, url: str
) -> WebhookSubscription | None:
    found: WebhookSubscription | None = session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.tenant_id == tenant_id,
            WebhookSubscription.url == url,
            WebhookSubscription.active.is_(True),
        )
    )
    return found


def drop_pending(session: Session, subscription_id: uuid.UUID, why: str) -> None:
    """The subscription's deliveries not yet made are not made: dead, with why."""
    session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.subscription_id == subscription_id,
            NotificationDelivery.status == "pending",
        )
        .values(status="dead", last_error=why)
    )
