"""The harness itself: the real application, its conventions installed; the router's own
refusals (no such route, method not allowed) as problem details."""

from __future__ import annotations

from collections.abc import Iterator

from cloud_api.access.roles import Role
from tests.support.api import ApiHarness, principal


def test_requests_answer_problem_details_and_carry_a_request_id(api: ApiHarness) -> None:
    response = api.client().get("/v1/no-such-route")
    assert response.status_code == 404
    assert response.headers["x-request-id"]


def test_the_router_s_own_refusals_are_problem_details(api: ApiHarness) -> None:
    missing = api.client().get("/v1/no-such-route")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    wrong_method = api.client().put("/v1/enrollments")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
    assert wrong_method.headers["allow"] == "POST"


def test_a_405_allows_every_method_of_the_path_across_routers(api: ApiHarness) -> None:
    """/v1/users is served by GET (list) and POST (create): a DELETE is told both."""
    response = api.client().delete("/v1/users")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_a_value_the_database_cannot_hold_is_a_422_not_a_500(api: ApiHarness) -> None:
    """A NUL character passes JSON and pydantic but not PostgreSQL's text (schemathesis found
    it as a 500 on POST /v1/tenants)."""
    response = api.client(principal(Role.ADMIN)).post(
        "/v1/tenants", json={"slug": "nul-test", "name": "Bad\u0000Name"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read_whole(
    api: ApiHarness,
) -> None:
    """A hostile sender claiming or sending megabytes gets a 413 problem, not a process
    holding its body (ApiSettings.max_body_bytes, 1 MiB by default)."""
    limit = api.app.state.settings.max_body_bytes
    client = api.client(principal(Role.ADMIN))
    huge = b'{"slug": "huge", "name": "' + b"x" * (limit + 1) + b'"}'
    response = client.post(
        "/v1/tenants", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    assert client.get("/v1/tenants/huge").status_code == 404  # nothing was created
    within = client.post("/v1/tenants", json={"slug": "small", "name": "Small"})
    assert within.status_code == 201


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(api: ApiHarness) -> None:
    """No Content-Length to believe: the body is counted as it arrives."""
    limit = api.app.state.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"slug": "chunked", "name": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = api.client(principal(Role.ADMIN)).post(
        "/v1/tenants", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "runs past" in response.json()["detail"]
