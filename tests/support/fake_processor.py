"""A card payment processor served locally over HTTP (docs/policies.md, "Card payments"), for
the billing tests: it keeps charges by Idempotency-Key (asked twice, it charges once and answers
the same charge), and can be told to misbehave: time out, answer 5xx, be down, decline, or call
a hook (for example send its webhook) before it answers. ``webhook`` builds a signed webhook as
it would send one."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloud_api.billing.webhooks import signature

API_KEY = "sk_test_" + "k" * 24


@dataclass
class FakeProcessor:
    script: list[str] = field(default_factory=list)  # per request: ok, timeout, 500, decline
    down: bool = False
    delay_s: float = 2.0
    before_answer: Callable[[dict[str, Any]], None] | None = None
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self, headers: dict[str, str], body: bytes, path: str = "/v1/charges"
    ) -> tuple[int, bytes]:
        with self.lock:
            self.requests += 1
            action = self.script.pop(0) if self.script else "ok"
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return 401, b'{"error": "unauthorized"}'
        if self.down or action == "500":
            return 500, b'{"error": "unavailable"}'
        if action == "timeout":
            time.sleep(self.delay_s)
        request = json.loads(body)
        key = headers.get("idempotency-key", "")
        with self.lock:
            charge = self.charges.get(key)
            if charge is None:
                declined = action == "decline"
                payout = path == "/v1/payouts"
                charge = {
                    "id": f"{'po' if payout else 'ch'}_{uuid.uuid4().hex[:16]}",
                    "status": "failed" if declined else "succeeded",
                    "failure_reason": (
                        None if not declined else "account_closed" if payout else "card_declined"
                    ),
                    "reference": request["reference"],
                    "amount_minor": request["amount_minor"],
                    "currency": request["currency"],
                }
                self.charges[key] = charge
        if self.before_answer is not None:
            self.before_answer(charge)
        return (402 if charge["status"] == "failed" else 201), json.dumps(charge).encode()


def webhook(
    secret: str, charge: dict[str, Any], *, event_id: str | None = None, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The signed webhook of ``charge``: (body, headers)."""
    body = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
            "type": f"charge.{charge['status']}",
            "charge": {
                k: charge[k]
                for k in ("id", "reference", "amount_minor", "currency", "status", "failure_reason")
            },
        }
    ).encode()
    timestamp = int(time.time() if at is None else at)
    mac = signature(secret.encode(), timestamp, body)
    return body, {
        "Processor-Signature": f"t={timestamp},v1={mac}",
        "Content-Type": "application/json",
    }


@contextmanager
def serve_processor(processor: FakeProcessor) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = processor.answer(headers, body, self.path)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout): the charge is kept all the same

        def log_message(self, *_args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
