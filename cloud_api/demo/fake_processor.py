"""A card payment processor served locally over HTTP (docs/policies.md, "Card payments"): the
third party the demo and the billing tests cannot reach, faked by a server speaking its
protocol. It keeps charges and payouts by Idempotency-Key (asked twice, it charges once and
answers the same charge), and can be told to misbehave: time out, answer 5xx, be down, decline,
or call a hook (for example send its webhook) before it answers. ``webhook`` builds a signed
webhook as it would send one.

As a process (`python -m cloud_api.demo.fake_processor`, started by `robocover demo`), it
listens on ``ROBOCOVER_FAKE_PROCESSOR_PORT``, takes only ``ROBOCOVER_FAKE_PROCESSOR_API_KEY``,
and, given a webhook URL and secret, tells each charge by a signed webhook as well, as a real
processor would (the API settles the payment on whichever comes first)."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud_api.billing.webhooks import signature
from cloud_api.demo.local_http import QuietHandler, serve_in_thread, start_server


@dataclass
class FakeProcessor:
    api_key: str
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
        if headers.get("authorization") != f"Bearer {self.api_key}":
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


def _handler(processor: FakeProcessor) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def on_get(self) -> None:
            """``/healthz``: the process answers (for whoever starts it)."""
            self.reply(200 if self.path == "/healthz" else 404)

        def on_post(self) -> None:
            headers, body = self.request_body()
            self.reply(*processor.answer(headers, body, self.path))

    return Handler


@contextmanager
def serve_processor(processor: FakeProcessor) -> Iterator[str]:
    """``processor`` served on a free port of 127.0.0.1 in a thread: yields its base URL."""
    with serve_in_thread(_handler(processor)) as url:
        yield url


class FakeProcessorSettings(BaseSettings):
    """The fake processor as a process: ``ROBOCOVER_FAKE_PROCESSOR_*``."""

    model_config = SettingsConfigDict(env_prefix="ROBOCOVER_FAKE_PROCESSOR_", frozen=True)

    port: int = Field(ge=1, le=65_535)
    api_key: SecretStr = Field(min_length=16, description="What callers must present.")
    webhook_url: str | None = Field(default=None, description="Where to tell charges.")
    webhook_secret: SecretStr | None = Field(default=None, min_length=16)
    webhook_ca_file: Path | None = Field(
        default=None,
        description="The CA that signed the webhook URL's certificate, if not a public one.",
    )


def _teller(settings: FakeProcessorSettings) -> Callable[[dict[str, Any]], None] | None:
    """Tells a succeeded or failed charge (not a payout) by a signed webhook, after a short
    while (so that the charge's own answer usually comes first), in a thread of its own."""
    url, secret = settings.webhook_url, settings.webhook_secret
    if url is None or secret is None:
        return None
    told: set[str] = set()
    verify: bool | str = True if settings.webhook_ca_file is None else str(settings.webhook_ca_file)

    def tell(charge: dict[str, Any]) -> None:
        if not str(charge["id"]).startswith("ch_") or charge["id"] in told:
            return
        told.add(charge["id"])
        body, headers = webhook(secret.get_secret_value(), charge)

        def send() -> None:
            time.sleep(0.5)
            try:
                httpx.post(url, content=body, headers=headers, timeout=10, verify=verify)
            except httpx.HTTPError as exc:
                print(f"webhook of {charge['id']} not delivered: {exc}", flush=True)
            else:
                print(f"webhook of {charge['id']} delivered", flush=True)

        threading.Thread(target=send, daemon=True).start()

    return tell


def main() -> None:
    settings = FakeProcessorSettings()  # from the environment
    processor = FakeProcessor(
        api_key=settings.api_key.get_secret_value(), before_answer=_teller(settings)
    )
    server = start_server(_handler(processor), settings.port)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake payment processor on 127.0.0.1:{settings.port}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
