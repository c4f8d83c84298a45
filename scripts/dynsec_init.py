"""Writes the broker's first dynamic-security file: an admin and the cloud's service account.

Standard library only: scripts/services-up.sh runs it with the system's python3, before the
virtual environment exists, and the test suite runs it for its own brokers. It does nothing when
the file already exists (the broker owns it from then on; robots are added through the broker's
$CONTROL/dynamic-security/v1 topic, see cloud_api/enrollment/broker_accounts.py).

Passwords are read from files (never from the command line, where `ps` would show them) and
stored as mosquitto does: PBKDF2-HMAC-SHA512 over a random salt, both base64.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

ITERATIONS = 101  # mosquitto_ctrl's own; the passwords are random 32-byte tokens anyway
ADMIN_ROLE = "admin"
SERVICE_ROLE = "cloud-service"


def password_fields(password: str) -> dict[str, object]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def _acl(acltype: str, topic: str) -> dict[str, object]:
    return {"acltype": acltype, "topic": topic, "allow": True}


def service_acls() -> list[dict[str, object]]:
    """The cloud's service account (the ingest, the health probe): reads every robot's traffic,
    writes acks and configs, and round-trips its health probe. It cannot speak as a robot."""
    return [
        _acl("subscribePattern", "$share/+/rc/v1/+/+/#"),
        _acl("subscribePattern", "rc/v1/+/+/#"),
        _acl("publishClientReceive", "rc/v1/+/+/#"),
        _acl("publishClientSend", "rc/v1/+/+/ack"),
        _acl("publishClientSend", "rc/v1/+/+/config"),
        _acl("subscribePattern", "robocover/health/#"),
        _acl("publishClientSend", "robocover/health/#"),
        _acl("publishClientReceive", "robocover/health/#"),
    ]


def admin_acls() -> list[dict[str, object]]:
    return [
        _acl("publishClientSend", "$CONTROL/dynamic-security/#"),
        _acl("publishClientReceive", "$CONTROL/dynamic-security/#"),
        _acl("subscribePattern", "$CONTROL/dynamic-security/#"),
        _acl("publishClientReceive", "$SYS/#"),
        _acl("subscribePattern", "$SYS/#"),
    ]


def initial_config(admin: tuple[str, str], service: tuple[str, str]) -> dict[str, object]:
    return {
        "clients": [
            {
                "username": admin[0],
                "roles": [{"rolename": ADMIN_ROLE}],
                **password_fields(admin[1]),
            },
            {
                "username": service[0],
                "roles": [{"rolename": SERVICE_ROLE}],
                **password_fields(service[1]),
            },
        ],
        "roles": [
            {"rolename": ADMIN_ROLE, "acls": admin_acls()},
            {"rolename": SERVICE_ROLE, "acls": service_acls()},
        ],
        # Deny by default, receiving included: a robot hears only its own config and acks.
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--admin-username", default="admin")
    parser.add_argument("--admin-password-file", type=Path, required=True)
    parser.add_argument("--service-username", default="robocover-ingest")
    parser.add_argument("--service-password-file", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.file.exists():
        return 0
    admin = (args.admin_username, args.admin_password_file.read_text().strip())
    service = (args.service_username, args.service_password_file.read_text().strip())
    if not admin[1] or not service[1]:
        print("dynsec_init: an empty password file", file=sys.stderr)
        return 2
    text = json.dumps(initial_config(admin, service), indent=1)
    temporary = args.file.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    temporary.replace(args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
