"""`robocover api` as a real process, for tests that must talk to it over HTTP as its clients
do (schemathesis over the whole document, the gateway's tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiProcess:
    """Runs `robocover api ARGUMENTS` with ``env`` (ROBOCOVER_* settings) on a free port until
    stop()."""

    def __init__(
        self, env: dict[str, str], *, port: int | None = None, arguments: Sequence[str] = ()
    ) -> None:
        self.port = port or free_port()
        self.arguments = list(arguments)
        self.env = {
            **os.environ,
            "ROBOCOVER_API_HOST": "127.0.0.1",
            "ROBOCOVER_API_PORT": str(self.port),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a pipe nobody reads fills up and stalls the server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ApiProcess:
        self.process = subprocess.Popen(
            [str(BIN / "robocover"), "api", *self.arguments],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"robocover api exited {self.process.returncode}: {self.logged()[-2000:]}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"robocover api did not answer on port {self.port}")

    def logged(self) -> str:
        """What the process wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
