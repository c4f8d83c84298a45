"""The gateway as deployed: Debian's nginx, rendered by `cloud_api/gateway.py`, in front of real
`robocover api --domains ...` processes on real PostgreSQL and Redis, spoken to over TLS.

Pools as the deployment has them: core (identity, policy, billing, reports), claims (claims,
notifications), robots (robots, risk), one process each; and a pool of two identity processes
that the failover test alone kills. No timed assertion: a request that would hang fails on its
client's timeout (CLIENT_TIMEOUT_S), which is far above what an answer takes.
"""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import httpx
import psycopg
import pytest
from redis import Redis

from cloud_api.gateway import API_MAX_BODY_BYTES, Gateway, parse_pool
from cloud_api.identity.passwords import hash_password
from database.settings import CloudSettings
from tests.conftest import TEST_DB_PREFIX, create_database, drop_database
from tests.support.api_process import ApiProcess
from tests.support.nginx import GatewayDir, NginxProcess, local_listen

REDIS_DB = 12
CLIENT_TIMEOUT_S = 10.0
START_TIMEOUT_S = 120.0  # five processes importing at once on a busy machine
PASSWORD = "gateway-" + uuid.uuid4().hex
ADMIN = "admin@gateway.example"
POOLS = {  # pool: the domains its processes serve
    "core": "identity,policy,billing,reports",
    "claims": "claims,notifications",
    "robots": "robots,risk",
    "spare": "identity",  # the failover test's alone
}
# One GET of each domain, as an admin: 200 only from a process that serves the domain.
GETS = {
    "identity": "/v1/users",
    "policy": "/v1/policies",
    "billing": "/v1/invoices",
    "reports": "/v1/reports/premium?currency=EUR",
    "claims": "/v1/claims",
    "notifications": "/v1/notifications/deliveries",
    "robots": "/v1/robots",
    "risk": "/v1/robots/{robot_id}/risk-scores",
}


@dataclass(frozen=True)
class Stack:
    processes: dict[str, list[ApiProcess]]  # pool: its processes
    directory: GatewayDir
    gateway: NginxProcess  # core, claims and robots
    robot_id: str
    token: str  # an admin's

    def client(self) -> httpx.Client:
        """A client that trusts the test CA only, with the admin's token."""
        context = ssl.create_default_context(cafile=str(self.directory.tls.ca_file))
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(verify=context, timeout=CLIENT_TIMEOUT_S, headers=headers)


def gateway_config(processes: dict[str, list[ApiProcess]], *pools: str, **options: Any) -> Gateway:
    """A Gateway over these pools of processes, on ports of its own."""
    specs = []
    for pool in pools:
        servers = ",".join(f"127.0.0.1:{process.port}" for process in processes[pool])
        specs.append(parse_pool(f"{pool}={POOLS[pool]}@{servers}"))
    listen = {"listen": local_listen(), "http_listen": local_listen()}
    return Gateway(pools=tuple(specs), **(listen | options))


