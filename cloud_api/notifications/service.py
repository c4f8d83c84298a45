"""Notifications: the outbox every domain writes to, the tenants' webhook subscriptions, the
delivery log and replays. Services never commit: a notification is recorded in the transaction
of the change it tells of, so it is sent if and only if that change commits.

Rules:
* A policyholder manages its own tenant's subscriptions; staff name the tenant. A subscription's
  secret is made here (32 random bytes) and shown once, when it is made.
* A notification makes one delivery per active subscription of its tenant to its event type,
  and one per active policyholder user of the tenant by email.
* A dead or delivered delivery can be replayed: it is due again, with its tries reset and its
  id kept (a receiver that already processed it recognises it).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.errors import ConflictError, NotFoundError, UnprocessableError
from cloud_api.notifications import repository
from cloud_api.notifications.schemas import EventType, SubscriptionCreate
from database.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    WebhookSubscription,
)


def notify(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    event: EventType,
    subject: tuple[str, object],
    payload: Mapping[str, Any],
    now: datetime,
) -> Notification:
    """Record that ``event`` happened to ``subject`` (type, id), and its deliveries."""
    notification = Notification(
        tenant_id=tenant_id,
        event_type=event.value,
        subject_type=subject[0],
        subject_id=str(subject[1]),
        payload=dict(payload),
        created_at=now,
    )
    repository.add(session, notification)
    targets = {
        (Channel.WEBHOOK, s.url): s.id
        for s in repository.subscribed(session, tenant_id, event.value)
    } | {(Channel.EMAIL, e): None for e in repository.policyholder_emails(session, tenant_id)}
    for (channel, recipient), subscription_id in targets.items():  # one delivery per recipient
        repository.add(
            session,
            NotificationDelivery(
                notification_id=notification.id,
                tenant_id=tenant_id,
                channel=channel.value,
                subscription_id=subscription_id,
                recipient=recipient,
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                created_at=now,
            ),
        )
    return notification


def subscribe(
    session: Session, principal: Principal, body: SubscriptionCreate
) -> tuple[WebhookSubscription, str]:
    scope = tenant_scope(principal)
    wanted = body.tenant if body.tenant is not None else scope
    if wanted is None:
        raise UnprocessableError("staff name the tenant to subscribe for")
    tenant = repository.tenant_by_slug(session, wanted)
    if tenant is None or (scope is not None and wanted != scope):
        raise NotFoundError(f"no tenant {wanted!r}")
    if repository.active_subscription_to(session, tenant.id, str(body.url)) is not None:
        raise ConflictError("the tenant has an active subscription to this URL: change that one")
    secret = "whsec_" + secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        tenant_id=tenant.id,
        url=str(body.url),
        event_types=[e.value for e in body.event_types],
        secret=secret,
        created_by=f"{principal.role}:{principal.id}",
    )
    repository.add(session, subscription)
    audit.record(
        session,
        principal,
        "notifications:subscribe",
        target_type="webhook_subscription",
        target_id=subscription.id,
        tenant_id=tenant.id,
        detail={"url": subscription.url, "event_types": subscription.event_types},
    )
    return subscription, secret


def unsubscribe(session: Session, principal: Principal, subscription_id: uuid.UUID) -> None:
    found = repository.subscription(session, subscription_id, tenant_scope(principal))
    if found is None:
        raise NotFoundError(f"no webhook subscription {subscription_id}")
    found.active = False
    repository.drop_pending(session, found.id, "the subscription was stopped")
    audit.record(
        session,
        principal,
        "notifications:unsubscribe",
        target_type="webhook_subscription",
        target_id=found.id,
        tenant_id=found.tenant_id,
    )


def replay(
    session: Session, principal: Principal, delivery_id: uuid.UUID, now: datetime
) -> NotificationDelivery:
    found = repository.delivery(session, delivery_id, tenant_scope(principal), for_update=True)
    if found is None:
        raise NotFoundError(f"no delivery {delivery_id}")
    if found.status == DeliveryStatus.PENDING:
        raise ConflictError("the delivery is still being tried: nothing to replay")
    found.status = DeliveryStatus.PENDING.value
    found.attempts, found.next_attempt_at = 0, now
    found.replays += 1
    audit.record(
        session,
        principal,
        "notifications:replay",
        target_type="notification_delivery",
        target_id=found.id,
        tenant_id=found.tenant_id,
    )
    return found
