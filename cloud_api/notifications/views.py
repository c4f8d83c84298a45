"""Subscriptions and deliveries as the API shows them (never a subscription's secret); a page
of either looks up what its rows refer to in one query, not one per row."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cloud_api.notifications import repository
from cloud_api.notifications.schemas import DeliveryOut, EventType, SubscriptionOut
from database.models import Channel, DeliveryStatus, NotificationDelivery, WebhookSubscription


def subscription_out(session: Session, row: WebhookSubscription) -> SubscriptionOut:
    return subscriptions_out(session, [row])[0]


def subscriptions_out(
    session: Session, rows: Sequence[WebhookSubscription]
) -> list[SubscriptionOut]:
    if not rows:
        return []
    slugs = repository.tenant_slugs(session, {row.tenant_id for row in rows})
    return [
        SubscriptionOut(
            id=row.id,
            tenant=slugs[row.tenant_id],
            url=row.url,
            event_types=[EventType(e) for e in row.event_types],
            active=row.active,
            created_at=row.created_at,
        )
        for row in rows
    ]


def delivery_out(session: Session, row: NotificationDelivery) -> DeliveryOut:
    return deliveries_out(session, [row])[0]


def deliveries_out(session: Session, rows: Sequence[NotificationDelivery]) -> list[DeliveryOut]:
    if not rows:
        return []
    events = repository.event_types(session, {row.notification_id for row in rows})
    return [
        DeliveryOut(
            id=row.id,
            notification_id=row.notification_id,
            event_type=EventType(events[row.notification_id]),  # a foreign key: always there
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
        for row in rows
    ]
