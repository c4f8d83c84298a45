"""Liveness and readiness, outside /v1, for the orchestrator.

`/healthz`: the process answers; nothing else is checked (a database outage must not get every
API process restarted). `/readyz`: PostgreSQL with TimescaleDB, Redis and the broker answer,
through cloud_api/health.py's probes run concurrently in threads; each probe bounds its own
time and the whole check is bounded by ``READY_TIMEOUT_S``, past which a probe still running
counts as failed. 200 lists each probe's result; 503 is problem details naming the failing ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cloud_api.errors import problem_responses
from cloud_api.health import PROBE_TIMEOUT_S, ProbeResult, probe_broker, probe_database, probe_redis
from database.logs import mask_url_password
from database.settings import CloudSettings

READY_TIMEOUT_S = PROBE_TIMEOUT_S + 1.0
Probe = Callable[[CloudSettings], ProbeResult]
PROBES: dict[str, Probe] = {
    "postgresql": probe_database,
    "redis": probe_redis,
    "mosquitto": probe_broker,
}


async def run_probes(
    settings: CloudSettings, *, timeout_s: float = READY_TIMEOUT_S
) -> list[ProbeResult]:
    """Every probe at once, each in a thread of its own; a probe past ``timeout_s`` fails."""
    tasks = {
        service: asyncio.ensure_future(asyncio.to_thread(probe, settings))
        for service, probe in PROBES.items()
    }
    await asyncio.wait(tasks.values(), timeout=timeout_s)
    results = []
    for service, task in tasks.items():
        if task.done():
            results.append(task.result())  # the probes never raise
        else:
            task.cancel()  # the thread finishes on its own, within the probe's own bound
            results.append(ProbeResult(service, False, f"no answer within {timeout_s} s", -1.0))
    return results


def _as_json(result: ProbeResult) -> dict[str, object]:
    return {
        "service": result.service,
        "healthy": result.healthy,
        # Driver messages may quote a connection URL: never its password.
        "detail": mask_url_password(result.detail),
        "latency_ms": result.latency_ms,
    }


def probes_router(settings: CloudSettings, *, timeout_s: float = READY_TIMEOUT_S) -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/healthz", summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: PostgreSQL with TimescaleDB, Redis and the broker answer",
        responses=problem_responses(503),
    )
    async def readyz(request: Request) -> JSONResponse:
        results = await run_probes(settings, timeout_s=timeout_s)
        checks = [_as_json(result) for result in results]
        failing = [result.service for result in results if not result.healthy]
        if not failing:
            return JSONResponse({"status": "ready", "checks": checks})
        return JSONResponse(
            status_code=503,
            media_type="application/problem+json",
            content={
                "type": "about:blank",
                "title": "Not ready",
                "status": 503,
                "detail": f"failing: {', '.join(failing)}",
                "instance": request.url.path,
                "failing": failing,
                "checks": checks,
            },
        )

    return router
