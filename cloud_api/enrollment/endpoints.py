"""POST /v1/enrollments: a robot trades its one-time token and public key for its identity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from cloud_api.broker_accounts import BrokerAccounts, robot_client_id
from cloud_api.enrollment import service
from cloud_api.enrollment.schemas import EnrollmentRequest, EnrollmentResponse
from cloud_api.sessions import SessionDep

router = APIRouter(prefix="/v1/enrollments", tags=["enrollment"])


def get_accounts(request: Request) -> service.RobotAccounts:
    return BrokerAccounts(request.app.state.settings)


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
