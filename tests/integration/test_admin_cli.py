"""`robocover admin create-user` as a process against a fresh database: the first administrator
is made there, then signs in through the real API."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from cloud_api.app import create_app
from cloud_api.identity.tokens import generate_signing_key
from cloud_api.settings import ApiSettings
from database.models import AuditEvent, User
from database.settings import CloudSettings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PASSWORD = "the first admin's passphrase"
ROOT = Path(__file__).resolve().parents[2]


def _run(
    settings: CloudSettings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROBOCOVER_DATABASE_URL": str(settings.database_url)}
    return subprocess.run(
        [sys.executable, "-m", "cloud_api", "admin", "create-user", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def _users(settings: CloudSettings) -> tuple[list[User], list[AuditEvent]]:
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            users = list(session.scalars(select(User)))
            events = list(session.scalars(select(AuditEvent)))
            session.expunge_all()
            return users, events
    finally:
        engine.dispose()


@pytest.fixture
def api_client(fresh_database: CloudSettings) -> Iterator[TestClient]:
    """The real app (its own engine, committed transactions) on the fresh database."""
    key = generate_signing_key()
    settings = ApiSettings(
        database_url=fresh_database.database_url,
        redis_url=f"{str(fresh_database.redis_url).rstrip('/0123456789')}/15",
        cursor_secret=SecretStr("admin-cli-test-cursor-secret-" + "y" * 32),
        jwt_signing_key=SecretStr(key.private_pem),
        jwt_key_id=key.kid,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_first_admin_is_created_from_a_file_and_signs_in(
    fresh_database: CloudSettings, api_client: TestClient, tmp_path: Path
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    result = _run(
        fresh_database,
        "--email",
        "First.Admin@Insurer.Example",
        "--role",
        "admin",
        "--full-name",
        "First Admin",
        "--password-file",
        str(password_file),
    )
    assert result.returncode == 0, result.stderr
    assert "first.admin@insurer.example (admin)" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    users, events = _users(fresh_database)
    assert [(user.email, user.role, user.tenant_id) for user in users] == [
        ("first.admin@insurer.example", "admin", None)
    ]
    assert [(e.action, e.actor_id, e.actor_role) for e in events] == [("users:create", None, "cli")]

    token = api_client.post(
        "/v1/auth/token",
        data={"username": "first.admin@insurer.example", "password": PASSWORD},
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = api_client.get("/v1/auth/me", headers=headers)
    assert me.json()["principal"]["role"] == "admin"
    # The admin it made may now make others.
    made = api_client.post(
        "/v1/users",
        headers=headers,
        json={"email": "uw@insurer.example", "full_name": "Under Writer", "role": "underwriter"},
    )
    assert made.status_code == 201, made.text


def test_the_password_is_read_from_stdin_when_it_is_not_a_terminal(
    fresh_database: CloudSettings,
) -> None:
    args = ("--email", "auditor@insurer.example", "--role", "auditor", "--full-name", "Aud")
    result = _run(fresh_database, *args, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    users, _ = _users(fresh_database)
    assert [user.email for user in users] == ["auditor@insurer.example"]
    again = _run(fresh_database, *args, stdin=PASSWORD + "\n")
    assert again.returncode == 1
    assert "exists" in again.stderr


@pytest.mark.parametrize(
    ("stdin", "extra", "says"),
    [
        ("short\n", (), "too_short"),
        ("\n", (), "no password given"),
        (PASSWORD + "\n", ("--tenant", "acme"), "works across tenants"),
    ],
)
def test_no_user_is_made_without_an_acceptable_password_or_with_inconsistent_options(
    fresh_database: CloudSettings, stdin: str, extra: tuple[str, ...], says: str
) -> None:
    result = _run(
        fresh_database,
        "--email",
        "someone@insurer.example",
        "--role",
        "underwriter",
        "--full-name",
        "Someone",
        *extra,
        stdin=stdin,
    )
    assert result.returncode != 0
    assert says in result.stderr
    assert _users(fresh_database) == ([], [])
