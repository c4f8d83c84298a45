"""What Prometheus would scrape from the real processes: a real `robocover jobs` (Celery's
prefork pool, whose children run the tasks) counts a failing and a succeeding run by task;
and every metric the alert rules and the dashboard read is exported by one of a real
`robocover jobs`, a real `robocover ingest` and an API application."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings, JobSettings
from cloud_api.worker import EARN_PREMIUM, EXPIRE_TERMS, JOB_TASKS, JOBS_QUEUE
from database.settings import CloudSettings
from tests.conftest import TEST_DB_PREFIX, create_database, drop_database
from tests.integration.ops.monitoring_files import (
    MADE_BY_PROMETHEUS,
    alert_rules,
    dashboard_queries,
    exported_series,
    metric_names,
)
from tests.support.broker import MosquittoBroker
from tests.support.ingest_process import IngestProcess
from tests.support.jobs_process import JobsProcess, jobs_client

with warnings.catch_warnings():
    # Starlette 1.x asks for its httpx fork, which this environment does not install.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

REDIS_DB = 10
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def database(base_settings: CloudSettings, migrated_template: str) -> Iterator[CloudSettings]:
    """A migrated database of this module's own, for its processes."""
    name = f"{TEST_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}_ops"
    url = create_database(base_settings.libpq_url, name, migrated_template)
    yield base_settings.model_copy(update={"database_url": url})
    drop_database(base_settings.libpq_url, name)


@pytest.fixture(scope="module")
def job_settings(database: CloudSettings) -> Iterator[JobSettings]:
    url = f"redis://{database.redis_url.host}:{database.redis_url.port}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield JobSettings(database_url=database.database_url, redis_url=url)
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def processes(
    database: CloudSettings, job_settings: JobSettings, mqtt_broker: MosquittoBroker
) -> Iterator[tuple[JobsProcess, IngestProcess]]:
    """A real worker and a real ingest, started side by side."""
    worker = JobsProcess(job_settings, concurrency=2)
    ingest = IngestProcess(database, mqtt_broker)
    with ThreadPoolExecutor(2) as pool:
        started: list[Future[object]] = [pool.submit(worker.start), pool.submit(ingest.start)]
    try:
        for future in started:
            future.result()
        yield worker, ingest
    finally:
        worker.stop()
        if ingest.process is not None:
            ingest.kill(signal.SIGTERM)
            # Or the shared broker goes on handing this session a share of the next tests'
            # messages (a later test's robot then had gaps: its share went to no process).
            ingest.retire()


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def runs(found: Samples, task: str, outcome: str) -> float | None:
    key = frozenset({("task", task), ("outcome", outcome)})
    return found.get(("robocover_jobs_tasks_total", key))


def test_a_real_worker_counts_a_failing_and_a_succeeding_task_by_name(
    job_settings: JobSettings, processes: tuple[JobsProcess, IngestProcess]
) -> None:
    worker, _ = processes
    before = samples(worker.metrics())
    with jobs_client(job_settings) as app:
        failing = app.send_task(EARN_PREMIUM, args=["not-a-date"])
        with pytest.raises(ValueError, match="not-a-date"):
            failing.get(timeout=60)
        assert app.send_task(EXPIRE_TERMS).get(timeout=60) == 0
        assert worker.process is not None  # a node name of its own, not celery@host
        names = [name for answer in app.control.ping(timeout=5) for name in answer]
        assert f"jobs-{worker.process.pid}@{socket.gethostname()}" in names
    # The result is stored a moment before the run is counted: wait for the count.
    deadline = time.monotonic() + 30
    after = samples(worker.metrics())
    while not (runs(after, EARN_PREMIUM, "failed") and runs(after, EXPIRE_TERMS, "succeeded")):
        if time.monotonic() > deadline:
            pytest.fail(f"the runs were not counted: {after}")
        time.sleep(0.1)
        after = samples(worker.metrics())
    for task in JOB_TASKS:  # every job from 0, so that its first failure shows as an increase
        assert runs(before, task, "failed") == 0
        assert runs(before, task, "succeeded") == 0
    assert runs(after, EARN_PREMIUM, "failed") == 1
    assert runs(after, EARN_PREMIUM, "succeeded") == 0
    assert runs(after, EXPIRE_TERMS, "succeeded") == 1
    assert runs(after, EXPIRE_TERMS, "failed") == 0
    assert after[("robocover_jobs_redis_up", frozenset())] == 1
    assert after[("robocover_payments_database_up", frozenset())] == 1
    assert after[("robocover_claim_payouts_database_up", frozenset())] == 1
    assert after[("robocover_claim_payouts_pending", frozenset())] == 0
    assert after[("robocover_jobs_queue_length", frozenset({("queue", JOBS_QUEUE)}))] == 0


def test_every_metric_the_alerts_and_the_dashboard_read_is_exported_by_a_process(
    api_settings: ApiSettings, processes: tuple[JobsProcess, IngestProcess]
) -> None:
    worker, ingest = processes
    with TestClient(create_app(api_settings)) as client:
        assert client.get("/healthz").status_code == 200
        api = client.get("/metrics").text
    exported = {
        "api": exported_series(api),
        "worker": exported_series(worker.metrics()),
        "ingest": exported_series(ingest.metrics()),
    }
    everywhere = set().union(*exported.values())
    read = {
        name: where
        for where, queries in (
            ("alerts.yml", [rule["expr"] for rule in alert_rules()]),
            ("robocover.json", dashboard_queries()),
        )
        for query in queries
        for name in metric_names(query)
    }
    assert len(read) > 20, read  # the extraction found the queries' metrics
    missing = {name: where for name, where in read.items() if name not in everywhere}
    assert set(missing) <= MADE_BY_PROMETHEUS, f"read but exported by no process: {missing}"
    # Each kind of process exports what its alerts read.
    assert "http_request_duration_seconds_bucket" in exported["api"]
    assert "ingest_message_delay_seconds_bucket" in exported["ingest"]
    assert "robocover_payments_failed_total" in exported["worker"]
    assert "robocover_claim_payouts_failed_total" in exported["worker"]
    assert "robocover_claim_payouts_oldest_pending_seconds" in exported["worker"]
