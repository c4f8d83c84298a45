"""/health and /metrics of the bridge, served from a thread so a slow scrape never stalls it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from ingest.bridge.metrics import Health, IngestMetrics

StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not news."""


def _app(
    metrics: IngestMetrics, health: Health
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            result: Iterable[bytes] = metrics_app(environ, start_response)
            return result
        if path == "/health":
            body = health.snapshot()
            status = "200 OK" if body["status"] == "ok" else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"detail": "not found"}']

    return app


def serve(host: str, port: int, metrics: IngestMetrics, health: Health) -> WSGIServer:
    """Start serving in a daemon thread; `server.shutdown()` stops it. Port 0 picks a free one."""
    server = make_server(host, port, _app(metrics, health), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="ingest-http", daemon=True).start()
    return server
