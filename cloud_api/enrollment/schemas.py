"""Request and response bodies of the enrollment endpoint."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _ed25519_public_key(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("public_key is not base64") from None
    if len(raw) != 32:
        raise ValueError("public_key must be 32 bytes (an Ed25519 public key)")
    return text


class EnrollmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200)
    public_key: Annotated[str, AfterValidator(_ed25519_public_key)] = Field(
        description="The robot's Ed25519 public key, base64 (32 bytes)."
    )

    @property
    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key)


class EnrollmentResponse(BaseModel):
    robot_id: uuid.UUID
    tenant: str
    mqtt_username: str
    mqtt_password: str = Field(description="Shown once; the cloud does not keep it.")
    mqtt_client_id: str = Field(
        description="The client id the broker binds the account to: connect with it, or be refused."
    )
