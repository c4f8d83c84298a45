"""Request ids in responses and in every log line of a request; no secret in the logs."""

from __future__ import annotations

import uuid

import pytest

from database.settings import CloudSettings
from tests.integration.api_conventions.conventions_app import LogCapture, TestClient, build_app

BEARER = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
PASSWORD = "Tr0ub4dor&3-never-logged"
COOKIE = "session=cookie-value-never-logged"


def test_a_valid_request_id_is_echoed_and_bound_to_every_log_line(
    base_settings: CloudSettings, logs: LogCapture
) -> None:
    request_id = str(uuid.uuid4())
    with TestClient(build_app(settings=base_settings)) as client:
        response = client.post(
            "/v1/token",
            data={"username": "alice", "password": PASSWORD},
            headers={"X-Request-ID": request_id},
        )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id
    inner = [e for e in logs.entries() if e["message"] == "token issued"]
    assert [e["request_id"] for e in inner] == [request_id]
    (access,) = logs.access_lines()
    assert access["request_id"] == request_id
    assert access["method"] == "POST"
    assert access["route"] == "/v1/token"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)


@pytest.mark.parametrize("sent", [None, "", "not-a-uuid", "1234; DROP TABLE", "x" * 300])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_uuid(
    base_settings: CloudSettings, logs: LogCapture, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    with TestClient(build_app(settings=base_settings)) as client:
        response = client.get("/v1/things/7", headers=headers)
    issued = response.headers["X-Request-ID"]
    assert issued != sent
    assert uuid.UUID(issued).version == 4
    (access,) = logs.access_lines()
    assert access["request_id"] == issued


def test_access_lines_name_the_route_template_and_principal_never_secrets(
    base_settings: CloudSettings, logs: LogCapture
) -> None:
    with TestClient(build_app(settings=base_settings)) as client:
        client.get(
            f"/v1/things/4242?token={BEARER}",
            headers={"Authorization": f"Bearer {BEARER}", "Cookie": COOKIE, "X-Principal": "p-9"},
        )
        client.post(
            f"/v1/token?password={PASSWORD}",
            data={"username": "alice", "password": PASSWORD},
            headers={"Authorization": f"Bearer {BEARER}"},
        )
    read, sign_in = logs.access_lines()
    assert read["route"] == "/v1/things/{thing_id}"
    assert read["principal_id"] == "p-9"
    assert sign_in["principal_id"] is None
    for secret in (BEARER, "c2VjcmV0LXBheWxvYWQ", PASSWORD, "cookie-value-never-logged", "4242"):
        assert secret not in logs.text


def test_a_failing_route_is_logged_as_500_with_its_request_id(
    base_settings: CloudSettings, logs: LogCapture
) -> None:
    with TestClient(build_app(settings=base_settings), raise_server_exceptions=False) as client:
        response = client.get("/v1/boom")
        unknown = client.get("/v1/no/such/route/123")
    assert response.status_code == 500
    boom, missing = logs.access_lines()
    assert boom["status"] == 500
    assert boom["route"] == "/v1/boom"
    assert uuid.UUID(str(boom["request_id"])).version == 4
    assert missing["status"] == 404
    assert missing["route"] == "<unmatched>"
    assert unknown.status_code == 404
