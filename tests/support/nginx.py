"""Debian's nginx as a real process for the gateway's tests: a configuration rendered by
cloud_api/gateway.py into a directory of the test's own (its certificate, pid file, logs and
temporary files), run in the foreground (`-g 'daemon off;'`) until stop(). The system's nginx
service is never touched. Works as root (the workers then run as nobody: the directory is
opened to them) or as any user."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud_api.gateway import Gateway, render
from tests.support.api_process import free_port
from tests.support.tls import TlsFiles, make_server_tls

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass(frozen=True)
class GatewayDir:
    """A directory for one or more nginx processes, with a certificate for 127.0.0.1."""

    path: Path
    tls: TlsFiles

    @classmethod
    def make(cls) -> GatewayDir:
        path = Path(tempfile.mkdtemp(prefix="robocover-gateway-"))
        path.chmod(0o755)  # nginx's workers (nobody, under root) write its temp directories
        return cls(path, make_server_tls(path / "tls"))

    def options(self, name: str) -> dict[str, Any]:
        """Gateway(...) arguments that keep nginx ``name``'s files in this directory."""
        temp = self.path / name / "temp"
        temp.mkdir(parents=True, exist_ok=True)
        (self.path / name).chmod(0o755)
        return {
            "tls_cert": str(self.tls.cert_file),
            "tls_key": str(self.tls.key_file),
            "pid_file": str(self.path / name / "nginx.pid"),
            "error_log": str(self.path / name / "error.log"),
            "access_log": str(self.path / name / "access.log"),
            "temp_dir": str(temp),
        }

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def nginx_test(config: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of ``config``: the syntax, the files it names, its upstreams' addresses."""
    return subprocess.run(
        [NGINX, "-t", "-p", f"{prefix}/", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


class NginxProcess:
    """One nginx master (and its workers) serving ``config``, rendered into ``directory``."""

    def __init__(self, config: Gateway, directory: GatewayDir, name: str) -> None:
        self.config = config
        self.prefix = directory.path / name
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.config_file = self.prefix / "nginx.conf"
        self.config_file.write_text(render(config))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def https_url(self) -> str:
        return f"https://{self.config.listen}"

    @property
    def http_url(self) -> str:
        return f"http://{self.config.http_listen}"

    def error_log(self) -> str:
        path = Path(self.config.error_log)
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout_s: float = 15.0) -> NginxProcess:
        checked = nginx_test(self.config_file, self.prefix)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {checked.stderr}")
        self.process = subprocess.Popen(
            [NGINX, "-p", f"{self.prefix}/", "-c", str(self.config_file), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        host, _, port = self.config.listen.rpartition(":")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited {self.process.returncode}: {self.error_log()}")
            try:
                with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.config.listen}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast: open connections are closed
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def local_listen() -> str:
    return f"127.0.0.1:{free_port()}"
