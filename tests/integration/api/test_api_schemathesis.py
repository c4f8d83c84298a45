"""schemathesis over the whole OpenAPI document against a RUNNING `robocover api` (its own
process, over HTTP) on real PostgreSQL and Redis, authenticated as every role: for each
operation, requests generated from the document (valid ones and, by negative testing, invalid
ones) never get a 5xx, and every answer conforms to the document (its status documented, its
body matching the schema, its content type declared, a 405's Allow exact).

Every generated request is sent once per principal: admin, underwriter, claims adjuster,
billing agent, auditor, a policyholder, a service account's API key with every scope it may
hold, and no credential at all. Bounded in `make test` (EXAMPLES per operation); `make soak`
runs SOAK_EXAMPLES. The document is docs/openapi.json, which test_api_openapi.py holds equal to
the code's.

Left out: POST /v1/auth/logout (it would sign the run's own principals out; its own tests cover
it) and the probes /readyz and /metrics (a machine's state, and Prometheus text).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from redis import Redis
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from schemathesis.openapi import from_path, media_type

from cloud_api.access.permissions import SERVICE_SCOPE_CEILING
from cloud_api.identity.passwords import hash_password
from database.settings import CloudSettings
from tests.conftest import TEST_DB_PREFIX, create_database, drop_database
from tests.support.api_process import ApiProcess

# Claim attachments take these as raw bodies; schemathesis generates no bytes for them by itself.
# Real headers and random bytes: the API must refuse what is not what it says, never fail.
for _media, _magic in (("application/pdf", b"%PDF-1.7\n"), ("video/mp4", b"\x00\x00\x00\x18ftyp")):
    media_type(
        _media, st.one_of(st.binary(max_size=64), st.binary(max_size=64).map(_magic.__add__))
    )

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
EXCLUDED_PATHS = ["/v1/auth/logout", "/readyz", "/metrics"]
EXAMPLES = 2  # per operation and principal; the suite keeps to its 15 minutes (make soak: 200)
SOAK_EXAMPLES = 200
REDIS_DB = 14
STAFF = ("admin", "underwriter", "claims_adjuster", "billing_agent", "auditor")
PASSWORD = "schemathesis-" + uuid.uuid4().hex

schema = from_path(str(DOCUMENT)).exclude(path=EXCLUDED_PATHS)


@dataclass(frozen=True)
class LiveApi:
    url: str
    credentials: dict[str, str | None]  # principal -> bearer (None: no credential)


def _seed(database_url: str) -> None:
    """Two tenants with robots, a user of every role (a policyholder in the first tenant)."""
    with psycopg.connect(database_url) as conn:
        tenants = {}
        for slug in ("acme", "globex"):
            row = conn.execute(
                "INSERT INTO tenants (slug, name) VALUES (%s, %s) RETURNING id",
                (slug, slug.title()),
            ).fetchone()
            assert row is not None
            tenants[slug] = row[0]
            conn.execute(
                "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model)"
                " SELECT %s, %s || i, 'cobot', 'Acme', 'A1' FROM generate_series(1, 3) AS i",
                (row[0], f"{slug}-sn-"),
            )
        hashed = hash_password(PASSWORD)
        for role in (*STAFF, "policyholder"):
            conn.execute(
                "INSERT INTO users (email, full_name, role, tenant_id, password_hash)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    f"{role}@schemathesis.example",
                    role.replace("_", " ").title(),
                    role,
                    tenants["acme"] if role == "policyholder" else None,
                    hashed,
                ),
            )


def _sign_in(url: str, role: str) -> str:
    response = httpx.post(
        f"{url}/v1/auth/token",
        data={"username": f"{role}@schemathesis.example", "password": PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _api_key(url: str, admin: str) -> str:
    """A service account of acme with a key holding every scope a service account may hold."""
    headers = {"Authorization": f"Bearer {admin}"}
    account = httpx.post(
        f"{url}/v1/tenants/acme/service-accounts", json={"name": "fleet-sync"}, headers=headers
    )
    account.raise_for_status()
    key = httpx.post(
        f"{url}/v1/tenants/acme/service-accounts/{account.json()['id']}/api-keys",
        json={"scopes": sorted(SERVICE_SCOPE_CEILING)},
        headers=headers,
    )
    key.raise_for_status()
    secret: str = key.json()["key"]
    return secret


@pytest.fixture(scope="module")
def live_api(base_settings: CloudSettings, migrated_template: str) -> Iterator[LiveApi]:
    base_url = base_settings.libpq_url
    name = f"{TEST_DB_PREFIX}{os.getpid()}_schemathesis"
    drop_database(base_url, name)
    database_url = create_database(base_url, name, migrated_template)
    _seed(database_url)
    # A Redis database of its own, emptied first: sign-in failures the generated requests cause
    # lock the client address for 15 minutes, which must not reach the next run or other tests.
    redis = f"{str(base_settings.redis_url).rstrip('/0123456789')}/{REDIS_DB}"
    redis_client = Redis.from_url(redis)
    redis_client.flushdb()
    redis_client.close()
    process = ApiProcess(
        {
            "ROBOCOVER_DATABASE_URL": database_url,
            "ROBOCOVER_REDIS_URL": redis,
            "ROBOCOVER_LOG_LEVEL": "WARNING",
            # Configured, as a deployment is: generated webhooks are then refused for their
            # signature (400), the path every forged one takes.
            "ROBOCOVER_PROCESSOR_WEBHOOK_SECRET": "whsec_schemathesis_" + uuid.uuid4().hex,
            **{f"ROBOCOVER_RATE_LIMIT_{c}": "1000000/minute" for c in ("READ", "WRITE", "AUTH")},
        }
    ).start()
    try:
        credentials: dict[str, str | None] = {
            role: _sign_in(process.url, role) for role in (*STAFF, "policyholder")
        }
        credentials["service"] = _api_key(process.url, str(credentials["admin"]))
        credentials["anonymous"] = None
        yield LiveApi(process.url, credentials)
    finally:
        process.stop()
        drop_database(base_url, name)


def _exercise(case: Case[Any], live_api: LiveApi) -> None:
    for principal, bearer in live_api.credentials.items():
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        try:
            case.call_and_validate(
                base_url=live_api.url,
                headers=headers,
                # Schema-valid requests that the rules refuse are normal here (an id that names
                # nothing is a 404, a stale If-Match a 412): the document cannot state them.
                excluded_checks=[positive_data_acceptance],
            )
        except Exception as exc:
            exc.add_note(f"as {principal}")
            raise


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_as_every_role_keeps_to_the_document(
    case: Case[Any], live_api: LiveApi
) -> None:
    _exercise(case, live_api)


@pytest.mark.soak
@schema.parametrize()
@settings(
    max_examples=SOAK_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_as_every_role_keeps_to_the_document_at_length(
    case: Case[Any], live_api: LiveApi
) -> None:
    _exercise(case, live_api)
