"""`robocover jobs` as a real process (Celery's prefork pool, its /metrics endpoint), for tests
that must see what an operator's Prometheus would scrape."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from celery import Celery

from cloud_api.settings import JobSettings
from cloud_api.worker import JOBS_QUEUE
from risk_engine.worker import reliable_config
from tests.support.managed_process import ManagedProcess, free_port


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


class JobsProcess(ManagedProcess):
    """Runs `robocover jobs` on ``settings``' database and Redis, serving /metrics on a free
    port, until stop()."""

    stop_timeout_s = 30.0

    def __init__(self, settings: JobSettings, *, concurrency: int = 2) -> None:
        self.metrics_port = free_port()
        super().__init__(
            {
                "ROBOCOVER_DATABASE_URL": str(settings.database_url),
                "ROBOCOVER_REDIS_URL": str(settings.redis_url),
                "ROBOCOVER_METRICS_HOST": "127.0.0.1",
                "ROBOCOVER_METRICS_PORT": str(self.metrics_port),
                "ROBOCOVER_LOG_FORMAT": "json",
            }
        )
        self.concurrency = concurrency

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, timeout_s: float = 60.0) -> JobsProcess:
        self.launch(["jobs", f"--concurrency={self.concurrency}"], self.metrics_url, timeout_s)
        return self

    def metrics(self) -> str:
        response = httpx.get(self.metrics_url, timeout=10)
        response.raise_for_status()
        return response.text
