"""A vendor's diagnostics API, served locally over HTTP, for the connector's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from cloud_api.demo.local_http import QuietHandler, serve_in_thread


@dataclass
class FakeVendor:
    """Readings per serial; `fail_next` answers 503 that many times; `down` answers 500."""

    readings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail_next: int = 0
    down: bool = False
    requests: int = 0

    def answer(self, path: str, query: str) -> tuple[int, bytes]:
        self.requests += 1
        if self.down:
            return 500, b'{"error": "maintenance"}'
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, b'{"error": "busy"}'
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["v1", "robots"] or parts[3] != "diagnostics":
            return 404, b"{}"
        params = parse_qs(query)
        after = int((params.get("after") or ["0"])[0] or 0)
        limit = int((params.get("limit") or ["1000"])[0])
        rows = self.readings.get(parts[2], [])[after : after + limit]
        body = {"readings": rows, "next": str(after + len(rows))}
        return 200, json.dumps(body).encode()


@contextmanager
def serve_vendor(vendor: FakeVendor) -> Iterator[str]:
    class Handler(QuietHandler):
        def on_get(self) -> None:
            url = urlparse(self.path)
            self.reply(*vendor.answer(url.path, url.query))

    with serve_in_thread(Handler) as url:
        yield url
