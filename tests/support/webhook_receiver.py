"""A tenant's webhook receiver served locally over HTTP, for the notification tests. It does
what a careful receiver does (docs/notifications.md): verifies each request's signature with
its secret, processes each delivery id once (a retry of a delivery it processed is answered
200 and not processed again), and can be told to misbehave per request: answer 500, time out,
answer slowly."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from cloud_api.demo.local_http import QuietHandler, serve_in_thread
from cloud_api.notifications import signing


@dataclass
class Receiver:
    secret: str
    script: list[str] = field(default_factory=list)  # per request: ok, 500, timeout, slow
    slow_s: float = 0.3
    hang_s: float = 2.0
    always_fail: bool = False
    processed: dict[str, int] = field(default_factory=dict)  # delivery ids processed
    requests: Counter[str] = field(default_factory=Counter)  # delivery id -> requests
    bad_signatures: int = 0
    events: list[dict[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        delivery = headers.get("robocover-delivery", "")
        with self.lock:
            self.requests[delivery] += 1
            action = self.script.pop(0) if self.script else "ok"
        if not signing.verify(
            self.secret, headers.get("robocover-signature", ""), body, int(time.time())
        ):
            with self.lock:
                self.bad_signatures += 1
            return 400
        if self.always_fail or action == "500":
            return 500
        if action == "timeout":
            time.sleep(self.hang_s)
        if action == "slow":
            time.sleep(self.slow_s)
        with self.lock:
            if delivery not in self.processed:  # each delivery id is processed once
                self.processed[delivery] = 1
                self.events.append(orjson.loads(body))
        return 200


@contextmanager
def serve_receiver(receiver: Receiver) -> Iterator[str]:
    class Handler(QuietHandler):
        def on_post(self) -> None:
            self.reply(receiver.answer(*self.request_body()))

    with serve_in_thread(Handler) as url:
        yield f"{url}/hooks/robocover"
