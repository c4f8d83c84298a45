"""API benchmark: authenticated reads of the insurer API under a real HTTP load generator, side
by side in one run with a bare FastAPI endpoint served the same way (the ceiling).

    python bench/api_bench.py [--robots 2000] [--seconds 20] [--output docs/benchmarks.md]

A migrated database of the run's own holds one fleet (``--robots`` robots, 30 risk scores each
for the first 200) and a policyholder of it. `robocover api` runs as its own process (uvicorn,
one worker, access log off, rate limits out of the way); the bare app (bench/api_bare.py) runs
the same way. locust (FastHttpUser, bench/api_locustfile.py) loads, from its own process:
robot detail, a page of 50 robots, a robot's risk history, each with the policyholder's bearer
token (so authentication, the permission table and tenant scoping are in every request), and
the bare endpoint. Per target: the throughput as fast as it answers (32 users, no wait), then
the latency at a fixed 500 requests/s (50 users at 10/s each). Load generator, API, PostgreSQL
and Redis share the machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest_bench import Scratch
from bench.report import machine, write_section
from cloud_api.identity.passwords import hash_password
from database.settings import CloudSettings
from tests.support.api_process import ApiProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "bench-" + uuid.uuid4().hex
EMAIL = "owner@fleet-1.example"
SCORED_ROBOTS = 200
SCORES_PER_ROBOT = 30
TARGET_RPS = 500
LATENCY_USERS = 50
THROUGHPUT_USERS = 32


@dataclass(frozen=True, slots=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    failures: int
    requests: int


def seed(settings: CloudSettings, robots: int) -> uuid.UUID:
    """One fleet, its robots, risk histories and a policyholder; the robot to read in detail."""
    with psycopg.connect(settings.libpq_url) as conn:
        tenant = conn.execute(
            "INSERT INTO tenants (slug, name) VALUES ('fleet-1', 'Fleet One') RETURNING id"
        ).fetchone()
        assert tenant is not None
        conn.execute(
            "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model,"
            " status, online, firmware_version, last_seen_at)"
            " SELECT %s, 'SN-' || lpad(i::text, 6, '0'), 'cobot', 'Acme', 'A1', 'pending',"
            " i %% 3 = 0, '1.4.2', now() - i * interval '1 second'"
            " FROM generate_series(1, %s) AS i",
            (tenant[0], robots),
        )
        plan = conn.execute(
            "INSERT INTO rating_plans (name, status, effective_from, currency, body, created_by,"
            " approved_by, approved_at) VALUES ('bench', 'approved', now() - interval '1 year',"
            " 'EUR', '{}', 'bench', 'bench-actuary', now())"
            " RETURNING version"
        ).fetchone()
        assert plan is not None
        conn.execute(
            "INSERT INTO risk_scores (robot_id, scored_at, period_start, plan_version, trigger,"
            " currency, annual_hours, expected_frequency, expected_severity, pure_premium,"
            " credibility, experience_mod, technical_premium, reference_premium, premium,"
            " features, contributions, reasons)"
            " SELECT r.id, now() - s * interval '1 day', now() - s * interval '1 day', %s,"
            " 'schedule', 'EUR', 2000, 0.1, 5000, 500, 0.5, 1.0, 550, 520, 540,"
            ' \'{"hours": 2000}\', \'{"base": 0.0, "class": 0.1}\','
            ' \'[{"factor": "class", "effect": 0.1}]\''
            " FROM (SELECT id FROM robots ORDER BY serial_number LIMIT %s) AS r,"
            " generate_series(1, %s) AS s",
            (plan[0], SCORED_ROBOTS, SCORES_PER_ROBOT),
        )
        conn.execute(
            "INSERT INTO users (email, full_name, role, tenant_id, password_hash)"
            " VALUES (%s, 'Fleet Owner', 'policyholder', %s, %s)",
            (EMAIL, tenant[0], hash_password(PASSWORD)),
        )
        first = conn.execute("SELECT id FROM robots ORDER BY serial_number LIMIT 1").fetchone()
        assert first is not None
        robot_id: uuid.UUID = first[0]
        return robot_id


class BareServer:
    """The bare app under uvicorn, as `robocover api` is served; stopped with SIGTERM."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], ready_path: str) -> None:
        self.port = port
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}{ready_path}", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{argv[0]} did not start on port {port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def load(url: str, path: str, token: str, *, users: int, rate: float, seconds: int) -> Result:
    """One locust run, headless, from its own process; its CSV summary read back."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "run"
        env = {**os.environ, "BENCH_PATH": path, "BENCH_TOKEN": token, "BENCH_RATE": str(rate)}
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(ROOT / "bench" / "api_locustfile.py"),
                "--headless",
                "--host",
                url,
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--run-time",
                f"{seconds}s",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with open(f"{prefix}_stats.csv", newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return Result(
        rps=float(row["Requests/s"]),
        p50_ms=float(row["50%"]),
        p99_ms=float(row["99%"]),
        failures=int(row["Failure Count"]),
        requests=int(row["Request Count"]),
    )


def run(robots: int, seconds: int) -> str:
    base = CloudSettings()
    with Scratch(base, f"bench_api_{os.getpid()}") as scratch:
        robot_id = seed(scratch.settings, robots)
        api_port, bare_port = free_port(), free_port()
        env = {
            "ROBOCOVER_DATABASE_URL": scratch.settings.libpq_url,
            "ROBOCOVER_LOG_LEVEL": "WARNING",
            **{f"ROBOCOVER_RATE_LIMIT_{c}": "10000000/minute" for c in ("READ", "WRITE", "AUTH")},
        }
        api = ApiProcess(env, port=api_port).start()
        bare = BareServer(
            [
                str(BIN / "uvicorn"),
                "bench.api_bare:app",
                "--port",
                str(bare_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            bare_port,
            {**os.environ, "PYTHONPATH": str(ROOT)},
            "/docs",
        )
        try:
            signed_in = httpx.post(
                f"{api.url}/v1/auth/token", data={"username": EMAIL, "password": PASSWORD}
            )
            signed_in.raise_for_status()
            token = signed_in.json()["access_token"]
            targets = [
                ("bare FastAPI endpoint (the ceiling)", bare.url, "/bare/robot"),
                ("robot detail", api.url, f"/v1/robots/{robot_id}"),
                ("a page of 50 robots", api.url, "/v1/robots?limit=50"),
                (
                    "a robot's risk history (30 scores)",
                    api.url,
                    f"/v1/robots/{robot_id}/risk-scores",
                ),
            ]
            results: dict[str, tuple[Result, Result]] = {}
            for name, url, path in targets:
                check = httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"})
                if check.status_code != 200:
                    raise RuntimeError(f"{path}: {check.status_code} {check.text[:300]}")
                most = load(url, path, token, users=THROUGHPUT_USERS, rate=0, seconds=seconds)
                fixed = load(
                    url,
                    path,
                    token,
                    users=LATENCY_USERS,
                    rate=TARGET_RPS / LATENCY_USERS,
                    seconds=seconds,
                )
                results[name] = (most, fixed)
        finally:
            api.stop()
            bare.stop()
    return report(results, robots, seconds)


def report(results: dict[str, tuple[Result, Result]], robots: int, seconds: int) -> str:
    ceiling = next(iter(results.values()))[0].rps
    lines = [
        f"Generated by `python bench/api_bench.py --robots {robots} --seconds {seconds}` on {date.today()}.",
        f"Machine: {machine()}. locust, the API (one uvicorn process), PostgreSQL and Redis share it.",
        "",
        f"Each read as a policyholder with a bearer token (signature, claims, denylist in Redis, the user's row, the permission table, tenant scoping); {robots} robots in the fleet. Throughput: {THROUGHPUT_USERS} users without pause for {seconds} s. Latency: {LATENCY_USERS} users at {TARGET_RPS / LATENCY_USERS:.0f}/s each, {TARGET_RPS} requests/s offered, for {seconds} s.",
        "",
        "| read | requests/s, most | ratio to the bare endpoint | at 500/s offered: achieved | p50 ms | p99 ms | failures |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (most, fixed) in results.items():
        lines.append(
            f"| {name} | {most.rps:,.0f} | {most.rps / ceiling:.2f} | {fixed.rps:,.0f} | {fixed.p50_ms:.0f} | {fixed.p99_ms:.0f} | {most.failures + fixed.failures} of {most.requests + fixed.requests:,} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    section = run(args.robots, args.seconds)
    sys.stdout.write(section)
    if args.output is not None:
        write_section(args.output, "api", "API (`bench/api_bench.py`)", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
