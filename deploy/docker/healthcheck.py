"""The cloud image's health check: one HEALTHCHECK for every process the image runs.

The process is PID 1's command line (``robocover api ...``; behind ``docker run --init`` too), or
the first argument (Kubernetes' exec probes name it). Exit 0 healthy, 1 not:

- ``api``: GET /healthz on 127.0.0.1:$ROBOCOVER_API_PORT (the process answers);
- ``ingest``: GET /health on 127.0.0.1:$ROBOCOVER_HTTP_PORT (connected to broker and database);
- ``jobs``, ``risk``: a Celery ping answered by this container's worker (``celery@<hostname>``);
- anything else (``migrate``, one-shot commands): nothing to check.

Each check is bounded in time. Secrets are never printed: only a status line.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

TIMEOUT_S = 5.0
# The settings' own defaults (cloud_api/settings.py ApiSettings.api_port, ingest/settings.py
# IngestSettings.http_port); tests/unit/deploy holds them together.
DEFAULT_API_PORT = 8000
DEFAULT_INGEST_PORT = 9464
HTTP_CHECKS = {
    "api": ("ROBOCOVER_API_PORT", DEFAULT_API_PORT, "/healthz"),
    "ingest": ("ROBOCOVER_HTTP_PORT", DEFAULT_INGEST_PORT, "/health"),
}
CELERY_PROCESSES = ("jobs", "risk")


def process_of(argv: Sequence[str]) -> str | None:
    """The robocover subcommand in a command line: the word after the `robocover` program."""
    for index, word in enumerate(argv):
        if os.path.basename(word) == "robocover" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def pid1_argv() -> list[str]:
    try:
        with open("/proc/1/cmdline", "rb") as cmdline:
            return [part.decode() for part in cmdline.read().split(b"\0") if part]
    except OSError:
        return []


def check_http(process: str, environ: dict[str, str]) -> bool:
    variable, default, path = HTTP_CHECKS[process]
    port = int(environ.get(variable) or default)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def check_celery(process: str) -> bool:
    """This container's worker answers a ping through the broker (Redis)."""
    if process == "jobs":
        from cloud_api.settings import JobSettings
        from cloud_api.worker import configure as configure_jobs

        app = configure_jobs(JobSettings())
    else:
        from risk_engine.settings import WorkerSettings
        from risk_engine.worker import configure as configure_risk

        app = configure_risk(WorkerSettings())
    replies = app.control.ping(destination=[f"celery@{socket.gethostname()}"], timeout=TIMEOUT_S)
    return bool(replies)


def main(argv: Sequence[str]) -> int:
    process = argv[0] if argv else process_of(pid1_argv())
    if process in HTTP_CHECKS:
        healthy = check_http(process, dict(os.environ))
    elif process in CELERY_PROCESSES:
        healthy = check_celery(process)
    else:
        print(f"healthcheck: nothing to check for {process or 'this process'}")
        return 0
    print(f"healthcheck: {process} {'healthy' if healthy else 'unhealthy'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
