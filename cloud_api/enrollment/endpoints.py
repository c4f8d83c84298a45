"""POST /v1/enrollments: a robot trades its one-time token and public key for its identity."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.orm import Session

from cloud_api.enrollment import service
from cloud_api.enrollment.broker_accounts import DynsecAdmin, MqttCredentials, robot_client_id
from cloud_api.enrollment.schemas import EnrollmentRequest, EnrollmentResponse
from cloud_api.errors import ServiceUnavailableError
from cloud_api.settings import ApiSettings

router = APIRouter(prefix="/v1/enrollments", tags=["enrollment"])


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the endpoint returns, rolled back otherwise."""
    with Session(request.app.state.engine) as session, session.begin():
        yield session


class BrokerAccounts:
    """Robot accounts through the broker's dynamic security plugin, one admin connection each."""

    def __init__(self, settings: ApiSettings) -> None:
        self._settings = settings

    def ensure_robot(
        self, tenant: str, robot_id: uuid.UUID, rotation: int | None = None
    ) -> MqttCredentials:
        settings = self._settings
        if settings.mqtt_admin_password is None:
            raise ServiceUnavailableError("no broker admin password is configured")
        with DynsecAdmin(
            host=settings.mqtt_url.host or "127.0.0.1",
            port=settings.mqtt_url.port or 1883,
            username=settings.mqtt_admin_username,
            password=settings.mqtt_admin_password.get_secret_value(),
        ) as admin:
            return admin.ensure_robot(tenant, robot_id, rotation)


def get_accounts(request: Request) -> service.RobotAccounts:
    return BrokerAccounts(request.app.state.settings)


SessionDep = Annotated[Session, Depends(get_session)]
AccountsDep = Annotated[service.RobotAccounts, Depends(get_accounts)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_enrollment(
    body: EnrollmentRequest, session: SessionDep, accounts: AccountsDep
) -> EnrollmentResponse:
    enrollment = service.enroll(
        session,
        accounts,
        token=body.token,
        public_key=body.public_key_bytes,
        now=datetime.now(UTC),
    )
    return EnrollmentResponse(
        robot_id=enrollment.robot_id,
        tenant=enrollment.tenant,
        mqtt_username=enrollment.credentials.username,
        mqtt_password=enrollment.credentials.password,
        mqtt_client_id=robot_client_id(enrollment.robot_id),
    )
