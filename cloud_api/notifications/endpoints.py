"""/v1/notifications: a tenant's webhook subscriptions, its delivery log, and replays of dead
or delivered deliveries. Thin: each route authorizes, calls one service function and shows the
result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.conventions import (
    Filter,
    IdempotencyDep,
    Listing,
    ListParams,
    ListQuery,
    Page,
    paginate,
)
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.notifications import repository, service, views
from cloud_api.notifications.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
)
from cloud_api.sessions import SessionDep
from database.models import (
    Channel,
    DeliveryStatus,
    NotificationDelivery,
    WebhookSubscription,
)

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

SUBSCRIPTIONS = Listing(
    resource="webhook_subscriptions",
    sort_keys={"created_at": WebhookSubscription.created_at},
    tie_breaker=WebhookSubscription.id,
    default_sort="created_at",
    filters={},
)
DELIVERIES = Listing(
    resource="deliveries",
    sort_keys={"created_at": NotificationDelivery.created_at},
    tie_breaker=NotificationDelivery.id,
    default_sort="created_at",
    filters={
        "status": Filter(NotificationDelivery.status, lambda v: DeliveryStatus(v).value),
        "channel": Filter(NotificationDelivery.channel, lambda v: Channel(v).value),
    },
)


@router.post(
    "/webhooks", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409, 422)
)
def create_subscription(
    *,
    body: SubscriptionCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.NOTIFICATIONS_MANAGE))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> SubscriptionCreated:
    """Subscribe a URL to event types. The answer carries the secret that signs every
    delivery, once: keep it (a lost secret means a new subscription)."""

    def write() -> SubscriptionCreated:
        row, secret = service.subscribe(session, principal, body)
        response.headers["Location"] = f"/v1/notifications/webhooks/{row.id}"
        shown = views.subscription_out(session, row)
        return SubscriptionCreated(**shown.model_dump(), secret=secret)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@router.get("/webhooks")
def list_subscriptions(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.NOTIFICATIONS_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(SUBSCRIPTIONS))],
) -> Page[SubscriptionOut]:
    statement = repository.readable(
        repository.subscriptions(), WebhookSubscription, tenant_scope(principal)
    )
    return paginate(session, statement, query).map_page(
        lambda s: views.subscriptions_out(session, s)
    )


@router.delete(
    "/webhooks/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
def delete_subscription(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.NOTIFICATIONS_MANAGE))],
    _: WriteLimit,
) -> Response:
    """Stop the subscription: no new delivery is made for it (its log stays)."""
    service.unsubscribe(session, principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/deliveries")
def list_deliveries(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.NOTIFICATIONS_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(DELIVERIES))],
) -> Page[DeliveryOut]:
    """The delivery log: every try's outcome, by webhook and by email."""
    statement = repository.readable(
        repository.deliveries(), NotificationDelivery, tenant_scope(principal)
    )
    return paginate(session, statement, query).map_page(lambda d: views.deliveries_out(session, d))


@router.post("/deliveries/{delivery_id}/replay", responses=problem_responses(404, 409))
def replay_delivery(
    delivery_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.NOTIFICATIONS_MANAGE))],
    _: WriteLimit,
) -> DeliveryOut:
    """Send a dead (or delivered) delivery again, under the same delivery id."""
    row = service.replay(session, principal, delivery_id, datetime.now(UTC))
    return views.delivery_out(session, row)
