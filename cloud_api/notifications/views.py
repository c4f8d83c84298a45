"""Subscriptions and deliveries as the API shows them (never a subscription's secret)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cloud_api.notifications import repository
from cloud_api.notifications.schemas import DeliveryOut, EventType, SubscriptionOut
from database.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    WebhookSubscription,
)


def subscription_out(session: Session, row: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=row.id,
        tenant=repository.tenant_slug(session, row.tenant_id),
        url=row.url,
        event_types=[EventType(e) for e in row.event_types],
        active=row.active,
        created_at=row.created_at,
    )


def delivery_out(session: Session, row: NotificationDelivery) -> DeliveryOut:
    notification = session.get(Notification, row.notification_id)
    assert notification is not None  # noqa: S101 - a foreign key
    return DeliveryOut(
        id=row.id,
        notification_id=row.notification_id,
        event_type=EventType(notification.event_type),
        channel=Channel(row.channel),
        recipient=row.recipient,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        replays=row.replays,
    )