def _seed(database_url: str) -> str:
    """An admin, and a tenant with a robot; the robot's id."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (email, full_name, role, password_hash)"
            " VALUES (%s, 'Gateway Admin', 'admin', %s)",
            (ADMIN, hash_password(PASSWORD)),
        )
        row = conn.execute(
            "WITH t AS (INSERT INTO tenants (slug, name) VALUES ('acme', 'Acme') RETURNING id)"
            " INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model)"
            " SELECT id, 'gw-1', 'cobot', 'Acme', 'A1' FROM t RETURNING id"
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture(scope="module")
def stack(base_settings: CloudSettings, migrated_template: str) -> Iterator[Stack]:
    base_url = base_settings.libpq_url
    name = f"{TEST_DB_PREFIX}{os.getpid()}_gateway"
    drop_database(base_url, name)
    database_url = create_database(base_url, name, migrated_template)
    robot_id = _seed(database_url)
    redis_url = f"{str(base_settings.redis_url).rstrip('/0123456789')}/{REDIS_DB}"
    with Redis.from_url(redis_url) as redis:
        redis.flushdb()
    env = {
        "ROBOCOVER_DATABASE_URL": database_url,
        "ROBOCOVER_REDIS_URL": redis_url,
        "ROBOCOVER_LOG_LEVEL": "WARNING",
        **{f"ROBOCOVER_RATE_LIMIT_{c}": "1000000/minute" for c in ("READ", "WRITE", "AUTH")},
    }
    counts = {"core": 1, "claims": 1, "robots": 1, "spare": 2}
    processes = {
        pool: [ApiProcess(env, arguments=["--domains", POOLS[pool]]) for _ in range(count)]
        for pool, count in counts.items()
    }
    everyone = [process for pool in processes.values() for process in pool]
    directory = GatewayDir.make()
    gateway = NginxProcess(
        gateway_config(processes, "core", "claims", "robots", **directory.options("main")),
        directory,
        "main",
    )
    try:
        with ThreadPoolExecutor(len(everyone)) as starting:  # ~3 s of CPU each, at once
            list(starting.map(lambda process: process.start(START_TIMEOUT_S), everyone))
        token = httpx.post(
            f"{processes['core'][0].url}/v1/auth/token",
            data={"username": ADMIN, "password": PASSWORD},
            timeout=CLIENT_TIMEOUT_S,
        ).json()["access_token"]
        yield Stack(processes, directory, gateway.start(), robot_id, token)
    finally:
        gateway.stop()
        for process in everyone:
            process.stop()
        directory.remove()
        drop_database(base_url, name)


def gateway_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The body of one of nginx's own problem details (the API's carry no request_id)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"] == "about:blank"
    assert problem["request_id"] == response.headers["x-request-id"]
    return problem


def test_each_domain_reaches_its_own_pool_over_tls(stack: Stack) -> None:
    request_id = str(uuid.uuid4())
    with stack.client() as client:
        for domain, path in GETS.items():
            response = client.get(
                stack.gateway.https_url + path.format(robot_id=stack.robot_id),
                headers={"X-Request-ID": request_id},
            )
            # Each process serves its pool's domains only: a path sent to the wrong pool is a 404.
            assert response.status_code == 200, (domain, response.text)
            assert response.headers["x-request-id"] == request_id  # passed to the process
            assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_process_serves_its_domains_and_documents_only_them(stack: Stack) -> None:
    robots = stack.processes["robots"][0]
    headers = {"Authorization": f"Bearer {stack.token}"}
    claims = httpx.get(f"{robots.url}/v1/claims", headers=headers, timeout=CLIENT_TIMEOUT_S)
    assert claims.status_code == 404  # not a route of this process
    assert httpx.get(f"{robots.url}/metrics", timeout=CLIENT_TIMEOUT_S).status_code == 200
    document = httpx.get(f"{robots.url}/openapi.json", timeout=CLIENT_TIMEOUT_S).json()
    paths = set(document["paths"])
    assert "/v1/robots/{robot_id}/rescore" in paths
    assert "/v1/enrollments" in paths
    others = {p for p in paths if not p.startswith(("/v1/robots", "/v1/enrollments"))}
    assert others == {"/health", "/healthz", "/readyz"}  # the probes are served by every process


def test_paths_outside_the_domains_answer_404_problem_details_at_the_gateway(stack: Stack) -> None:
    with stack.client() as client:
        for path in ("/v1/nothing-here", "/metrics", "/readyz", "/v1"):
            problem = gateway_problem(client.get(stack.gateway.https_url + path), 404)
            assert problem["instance"] == path
        assert client.get(f"{stack.gateway.https_url}/healthz").json() == {"status": "ok"}
        plain = client.get(f"{stack.gateway.http_url}/v1/users")
        assert plain.status_code == 308
        port = stack.gateway.config.listen.rpartition(":")[2]
        assert plain.headers["location"] == f"https://127.0.0.1:{port}/v1/users"


def test_a_body_over_the_api_s_limit_is_413_problem_details_and_one_at_it_passes(
    stack: Stack,
) -> None:
    with stack.client() as client:
        url = f"{stack.gateway.https_url}/v1/claims"
        over = client.post(url, content=b"x" * (API_MAX_BODY_BYTES + 1))
        problem = gateway_problem(over, 413)
        assert str(API_MAX_BODY_BYTES) in problem["detail"]
        at_limit = client.post(url, content=b"x" * API_MAX_BODY_BYTES)
        # The process read it: not JSON, a problem of the API's own (no request_id member).
        assert at_limit.status_code in (400, 422), at_limit.text
        assert "request_id" not in at_limit.json()


def test_over_the_rate_limit_a_client_gets_429_problem_details(stack: Stack) -> None:
    strict = replace(
        stack.gateway.config,
        listen=local_listen(),
        http_listen=None,
        rate_limit="1r/m",
        rate_burst=1,
        **stack.directory.options("strict"),
    )
    gateway = NginxProcess(strict, stack.directory, "strict").start()
    try:
        with stack.client() as client:
            for _ in range(2):  # the rate's one, and the burst's one
                assert client.get(f"{gateway.https_url}/v1/users").status_code == 200
            refused = client.get(f"{gateway.https_url}/v1/users")
            assert gateway_problem(refused, 429)["title"] == "Too many requests"
            assert refused.headers["retry-after"] == "1"
            other = client.get(f"{stack.gateway.https_url}/v1/users")  # its own limits
            assert other.status_code == 200
    finally:
        gateway.stop()


def test_kill_one_process_requests_keep_succeeding_kill_the_pool_503_at_once(
    stack: Stack,
) -> None:
    """GETs and POSTs go on through the process left: a connection refused is a request never
    sent, which nginx passes to the next process (POSTs included). With no process left the pool
    answers 503 problem details, not a hang; the other domains are not routed by this gateway."""
    config = gateway_config(stack.processes, "spare", **stack.directory.options("failover"))
    gateway = NginxProcess(config, stack.directory, "failover").start()
    first, second = stack.processes["spare"]
    sign_in = {"username": ADMIN, "password": PASSWORD}
    try:
        with stack.client() as client:
            users, token = f"{gateway.https_url}/v1/users", f"{gateway.https_url}/v1/auth/token"
            assert client.get(users).status_code == 200
            assert first.process is not None
            first.process.kill()  # a crash: no goodbye
            first.process.wait()
            for _ in range(4):  # round robin would send every other one to the dead process
                assert client.get(users).status_code == 200
                assert client.post(token, data=sign_in).status_code == 200
            assert "Connection refused" in gateway.error_log()
            unrouted = gateway_problem(client.get(f"{gateway.https_url}/v1/claims"), 404)
            assert unrouted["detail"] == "no domain of the API answers this path"

            assert second.process is not None
            second.process.kill()
            second.process.wait()
            for response in (client.get(users), client.post(token, data=sign_in)):
                problem = gateway_problem(response, 503)
                assert problem["title"] == "Service unavailable"
                assert response.headers["retry-after"] == "1"
    finally:
        gateway.stop()
