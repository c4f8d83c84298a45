"""Rate limits per principal on the real Redis, and what happens when Redis is away."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from cloud_api.conventions import RateLimits
from database.settings import CloudSettings
from tests.integration.api_conventions.conventions_app import (
    LogCapture,
    TestClient,
    build_app,
)
from tests.support.broker import free_port as closed_port

TIGHT = RateLimits(read="3/second", write="3/second", auth="2/second")
FORM = {"username": "alice", "password": "correct horse battery staple"}


def test_a_principal_over_its_rate_gets_429_with_retry_after_while_another_is_served(
    base_settings: CloudSettings, principal: Callable[[], str]
) -> None:
    alice, bob = principal(), principal()
    with TestClient(build_app(settings=base_settings, rate_limits=TIGHT)) as client:
        served = [client.get("/v1/things/1", headers={"X-Principal": alice}) for _ in range(3)]
        refused = client.get("/v1/things/1", headers={"X-Principal": alice})
        other = client.get("/v1/things/1", headers={"X-Principal": bob})

    assert [r.status_code for r in served] == [200, 200, 200]
    assert [r.headers["RateLimit-Remaining"] for r in served] == ["2", "1", "0"]
    assert served[0].headers["RateLimit-Limit"] == "3"
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"  # ceil of what is left of a 1 s window
    problem = refused.json()
    assert problem["title"] == "Too many requests"
    assert problem["status"] == 429
    assert "more than 3 read requests per 1 s" in problem["detail"]
    assert other.status_code == 200


def test_the_limit_lets_the_principal_in_again_after_retry_after(
    base_settings: CloudSettings, principal: Callable[[], str]
) -> None:
    alice = {"X-Principal": principal()}
    with TestClient(build_app(settings=base_settings, rate_limits=TIGHT)) as client:
        for _ in range(3):
            client.get("/v1/things/1", headers=alice)
        refused = client.get("/v1/things/1", headers=alice)
        assert refused.status_code == 429
        time.sleep(int(refused.headers["Retry-After"]) + 0.05)
        again = client.get("/v1/things/1", headers=alice)
    assert again.status_code == 200


def test_anonymous_routes_are_limited_by_client_address(base_settings: CloudSettings) -> None:
    app = build_app(settings=base_settings, rate_limits=TIGHT)
    here, there = (f"198.51.100.{random.randrange(1, 255)}", 40000), ("203.0.113.9", 40000)
    for address, _ in (here, there):  # the addresses repeat across runs: start from zero
        app.state.rate_limiter.reset(f"ip:{address}", "auth")
    with TestClient(app, client=here) as client, TestClient(app, client=there) as other:
        codes = [client.post("/v1/token", data=FORM).status_code for _ in range(3)]
        elsewhere = other.post("/v1/token", data=FORM)
    assert codes == [200, 200, 429]
    assert elsewhere.status_code == 200


def test_redis_down_lets_reads_through_with_a_warning_and_refuses_sign_ins(
    base_settings: CloudSettings, principal: Callable[[], str], logs: LogCapture
) -> None:
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    app = build_app(settings=base_settings, redis_url=dead, rate_limits=TIGHT)
    started = time.perf_counter()
    with TestClient(app) as client:
        reads = [client.get("/v1/things/1", headers={"X-Principal": principal()}) for _ in range(5)]
        sign_in = client.post("/v1/token", data=FORM)
    elapsed = time.perf_counter() - started

    assert [r.status_code for r in reads] == [200] * 5  # beyond the rate of 3: nothing counted
    assert "RateLimit-Remaining" not in reads[0].headers
    assert sign_in.status_code == 503
    assert sign_in.headers["content-type"] == "application/problem+json"
    assert sign_in.headers["Retry-After"] == "1"
    assert "cannot count auth requests now" in sign_in.json()["detail"]
    warnings = [e for e in logs.entries() if e["level"] == "WARNING"]
    # One warning for the reads (not one per request), one for the refused sign-in.
    assert [e["route_class"] for e in warnings] == ["read", "auth"]
    assert elapsed < 3.0  # the store's timeout is short: no stall
