"""A small HTTP server on 127.0.0.1 in a thread, for the stand-ins of third parties that cannot
run here (the payment processor, a vendor's API, a webhook receiver): the handler's quiet base
and the serving, written once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and tolerates a client that stopped waiting; a
    stand-in overrides on_get and on_post (405 otherwise)."""

    def do_GET(self) -> None:
        self.on_get()

    def do_POST(self) -> None:
        self.on_post()

    def on_get(self) -> None:
        self.reply(405)

    def on_post(self) -> None:
        self.reply(405)

    def request_body(self) -> tuple[dict[str, str], bytes]:
        """The request's headers (lower-cased names) and its body."""
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        return {k.lower(): v for k, v in self.headers.items()}, body

    def reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): what the request did stands all the same

    def log_message(self, *_args: object) -> None:
        """Quiet: the stand-in's callers keep their own record."""


def start_server(handler: type[BaseHTTPRequestHandler], port: int = 0) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


@contextmanager
def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free port of 127.0.0.1 in a thread: yields the base URL."""
    server = start_server(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
