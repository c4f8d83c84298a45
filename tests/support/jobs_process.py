"""`robocover jobs` as a real process (Celery's prefork pool, its /metrics endpoint), for tests
that must see what an operator's Prometheus would scrape."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from celery import Celery

from cloud_api.settings import JobSettings
from cloud_api.worker import JOBS_QUEUE
from risk_engine.worker import reliable_config
from tests.support.api_process import free_port

BIN = Path(sys.executable).parent


@contextmanager
def jobs_client(settings: JobSettings) -> Iterator[Celery]:
    """A Celery app of its own that sends jobs by name to ``settings``' Redis, as the beat does
    (the worker's app caches its broker pools from the first Redis it was configured with)."""
    app = Celery("robocover-jobs-client", set_as_current=False)
    app.conf.update(**reliable_config(str(settings.redis_url)), task_default_queue=JOBS_QUEUE)
    try:
        yield app
    finally:
        app.close()


class JobsProcess:
    """Runs `robocover jobs` on ``settings``' database and Redis, serving /metrics on a free
    port, until stop()."""

    def __init__(self, settings: JobSettings, *, concurrency: int = 2) -> None:
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            "ROBOCOVER_DATABASE_URL": str(settings.database_url),
            "ROBOCOVER_REDIS_URL": str(settings.redis_url),
            "ROBOCOVER_METRICS_HOST": "127.0.0.1",
            "ROBOCOVER_METRICS_PORT": str(self.metrics_port),
            "ROBOCOVER_LOG_FORMAT": "json",
        }
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, timeout_s: float = 60.0) -> JobsProcess:
        self.process = subprocess.Popen(
            [str(BIN / "robocover"), "jobs", f"--concurrency={self.concurrency}"],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"robocover jobs exited: {self.logged()[-2000:]}")
            try:
                if httpx.get(self.metrics_url, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"robocover jobs served no /metrics: {self.logged()[-2000:]}")

    def metrics(self) -> str:
        response = httpx.get(self.metrics_url, timeout=10)
        response.raise_for_status()
        return response.text

    def logged(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
