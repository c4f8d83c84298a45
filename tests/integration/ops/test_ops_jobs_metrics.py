"""The jobs worker's metrics: the queue's length is the length of its Redis lists, whatever
their priority; a Redis that does not answer is said so; a task run in this process counts as
one run by a worker does (test_ops_real_processes.py runs a real worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from prometheus_client import CollectorRegistry

from cloud_api.conventions.jobs_metrics import JobsCollector, queue_keys
from cloud_api.settings import JobSettings
from cloud_api.worker import (
    EARN_PREMIUM,
    EXPIRE_TERMS,
    JOB_TASKS,
    JOBS_QUEUE,
    configure,
    earn_premium,
    metrics_registry,
)
from database.settings import CloudSettings
from tests.support.api_process import free_port
from tests.support.jobs_process import jobs_client

REDIS_DB = 11


@pytest.fixture
def job_settings(fresh_database: CloudSettings) -> Iterator[JobSettings]:
    url = f"redis://{fresh_database.redis_url.host}:{fresh_database.redis_url.port}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield JobSettings(database_url=fresh_database.database_url, redis_url=url)
    client.flushdb()
    client.close()


def test_the_queue_length_is_the_length_of_its_redis_lists(job_settings: JobSettings) -> None:
    registry = metrics_registry(job_settings)  # the worker's own, with no worker taking jobs
    client = redis.Redis.from_url(str(job_settings.redis_url))

    def length() -> float | None:
        return registry.get_sample_value("robocover_jobs_queue_length", {"queue": JOBS_QUEUE})

    def in_redis() -> int:
        return sum(int(client.llen(key)) for key in queue_keys(JOBS_QUEUE))

    assert length() == 0
    with jobs_client(job_settings) as app:
        for _ in range(3):
            app.send_task(EXPIRE_TERMS)
        app.send_task(EXPIRE_TERMS, priority=6)
    assert client.llen(JOBS_QUEUE) == 3  # the priority message waits in a list of its own
    assert in_redis() == 4
    assert length() == 4
    assert client.lpop(JOBS_QUEUE) is not None  # as a worker takes one
    assert length() == in_redis() == 3
    client.delete(*queue_keys(JOBS_QUEUE))
    assert length() == 0
    client.close()


def test_a_worker_that_cannot_reach_redis_says_so_and_shows_no_stale_figures() -> None:
    registry = CollectorRegistry()
    registry.register(
        JobsCollector(f"redis://127.0.0.1:{free_port()}/0", [JOBS_QUEUE], sorted(JOB_TASKS))
    )
    assert registry.get_sample_value("robocover_jobs_redis_up") == 0
    assert registry.get_sample_value("robocover_jobs_queue_length", {"queue": JOBS_QUEUE}) is None


def test_a_task_run_eagerly_is_counted_too(job_settings: JobSettings) -> None:
    """Celery's signals fire wherever a task runs: apply() in this process counts as well."""
    configure(job_settings)
    registry = metrics_registry(job_settings)
    assert earn_premium.apply(args=["not-a-date"]).state == "FAILURE"
    labels = {"task": EARN_PREMIUM, "outcome": "failed"}
    assert registry.get_sample_value("robocover_jobs_tasks_total", labels) == 1
