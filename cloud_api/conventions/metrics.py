"""Prometheus metrics at /metrics (outside /v1), with prometheus-fastapi-instrumentator.

Two series families: ``http_requests_total`` and the ``http_request_duration_seconds``
histogram, both labelled by method, route template (``handler``) and status class (2xx, 4xx, ...).
Labels hold the template, never the raw path, so ids in URLs do not multiply the series;
requests that match no route are counted under ``handler="none"``.

Each app gets a registry of its own (not the process-wide default), so several apps in one
process (the tests) do not collide.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as instruments

METRICS_PATH = "/metrics"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def install_metrics(app: FastAPI, registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """Count and time every request but the scrapes themselves; serve them at /metrics."""
    registry = registry if registry is not None else CollectorRegistry()
    instrumentator = Instrumentator(
        should_group_status_codes=True,
        should_ignore_untemplated=False,
        should_group_untemplated=True,
        excluded_handlers=[f"^{METRICS_PATH}$"],
        registry=registry,
    )
    instrumentator.add(instruments.requests(registry=registry))
    instrumentator.add(instruments.latency(buckets=LATENCY_BUCKETS_S, registry=registry))
    instrumentator.instrument(app)
    instrumentator.expose(app, endpoint=METRICS_PATH, include_in_schema=False, tags=["probes"])
    return registry
