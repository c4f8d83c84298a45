"""A webhook's host is resolved once, checked public, and the request goes to the address
checked (DNS rebinding): a name that answers with a public address for the check and a private
one afterwards never reaches the private one. TLS is still checked against the name, not the
address. DNS is the stand-in here (socket.getaddrinfo answers for the test's names); the
receivers are real servers on two loopback addresses, one playing the public address."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud_api.demo.local_http import QuietHandler
from cloud_api.notifications import delivery
from cloud_api.notifications.delivery import DeliveryRules, Outgoing, send_webhook
from tests.support.tls import make_server_tls

PUBLIC, PRIVATE = "127.0.0.1", "127.0.0.2"  # the first plays a public address here
RULES = DeliveryRules(timeout_s=2.0)  # private targets refused, as deployed


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (the address that answered, Host)


@contextlib.contextmanager
def receiver(address: str, seen: Seen, port: int = 0, tls: Any = None) -> Iterator[int]:
    class Handler(QuietHandler):
        def on_post(self) -> None:
            self.request_body()
            seen.requests.append((address, self.headers.get("Host", "")))
            self.reply(204)

    server = ThreadingHTTPServer((address, port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Answers for the test's names, one per lookup in turn (the last one repeated); other
    names as the system resolves them. Counts in answers['asked:<name>']."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in answers:
            return real(host, port, *args, **kwargs)
        answers.setdefault(f"asked:{name}", []).append("")
        queue = answers[name]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(
        delivery, "_is_public", lambda ip: ip == ipaddress.ip_address(PUBLIC)
    )  # the stand-in's public address
    return answers


def outgoing(url: str) -> Outgoing:
    return Outgoing(uuid.uuid4(), "webhook", url, "s3cret", "policy_issued", b"{}", {})


def test_a_name_rebound_to_a_private_address_after_the_check_is_not_followed(
    dns: dict[str, list[str]],
) -> None:
    seen = Seen()
    with receiver(PUBLIC, seen) as port, receiver(PRIVATE, seen, port):
        dns["hooks.example.test"] = [PUBLIC, PRIVATE]  # public when checked, private after
        url = f"http://hooks.example.test:{port}/hooks/robocover"
        with httpx.Client(timeout=2.0, follow_redirects=False) as client:
            outcome = send_webhook(client, outgoing(url), RULES)
            again = send_webhook(client, outgoing(url), RULES)  # now private when checked
    assert outcome.ok
    assert outcome.status_code == 204
    assert seen.requests == [(PUBLIC, f"hooks.example.test:{port}")]
    assert not again.ok
    assert again.error == f"the host 'hooks.example.test' is a non-public address ({PRIVATE})"
    assert len(dns["asked:hooks.example.test"]) == 2  # once per delivery, never by the client


def test_tls_to_the_pinned_address_is_checked_against_the_name(
    dns: dict[str, list[str]], tmp_path: Path
) -> None:
    files = make_server_tls(tmp_path)  # valid for localhost and 127.0.0.1, not other names
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(files.cert_file, files.key_file)
    trust = ssl.create_default_context(cafile=str(files.ca_file))
    seen = Seen()
    with receiver(PUBLIC, seen, tls=tls) as port:
        dns["localhost"] = [PUBLIC]
        dns["hooks.example.test"] = [PUBLIC]  # the same address, a name the certificate lacks
        with httpx.Client(timeout=2.0, verify=trust) as client:
            named = send_webhook(client, outgoing(f"https://localhost:{port}/h"), RULES)
            other = send_webhook(client, outgoing(f"https://hooks.example.test:{port}/h"), RULES)
    assert named.ok, named.error
    assert seen.requests == [(PUBLIC, f"localhost:{port}")]
    assert not other.ok
    assert other.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in other.error
