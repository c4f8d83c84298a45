"""The demo's people at the API: each signs in with its own account and calls the REST API over
HTTP as any client would (bearer tokens, Idempotency-Key on creating writes, If-Match on
changes). A 429 or 503 is waited out as its Retry-After says; any other error is the demo's
failure, with the problem details' text."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRIED = {429, 503}
MAX_WAIT_S = 30.0


class ApiError(RuntimeError):
    """The API refused what the demo asked: the status and the problem's detail."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path}: {status} {detail}")
        self.status = status


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


@dataclass
class Person:
    """Someone signed in to the API (a member of staff or the policyholder)."""

    http: httpx.Client
    email: str
    password: str
    role: str
    token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    calls: int = field(default=0)

    def sign_in(self) -> Person:
        answer = self._send(
            "POST",
            "/v1/auth/token",
            data={"username": self.email, "password": self.password},
            authorized=False,
        )
        self._keep(answer.json())
        return self

    def _keep(self, tokens: dict[str, Any]) -> None:
        self.token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        self.expires_at = time.monotonic() + float(tokens["expires_in"]) - 30

    def _fresh(self) -> None:
        if self.token and time.monotonic() < self.expires_at:
            return
        answer = self._send(
            "POST", "/v1/auth/refresh", json={"refresh_token": self.refresh_token}, authorized=False
        )
        self._keep(answer.json())

    def _send(
        self, method: str, path: str, *, authorized: bool = True, **kwargs: Any
    ) -> httpx.Response:
        deadline = time.monotonic() + MAX_WAIT_S
        while True:
            if authorized:
                self._fresh()
            headers = dict(kwargs.pop("headers", {}) or {})
            if authorized:
                headers["Authorization"] = f"Bearer {self.token}"
            response = self.http.request(method, path, headers=headers, **kwargs)
            self.calls += 1
            if response.status_code not in RETRIED or time.monotonic() > deadline:
                break
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            time.sleep(min(float(response.headers.get("Retry-After", "1")), 5.0))
        if response.status_code >= 400:
            raise ApiError(method, path, response.status_code, _detail(response))
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, params=params).json()

    def page(self, path: str, **params: Any) -> str:
        """An HTML page of the API."""
        return self._send("GET", path, params=params).text

    def post(
        self, path: str, body: Any = None, *, create: bool = False, etag: str | None = None
    ) -> Any:
        """POST ``body``; a creating write carries a fresh Idempotency-Key, a change its
        If-Match."""
        headers = {}
        if create:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        if etag is not None:
            headers["If-Match"] = etag
        response = self._send("POST", path, json=body, headers=headers)
        return response.json() if response.content else None

    def etag(self, path: str) -> str:
        return self._send("GET", path).headers["ETag"]


def person(http: httpx.Client, email: str, password: str, role: str) -> Person:
    return Person(http, email, password, role).sign_in()
