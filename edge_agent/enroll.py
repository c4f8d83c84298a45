"""`robocover-agent enroll`: trade a one-time token for the robot's identity.

The Ed25519 key is generated here, on the robot, and only its public half is sent; the cloud
answers with the robot id, the tenant and the robot's own MQTT account, stored 0600 in the state
directory. Standard library HTTP only: the agent extra carries no HTTP client.

An answer that says "not now" (503, 429, 502, 504: the broker busy or away, the gateway's limit)
or no answer at all is tried again with backoff (the Retry-After asked for, else 1, 2, 4 ... 30 s,
jittered) for up to `retry_for_s`; a refusal (401, 404, 409, 422) is final at once. Nothing is
committed by an enrollment that failed, so the same token and key are simply sent again.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from edge_agent.identity import (
    IDENTITY_FILE,
    Identity,
    load_or_create_signer,
    save_identity,
)

logger = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_MAX_S = 30.0


class EnrollmentError(RuntimeError):
    pass


class _TryAgainError(EnrollmentError):
    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the delta form; the date form is not used by robocover)."""
    try:
        return min(BACKOFF_MAX_S, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def check_cloud_url(cloud_url: str) -> None:
    """https:// only: the token, and the broker password that comes back, would travel in
    clear over http://. Plain http:// is allowed to a loopback address (a local test cloud)."""
    parts = urllib.parse.urlsplit(cloud_url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise EnrollmentError(
        f"the cloud URL must be https:// (http:// only to a loopback address): {cloud_url!r}"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def enroll(
    *,
    cloud_url: str,
    token: str,
    state_dir: Path,
    timeout_s: float = 30.0,
    retry_for_s: float = 300.0,
) -> Identity:
    check_cloud_url(cloud_url)
    if (state_dir / IDENTITY_FILE).exists():
        raise EnrollmentError(f"this robot is already enrolled ({state_dir / IDENTITY_FILE})")
    signer = load_or_create_signer(state_dir)
    body = json.dumps(
        {"token": token, "public_key": base64.b64encode(signer.public_key).decode()}
    ).encode()
    deadline, delay_s = time.monotonic() + retry_for_s, 1.0
    while True:
        try:
            answer = _post(cloud_url, body, timeout_s)
            break
        except _TryAgainError as exc:
            wait_s = exc.retry_after_s if exc.retry_after_s is not None else delay_s
            wait_s *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
            if time.monotonic() + wait_s > deadline:
                raise EnrollmentError(str(exc)) from None
            logger.warning("%s; trying again in %.1f s", exc, wait_s)
            time.sleep(wait_s)
            delay_s = min(BACKOFF_MAX_S, delay_s * 2)
    identity = Identity(
        robot_id=uuid.UUID(answer["robot_id"]),
        tenant=answer["tenant"],
        mqtt_username=answer["mqtt_username"],
        mqtt_password=answer["mqtt_password"],
        mqtt_client_id=answer.get("mqtt_client_id", ""),
    )
    save_identity(state_dir, identity)
    return identity


def _post(cloud_url: str, body: bytes, timeout_s: float) -> dict[str, str]:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the caller
        cloud_url.rstrip("/") + "/v1/enrollments",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            answer: dict[str, str] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        message = f"the cloud refused the enrollment ({exc.code}): {detail}"
        if exc.code in RETRIED_STATUSES:
            raise _TryAgainError(message, _retry_after(exc.headers.get("Retry-After"))) from None
        raise EnrollmentError(message) from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise _TryAgainError(f"cannot reach {cloud_url}: {exc}", None) from None
