"""One robocover command as a real process for a test: started with its settings in the
environment, waited for until an HTTP endpoint of its own answers, its output kept in a file
(a pipe nobody reads fills up and stalls the process), stopped with SIGTERM as systemd would,
killed if it does not stop."""

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


class ManagedProcess:
    """`robocover COMMAND...` with ``env`` on top of this process's environment."""

    stop_timeout_s = 20.0

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    def launch(self, command: Sequence[str], ready_url: str, timeout_s: float) -> None:
        """Start `robocover COMMAND`; return when ``ready_url`` answers 200. Raises with the
        process's output if it exits first or never answers."""
        self.process = subprocess.Popen(
            [str(BIN / "robocover"), *command],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"robocover {command[0]} exited {self.process.returncode}:"
                    f" {self.logged()[-2000:]}"
                )
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"robocover {command[0]}: {ready_url} never answered")

    def logged(self) -> str:
        """What the process wrote so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
