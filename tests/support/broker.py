"""Real Mosquitto brokers for the tests, started from the same configuration template as the
project's own broker (scripts/mosquitto.conf.template), each on a free port with its own storage."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "scripts" / "mosquitto.conf.template"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class MosquittoBroker:
    """One mosquitto process; stop() and start() again keep its port and persistent storage."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "mosquitto.log"

    def render_config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        user = getpass.getuser()
        text = (
            TEMPLATE.read_text()
            .replace("@PID_FILE@", str(self.workdir / "mosquitto.pid"))
            .replace("@USER@", user)
            .replace("@PORT@", str(self.port))
            .replace("@DATA_DIR@", str(data))
            .replace("@LOG_FILE@", str(self.log_file))
        )
        path = self.workdir / "mosquitto.conf"
        path.write_text(text)
        return path

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        config = self.render_config()
        self.process = subprocess.Popen([exe, "-c", str(config)], stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM lets the broker save its sessions; SIGKILL does not."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=10)
        self.process = None
