"""/healthz, /readyz against the real services (and a dead one), /metrics labels."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from pydantic import RedisDsn

from cloud_api.conventions.probes import PROBES, run_probes
from cloud_api.health import ProbeResult
from database.settings import CloudSettings
from tests.integration.api_conventions.conventions_app import TestClient, build_app
from tests.support.broker import free_port as closed_port


def test_healthz_answers_without_checking_anything(base_settings: CloudSettings) -> None:
    dead = base_settings.model_copy(
        update={"redis_url": RedisDsn(f"redis://127.0.0.1:{closed_port()}/0")}
    )
    with TestClient(build_app(settings=dead, redis_url=str(base_settings.redis_url))) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_postgresql_redis_and_the_broker_answer(
    base_settings: CloudSettings,
) -> None:
    with TestClient(build_app(settings=base_settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    checks = {check["service"]: check for check in body["checks"]}
    assert set(checks) == {"postgresql", "redis", "mosquitto"}
    assert all(check["healthy"] for check in checks.values())
    assert "TimescaleDB" in checks["postgresql"]["detail"]


def test_readyz_is_503_naming_the_dependency_that_does_not_answer(
    base_settings: CloudSettings,
) -> None:
    dead = base_settings.model_copy(
        update={"redis_url": RedisDsn(f"redis://:pw-not-shown@127.0.0.1:{closed_port()}/0")}
    )
    with TestClient(build_app(settings=dead, redis_url=str(base_settings.redis_url))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Not ready"
    assert problem["failing"] == ["redis"]
    assert problem["detail"] == "failing: redis"
    healthy = {check["service"]: check["healthy"] for check in problem["checks"]}
    assert healthy == {"postgresql": True, "redis": False, "mosquitto": True}
    assert "pw-not-shown" not in response.text


def test_metrics_label_requests_by_route_template_and_status_class(
    base_settings: CloudSettings,
) -> None:
    with TestClient(build_app(settings=base_settings)) as client:
        for thing_id in (101, 202, 303):
            client.get(f"/v1/things/{thing_id}")
        client.get("/v1/things/-5")  # a 404 of the route
        client.get("/v1/elsewhere/987654")  # no route at all
        text = client.get("/metrics").text

    def sample(metric: str, handler: str, status: str) -> float:
        pattern = (
            rf'^{metric}\{{handler="{re.escape(handler)}",method="GET",'
            rf'status="{status}"\}} (\S+)$'
        )
        match = re.search(pattern, text, re.MULTILINE)
        assert match, f"no {metric} for {handler} {status} in:\n{text}"
        return float(match.group(1))

    assert sample("http_requests_total", "/v1/things/{thing_id}", "2xx") == 3.0
    assert sample("http_requests_total", "/v1/things/{thing_id}", "4xx") == 1.0
    assert sample("http_requests_total", "none", "4xx") == 1.0
    latency = "http_request_duration_seconds_count"
    assert sample(latency, "/v1/things/{thing_id}", "2xx") == 3.0
    assert sample(latency, "/v1/things/{thing_id}", "4xx") == 1.0
    for raw in ("/101", "/202", "/303", "/987654", "elsewhere", 'handler="/metrics"'):
        assert raw not in text


def test_readiness_is_bounded_even_when_probes_are_slower(
    base_settings: CloudSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe that has not answered by the timeout is reported as failing, and the answer does
    not wait for it. The slow probe is held on an event until the answer is in, so it cannot
    win the race (a 1 ms timeout against the real services once lost it to a fast Redis)."""
    release = threading.Event()

    def stuck(settings: CloudSettings) -> ProbeResult:
        release.wait(30)
        return ProbeResult("stuck", True, "answered too late", 0.0)

    monkeypatch.setitem(PROBES, "stuck", stuck)

    async def ready_then_release() -> list[ProbeResult]:
        try:
            return await run_probes(base_settings, timeout_s=0.2)
        finally:
            release.set()  # the answer is in: let the stuck thread end

    results = {r.service: r for r in asyncio.run(ready_then_release())}
    assert (results["stuck"].healthy, results["stuck"].detail) == (
        False,
        "no answer within 0.2 s",
    )
    assert set(results) == {"postgresql", "redis", "mosquitto", "stuck"}
