"""The harness itself: the real application, its conventions installed."""

from __future__ import annotations

from tests.support.api import ApiHarness


def test_requests_answer_problem_details_and_carry_a_request_id(api: ApiHarness) -> None:
    response = api.client().get("/v1/no-such-route")
    assert response.status_code == 404
    assert response.headers["x-request-id"]
