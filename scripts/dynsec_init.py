"""Writes, and brings up to date, the broker's dynamic-security file: the cloud's own accounts.

Standard library only: scripts/services-up.sh runs it with the system's python3, before the
virtual environment exists, and the test suite runs it for its own brokers. Robots are added at
run time through the broker's $CONTROL/dynamic-security/v1 topic
(cloud_api/broker_accounts.py); this file holds what must exist before that:

- `admin` (role admin): the dynamic-security control topic, nothing else;
- the first ingest process's account (role cloud-ingest): robots' traffic through the ingest's
  shared subscription, and acks to robots;
- `robocover-cloud` (role cloud-service): configs to robots and the health probe.

Every account is bound to one MQTT client id (its user name; robots' to `robot-<id>`), so no
account can connect as another and take over its session (the broker checks the binding).

`--reconcile` brings an existing file (the broker must be stopped: it owns the file while it
runs) to this shape: it binds unbound accounts, replaces the cloud roles' ACLs, adds missing
accounts and removes the unbound service account of earlier versions; `--check` only says
whether that is needed (exit 1). Passwords are read from files (never from the command line,
where `ps` would show them) and stored as mosquitto does: PBKDF2-HMAC-SHA512 over a random
salt, both base64.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any

ITERATIONS = 101  # mosquitto_ctrl's own; the passwords are random 32-byte tokens anyway
ADMIN_ROLE = "admin"
INGEST_ROLE = "cloud-ingest"
SERVICE_ROLE = "cloud-service"
ADMIN_CLIENT_ID = "robocover-admin"
CLOUD_USERNAME = "robocover-cloud"
LEGACY_SERVICE_USERNAME = "robocover-ingest"
"""Before client ids were bound, one unbound account served every cloud process: removed."""
ROBOT_USERNAME = re.compile(r"robot-([0-9a-f-]{36})(?:-r[0-9]+)?")


def password_fields(password: str) -> dict[str, object]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def _acl(acltype: str, topic: str) -> dict[str, object]:
    return {"acltype": acltype, "topic": topic, "allow": True, "priority": 0}


ROBOT_TRAFFIC = ("telemetry", "events", "status")


def ingest_acls() -> list[dict[str, object]]:
    """An ingest process: reads every robot's traffic, through a shared subscription only,
    and acknowledges to robots. It cannot speak as a robot, nor send configs."""
    acls = []
    for kind in ROBOT_TRAFFIC:
        acls.append(_acl("subscribePattern", f"$share/+/rc/v1/+/+/{kind}"))
        acls.append(_acl("publishClientReceive", f"rc/v1/+/+/{kind}"))
    acls.append(_acl("publishClientSend", "rc/v1/+/+/ack"))
    return acls


def service_acls() -> list[dict[str, object]]:
    """The cloud's other processes: send configs to robots, and round-trip a health probe."""
    return [
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


def cloud_roles() -> list[dict[str, Any]]:
    return [
        {"rolename": ADMIN_ROLE, "acls": admin_acls()},
        {"rolename": INGEST_ROLE, "acls": ingest_acls()},
        {"rolename": SERVICE_ROLE, "acls": service_acls()},
    ]


def _client(username: str, clientid: str, role: str, password: str) -> dict[str, Any]:
    return {
        "username": username,
        "clientid": clientid,
        "roles": [{"rolename": role}],
        **password_fields(password),
    }


def initial_config(
    admin: tuple[str, str], ingest: tuple[str, str], cloud: tuple[str, str]
) -> dict[str, object]:
    return {
        "clients": [
            _client(admin[0], ADMIN_CLIENT_ID, ADMIN_ROLE, admin[1]),
            _client(ingest[0], ingest[0], INGEST_ROLE, ingest[1]),
            _client(cloud[0], cloud[0], SERVICE_ROLE, cloud[1]),
        ],
        "roles": cloud_roles(),
        # Deny by default, receiving included: a robot hears only its own config and acks.
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def expected_client_id(username: str, admin_username: str) -> str:
    """The one client id each account may connect with."""
    if username == admin_username:
        return ADMIN_CLIENT_ID
    robot = ROBOT_USERNAME.fullmatch(username)
    return f"robot-{robot.group(1)}" if robot else username


def reconcile(
    config: dict[str, Any], admin: tuple[str, str], ingest: tuple[str, str], cloud: tuple[str, str]
) -> list[str]:
    """Bring `config` (changed in place) to the shape `initial_config` writes, keeping every
    robot; what was changed, in words (empty: nothing to do)."""
    changes: list[str] = []
    clients: list[dict[str, Any]] = config.setdefault("clients", [])
    kept = [c for c in clients if c.get("username") != LEGACY_SERVICE_USERNAME]
    if len(kept) != len(clients):
        changes.append(f"removed the unbound service account {LEGACY_SERVICE_USERNAME}")
    wanted = {
        ingest[0]: (INGEST_ROLE, ingest[1]),
        cloud[0]: (SERVICE_ROLE, cloud[1]),
    }
    present = {c.get("username") for c in kept}
    for username, (role, password) in wanted.items():
        if username not in present:
            kept.append(_client(username, username, role, password))
            changes.append(f"added {username}")
    for client in kept:
        clientid = expected_client_id(str(client.get("username")), admin[0])
        if client.get("clientid") != clientid:
            client["clientid"] = clientid
            changes.append(f"bound {client.get('username')} to client id {clientid}")
    config["clients"] = kept
    roles: list[dict[str, Any]] = config.setdefault("roles", [])
    by_name = {r.get("rolename"): r for r in roles}
    for cloud_role in cloud_roles():
        current = by_name.get(cloud_role["rolename"])
        if current is None:
            roles.append(cloud_role)
            changes.append(f"added role {cloud_role['rolename']}")
        elif _acl_set(current.get("acls", [])) != _acl_set(cloud_role["acls"]):
            current["acls"] = cloud_role["acls"]
            changes.append(f"set the ACLs of role {cloud_role['rolename']}")
    return changes


def _acl_set(acls: list[dict[str, Any]]) -> set[tuple[str, str, bool]]:
    return {(str(a.get("acltype")), str(a.get("topic")), bool(a.get("allow"))) for a in acls}


def _write(path: Path, config: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(config, indent=1))
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--admin-username", default="admin")
    parser.add_argument("--admin-password-file", type=Path, required=True)
    parser.add_argument("--ingest-username", default="robocover-ingest-1")
    parser.add_argument("--ingest-password-file", type=Path, required=True)
    parser.add_argument("--cloud-username", default=CLOUD_USERNAME)
    parser.add_argument("--cloud-password-file", type=Path, required=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--reconcile", action="store_true", help="update an existing file")
    mode.add_argument("--check", action="store_true", help="exit 1 if --reconcile would change")
    args = parser.parse_args(argv)
    admin = (args.admin_username, args.admin_password_file.read_text().strip())
    ingest = (args.ingest_username, args.ingest_password_file.read_text().strip())
    cloud = (args.cloud_username, args.cloud_password_file.read_text().strip())
    if not (admin[1] and ingest[1] and cloud[1]):
        print("dynsec_init: an empty password file", file=sys.stderr)
        return 2
    if not args.file.exists():
        if args.check:
            return 1
        _write(args.file, initial_config(admin, ingest, cloud))
        return 0
    if not (args.reconcile or args.check):
        return 0
    config = json.loads(args.file.read_text())
    changes = reconcile(config, admin, ingest, cloud)
    if args.check:
        return 1 if changes else 0
    if changes:
        _write(args.file, config)
        for change in changes:
            print(f"dynsec_init: {change}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
