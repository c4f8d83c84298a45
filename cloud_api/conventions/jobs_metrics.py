"""Prometheus metrics of a Celery worker, served at /metrics on a port of its own.

- ``robocover_jobs_tasks_total{task, outcome}``: task runs that ``succeeded`` or ``failed``,
  each of the worker's tasks exported from 0 (a series first seen at 1 would hide that first
  failure from ``increase()``).
  Celery's prefork pool runs tasks in child processes, where its task signals fire and which a
  counter in the parent's memory would never see; so each run is counted in a Redis hash (one
  HINCRBY, from whichever process ran it) and read at scrape time. The figure is the jobs'
  whole, the same from every worker (sum nothing across workers: take the max), and it
  survives a worker's restart.
- ``robocover_jobs_queue_length{queue}``: the messages waiting in each of the worker's queues,
  read at scrape time from Redis (kombu keeps a queue as one list per priority step: summed).
- ``robocover_jobs_redis_up``: 1 when Redis answered this scrape; 0 and no figures otherwise.

The registry also carries whatever other collectors the worker gives (billing's payments).
Every figure is read from Redis or the database when scraped, none is kept in memory, so
/metrics is served by a process of its own (``MetricsProcess``), spawned, not forked, by the
worker's main process: a thread serving scrapes inside the worker would be copied, mid-import
or holding a lock, into the pool's children Celery forks, which then hang on that lock.
Nothing here connects at import.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar
from wsgiref.simple_server import WSGIServer

import redis
from loguru import logger
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

TASK_RUNS_KEY = "robocover:jobs:task_runs"
"""Redis hash: ``<outcome> <task name>`` -> runs."""
OUTCOMES = ("succeeded", "failed")
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
"""kombu's Redis transport: a message of priority p waits in ``queue`` (p = 0) or in
``queue + separator + step`` for the step p falls in."""
REDIS_TIMEOUT_S = 2.0
Settings = TypeVar("Settings")


def count_task_run(client: redis.Redis, task: str, outcome: str) -> None:
    """Count one run of ``task`` (``succeeded`` or ``failed``); a Redis failure is logged, never
    raised: the task's own outcome stands."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    try:
        client.hincrby(TASK_RUNS_KEY, f"{outcome} {task}", 1)
    except redis.RedisError as error:
        logger.warning("task run of {} not counted: {}", task, error)


def queue_keys(queue: str) -> list[str]:
    """The Redis lists holding ``queue``'s messages, one per priority step."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


class JobsCollector(Collector):
    """Queue lengths and task runs, read from Redis when scraped."""

    def __init__(self, redis_url: str, queues: Sequence[str], tasks: Sequence[str]) -> None:
        self._redis_url = redis_url
        self._queues = tuple(queues)
        self._tasks = tuple(sorted(tasks))

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("robocover_jobs_redis_up", "1 if Redis answered this scrape")
        lengths = GaugeMetricFamily(
            "robocover_jobs_queue_length", "Messages waiting in the queue", labels=["queue"]
        )
        runs = CounterMetricFamily(
            "robocover_jobs_tasks", "Task runs, by task and outcome", labels=["task", "outcome"]
        )
        try:
            waiting, counted = self._read()
        except redis.RedisError as error:
            logger.warning("jobs metrics: Redis did not answer: {}", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue, length in waiting.items():
            lengths.add_metric([queue], length)
        for (task, outcome), value in sorted(counted.items()):
            runs.add_metric([task, outcome], value)
        yield from (up, lengths, runs)

    def _read(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        client = redis.Redis.from_url(
            self._redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        try:
            pipe = client.pipeline(transaction=False)
            for queue in self._queues:
                for key in queue_keys(queue):
                    pipe.llen(key)
            pipe.hgetall(TASK_RUNS_KEY)
            *lists, tally = pipe.execute()
        finally:
            client.close()
        steps = len(PRIORITY_STEPS)
        waiting = {
            queue: sum(lists[i * steps : (i + 1) * steps]) for i, queue in enumerate(self._queues)
        }
        counted = {(task, outcome): 0 for task in self._tasks for outcome in OUTCOMES}
        for field, value in tally.items():
            outcome, _, task = field.decode().partition(" ")
            counted[task, outcome] = int(value)
        return waiting, counted


def jobs_registry(
    redis_url: str,
    queues: Sequence[str],
    tasks: Sequence[str],
    others: Iterable[Collector] = (),
) -> CollectorRegistry:
    """A registry of the jobs' collectors and ``others``, not the process-wide default."""
    registry = CollectorRegistry()
    registry.register(JobsCollector(redis_url, queues, tasks))
    for collector in others:
        registry.register(collector)
    return registry


def serve_metrics(host: str, port: int, registry: CollectorRegistry) -> WSGIServer:
    """Serve ``registry`` at ``host:port`` from a daemon thread; ``shutdown()`` stops it."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def _serve(
    host: str,
    port: int,
    registry: Callable[[Settings], CollectorRegistry],
    settings: Settings,
    parent: int,
) -> None:
    """The metrics process: serve until asked to stop or the worker that started it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the worker's to handle
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        serve_metrics(host, port, registry(settings))
    except OSError as error:
        logger.error("the jobs worker's /metrics is not served on {}:{}: {}", host, port, error)
        return
    logger.info("jobs metrics at http://{}:{}/metrics", host, port)
    while os.getppid() == parent:
        time.sleep(1.0)


class MetricsProcess(Generic[Settings]):
    """/metrics at ``host:port`` from a spawned process that builds its registry with
    ``registry(settings)`` (a module-level function and picklable settings, for the spawn)."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: Callable[[Settings], CollectorRegistry],
        settings: Settings,
    ) -> None:
        self._args = (host, port, registry, settings, os.getpid())
        self._process: BaseProcess | None = None

    def start(self) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._process = spawn.Process(
            target=_serve, args=self._args, name="robocover-jobs-metrics", daemon=True
        )
        self._process.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._process is None:
            return
        self._process.terminate()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process = None
