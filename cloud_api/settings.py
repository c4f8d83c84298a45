"""Settings of the API deployable (`robocover api`): the cloud's shared settings plus its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from cloud_api.domains import DOMAINS, Domain, parse_domains
from database.settings import CLOUD_SECRET_FILES, CloudSettings

API_SECRET_FILES = {  # field: file in SECRETS_DIR, written once by scripts/services-up.sh
    "mqtt_admin_password": "mqtt_admin_password",
    "cursor_secret": "api_cursor_secret",
    "jwt_signing_key": "api_jwt_signing_key",
    "jwt_key_id": "api_jwt_key_id",
}


class RetiredJwtKey(BaseModel):
    """A signing key taken out of service: its tokens are accepted until they expire."""

    kid: str = Field(min_length=1, max_length=128)
    public_pem: str = Field(description="EC P-256 public key, SubjectPublicKeyInfo PEM.")


class ApiSettings(CloudSettings):
    """`robocover api`: the insurer API and the robots' enrollment endpoint."""

    # The cloud's broker account and the API's own secrets, each from its file in SECRETS_DIR
    # when the environment does not give it (CloudSettings' secret-files source reads them).
    secret_files: ClassVar[dict[str, str]] = {**CLOUD_SECRET_FILES, **API_SECRET_FILES}

    mqtt_admin_username: str = Field(
        default="admin", description="Broker admin (dynamic security) that creates robot accounts."
    )
    mqtt_admin_password: SecretStr | None = Field(default=None, description="Never logged.")
    api_host: str = Field(default="127.0.0.1", description="Where `robocover api` listens.")
    api_port: int = Field(default=8000, ge=1, le=65_535)
    api_domains: Annotated[tuple[Domain, ...], NoDecode] = Field(
        default=DOMAINS,
        description="The domains this process serves, comma-separated (`all`: every one); "
        "the probes and /metrics are always served. See docs/gateway.md.",
    )
    api_forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        pattern=r"^[0-9A-Fa-f.:/,* ]+$",
        description="The proxies (the gateway) whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed: comma-separated addresses or networks, or *.",
    )
    cursor_secret: SecretStr = Field(
        min_length=32,
        description="Signs pagination cursors (32 characters or more). No default; never logged.",
    )
    processor_webhook_secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Verifies the payment processor's webhooks; without it they are refused (503).",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Connections the API keeps open: sync endpoints run on a pool of 40 threads, "
        "and a request waiting for a connection waits for another request to end.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="The largest request body read; a larger one is refused with 413 before "
        "it is held in memory.",
    )
    evidence_before_s: int = Field(
        default=86_400,
        ge=60,
        le=30 * 86_400,
        description="A claim's telemetry evidence starts this long before the time of loss.",
    )
    evidence_after_s: int = Field(
        default=3_600,
        ge=60,
        le=7 * 86_400,
        description="A claim's telemetry evidence ends this long after the time of loss.",
    )
    attachments_dir: Path = Field(
        default=Path("/var/lib/robocover/attachments"),
        description="Where claim attachments are kept (the local attachment store).",
    )
    attachment_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        le=64 * 1024 * 1024,
        description="The largest attachment (the API's body limit applies first).",
    )
    late_report_days: int = Field(
        default=14, ge=1, le=3_650, description="A loss reported later than this is flagged."
    )
    rate_limit_read: str = Field(default="300/minute", description="Per principal, reads.")
    rate_limit_write: str = Field(default="60/minute", description="Per principal, writes.")
    rate_limit_auth: str = Field(
        default="10/minute", description="Per client address, sign-in and token refresh."
    )
    jwt_signing_key: SecretStr = Field(
        description="Signs access tokens: EC P-256, PKCS#8 PEM (ES256). No default; never logged."
    )
    jwt_key_id: str = Field(
        min_length=1, max_length=128, description="The signing key's id (the tokens' kid)."
    )
    jwt_retired_public_keys: list[RetiredJwtKey] = Field(
        default_factory=list,
        description="Public keys of retired signing keys, as JSON [{kid, public_pem}], so tokens "
        "signed before a rotation stay valid until they expire.",
    )
    jwt_issuer: str = Field(default="robocover", min_length=1, description="The tokens' iss.")
    jwt_audience: str = Field(
        default="robocover-insurer-api", min_length=1, description="The tokens' aud."
    )
    access_token_ttl_s: int = Field(default=600, ge=60, le=3600, description="Access token life.")
    refresh_token_ttl_s: int = Field(
        default=14 * 24 * 3600, ge=3600, le=90 * 24 * 3600, description="Refresh token life."
    )
    sign_in_free_failures: int = Field(
        default=3, ge=0, le=20, description="Failed sign-ins of one email before backoff starts."
    )
    sign_in_lock_after: int = Field(
        default=10, ge=2, le=100, description="Failures within the window that lock the email."
    )
    sign_in_lock_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a lock (and the window) lasts."
    )
    enrollment_token_ttl_s: int = Field(
        default=24 * 3600, ge=60, le=30 * 24 * 3600, description="Life of a one-time token."
    )

    @field_validator("api_domains", mode="before")
    @classmethod
    def _domains(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_domains(value)
        if isinstance(value, Sequence):
            return parse_domains(",".join(str(name) for name in value))
        return value


class JobSettings(CloudSettings):
    """`robocover jobs`: the Celery worker (and beat) of the insurer's daily jobs."""

    daily_minute: int = Field(
        default=5, ge=0, le=49, description="Minute past 00:00 UTC the daily jobs start."
    )
    processor_url: str | None = Field(
        default=None, description="The payment processor's API; card payments wait without it."
    )
    processor_api_key: SecretStr | None = Field(default=None, description="Never logged.")
    processor_timeout_s: float = Field(default=10.0, gt=0, le=60)
    charge_seconds: float = Field(default=30.0, gt=0, description="Period of the charge job.")
    invoice_due_notice_days: int = Field(
        default=7, ge=0, le=60, description="Days ahead of its due date an invoice is told."
    )
    delivery_seconds: float = Field(
        default=15.0, gt=0, description="Period of the notification delivery job."
    )
    delivery_max_attempts: int = Field(
        default=8, ge=1, le=30, description="Tries of a delivery before it is dead-lettered."
    )
    delivery_backoff_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Wait after a first failed try; doubles after each.",
    )
    delivery_backoff_max_s: float = Field(default=6 * 3600, gt=0, le=86_400)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    robot_offline_after_s: float = Field(
        default=3600.0, gt=0, description="A robot offline this long is told to its tenant."
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Send webhooks to loopback and private addresses (tests, on-premises).",
    )
    smtp_host: str | None = Field(
        default=None, description="The SMTP relay; emails are dead-lettered without it."
    )
    smtp_port: int = Field(default=25, ge=1, le=65_535)
    smtp_from: str = Field(default="robocover@localhost", max_length=254)
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=60)
    metrics_host: str = Field(
        default="127.0.0.1", description="Where the worker serves /metrics (docs/operations.md)."
    )
    metrics_port: int = Field(
        default=9465,
        ge=0,
        le=65_535,
        description="The worker's /metrics port; 0: not served. Each worker on a host needs a "
        "port of its own.",
    )
