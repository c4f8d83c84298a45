"""`robocover-agent enroll`: trade a one-time token for the robot's identity.

The Ed25519 key is generated here, on the robot, and only its public half is sent; the cloud
answers with the robot id, the tenant and the robot's own MQTT account, stored 0600 in the state
directory. Standard library HTTP only: the agent extra carries no HTTP client.
"""

from __future__ import annotations

import base64
import ipaddress
import json
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


class EnrollmentError(RuntimeError):
    pass


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


def enroll(*, cloud_url: str, token: str, state_dir: Path, timeout_s: float = 30.0) -> Identity:
    check_cloud_url(cloud_url)
    if (state_dir / IDENTITY_FILE).exists():
        raise EnrollmentError(f"this robot is already enrolled ({state_dir / IDENTITY_FILE})")
    signer = load_or_create_signer(state_dir)
    body = json.dumps(
        {"token": token, "public_key": base64.b64encode(signer.public_key).decode()}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        cloud_url.rstrip("/") + "/v1/enrollments",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        raise EnrollmentError(f"the cloud refused the enrollment ({exc.code}): {detail}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise EnrollmentError(f"cannot reach {cloud_url}: {exc}") from None
    identity = Identity(
        robot_id=uuid.UUID(answer["robot_id"]),
        tenant=answer["tenant"],
        mqtt_username=answer["mqtt_username"],
        mqtt_password=answer["mqtt_password"],
        mqtt_client_id=answer.get("mqtt_client_id", ""),
    )
    save_identity(state_dir, identity)
    return identity
