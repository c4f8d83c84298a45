"""Request bodies are bounded before they are held (ApiSettings.max_body_bytes).

A request whose Content-Length is over the limit is refused without reading a byte of it; a
body without one (chunked) is counted as it streams in: past the limit the 413 is sent and
the app is told the client disconnected. Either way the answer is a 413 in problem details,
and nothing behind this middleware ever holds more than the limit. (FastAPI's own
``max_body_size`` counts too, but answers plain text.)
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """413 problem details for a request body over ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, send, f"the body declares {int(declared)} bytes")
            return
        received = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not refused:
                    # Answer now and tell the app the client went away: it never holds more.
                    refused = True
                    if not started:
                        await self._refuse(
                            scope, send, f"the body runs past {self.max_body_bytes} bytes"
                        )
                    return {"type": "http.disconnect"}
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, noting_send)
        except Exception:
            if not refused:
                raise  # the app's own failure, not the cut-off body

    async def _refuse(self, scope: Scope, send: Send, why: str) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Content too large",
                "status": 413,
                "detail": f"{why}; at most {self.max_body_bytes} are read",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
