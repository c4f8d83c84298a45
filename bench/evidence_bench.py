"""Benchmark of issue 13: a claim's evidence snapshot over a day of 100 metrics at 1 Hz
(8,640,000 samples, a batch every 10 s, hourly rollups, events) against a raw SQL baseline of
the same work in the same run.

robocover: ``cloud_api.claims.evidence`` as first notice runs it: the snapshot's queries
(``collect``), the values made JSON-native, the flags and the SHA-256 digest. Baseline: the
same SQL statements run by psycopg with their rows fetched, nothing else. Alternating rounds;
the median and p99 of each.

Run: `python bench/evidence_bench.py [--rounds N] [--output docs/benchmarks.md]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine, write_section
from bench.risk_bench import scratch_database
from cloud_api.claims import evidence
from cloud_api.claims import evidence_repository as queries
from database.models import Claim
from database.settings import CloudSettings
from migrations.runner import upgrade

METRICS = 100
LOSS = datetime(2026, 11, 20, 14, 30, 30, tzinfo=UTC)

DATA = """
INSERT INTO tenants (id, slug, name) VALUES (:tenant, 'bench', 'Bench');
INSERT INTO robots (id, tenant_id, serial_number, robot_class, manufacturer, model, status)
VALUES (:robot, :tenant, 'EV-1', 'cobot', 'Acme', 'R1', 'pending');
INSERT INTO metrics (key, name, channel, unit)
SELECT 'bench_metric_' || n || '.0', 'bench_metric_' || n, 0, '1' FROM generate_series(1, 100) n;
INSERT INTO telemetry (time, robot_id, metric_id, value, seq)
SELECT t, :robot, m.id, sin(extract(epoch FROM t) / 300 + m.id) * 10 + m.id,
    1 + (extract(epoch FROM t - :start)::bigint / 10)
FROM generate_series(CAST(:start AS timestamptz), CAST(:end AS timestamptz) - interval '1 s',
    interval '1 s') t, metrics m;
INSERT INTO telemetry_hourly (robot_id, metric_id, bucket, samples, total, total_sq, minimum,
    maximum, last_time, last_value)
SELECT robot_id, metric_id, date_trunc('hour', time), count(*), sum(value), sum(value * value),
    min(value), max(value), max(time), 0 FROM telemetry GROUP BY 1, 2, 3;
INSERT INTO batch_receipts (robot_id, seq, kind, digest, prev_digest, boot_id, device_time,
    received_at, clock_offset_s, clock_shift_s, sample_count)
SELECT :robot, 1 + n, 'telemetry', sha256(int8send(n)), sha256(int8send(n - 1)), :boot,
    CAST(:start AS timestamptz) + n * interval '10 s',
    CAST(:start AS timestamptz) + n * interval '10 s' + interval '11 s', 0.1, 0, 1000
FROM generate_series(0, 8639) n;
INSERT INTO robot_events (time, robot_id, seq, position, kind, severity)
SELECT CAST(:start AS timestamptz) + n * interval '7 min', :robot, 1 + n * 42, 0,
    (ARRAY['protective_stop', 'fault', 'collision'])[1 + n % 3], 2
FROM generate_series(0, 200) n;
ANALYZE
"""


def seed(url: str, robot: uuid.UUID) -> float:
    began = time.perf_counter()
    start, end = LOSS - timedelta(days=1), LOSS + timedelta(hours=1)
    parameters = {
        "tenant": uuid.uuid4(),
        "robot": robot,
        "boot": uuid.uuid4(),
        "start": start,
        "end": end,
    }
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        for statement in DATA.split(";\n"):
            if statement.strip():
                used = {k: v for k, v in parameters.items() if f":{k}" in statement}
                conn.execute(text(statement), used)
    engine.dispose()
    return time.perf_counter() - began


def ours(session: Session, robot: uuid.UUID, rules: evidence.EvidenceRules) -> float:
    began = time.perf_counter()
    claim = Claim(
        id=uuid.uuid4(),
        robot_id=robot,
        loss_at=LOSS,
        reported_at=LOSS + timedelta(hours=2),
        coverage_check={"reasons": []},
    )
    snapshot = evidence._normalised(evidence.collect(session, robot, LOSS, rules))
    flags = evidence.flags_of(snapshot, claim, LOSS, rules)
    evidence.digest_of({"snapshot": snapshot, "flags": flags})
    return time.perf_counter() - began


def baseline(conn: psycopg.Connection, robot: uuid.UUID, rules: evidence.EvidenceRules) -> float:
    """The same statements, their rows fetched: no assembly, flags or digest."""
    start, end = LOSS - rules.before, LOSS + rules.after
    near = (LOSS - rules.close_up, LOSS + rules.close_up)
    began = time.perf_counter()
    window: dict[str, object] = {"robot": robot, "start": start, "end": end}
    statements: list[tuple[Any, dict[str, object]]] = [
        (queries._ROBOT, {"robot": robot}),
        (queries._EVENTS, {**window, "limit": queries.MAX_EVENTS}),
        (queries._HOURLY, window),
        (
            queries._CLOSE_UP,
            {"robot": robot, "start": near[0], "end": near[1], "step": timedelta(minutes=1)},
        ),
        (queries._REFUSED, window),
        (queries._TAMPER_CASES, {"robot": robot}),
        (queries._EDGE_SEQ, window),
    ]
    for query, parameters in statements:
        conn.execute(_psycopg(query.text), parameters).fetchall()
    seqs = {"robot": robot, "first": 1, "last": 8640}
    conn.execute(_psycopg(queries._RECEIPTS.text), seqs).fetchall()
    conn.execute(_psycopg(queries._SILENCES.text), {**seqs, "silence": rules.silence}).fetchall()
    conn.execute(_psycopg(queries._GAPS.text), seqs).fetchall()
    return time.perf_counter() - began


def _psycopg(statement: str) -> str:
    """A SQLAlchemy text() statement's :name parameters in psycopg's %(name)s form."""
    import re

    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement.replace("%", "%%"))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(rounds: int) -> str:
    settings = CloudSettings()
    robot = uuid.uuid4()
    rules = evidence.EvidenceRules()
    with scratch_database(settings) as url:
        upgrade(url)
        seeded = seed(url, robot)
        engine = create_engine(url, poolclass=pool.NullPool)
        mine, raw = [], []
        with (
            Session(engine) as session,
            psycopg.connect(url.replace("+psycopg", "")) as conn,
        ):
            for _ in range(3):  # warm both paths
                ours(session, robot, rules)
                baseline(conn, robot, rules)
            for _ in range(rounds):
                mine.append(ours(session, robot, rules))
                raw.append(baseline(conn, robot, rules))
        engine.dispose()
    today = datetime.now(UTC).date()
    rows = [
        ("robocover `evidence.collect` + flags + digest", mine),
        ("baseline: the same SQL statements, rows fetched by psycopg", raw),
    ]
    return "\n".join(
        [
            f"Generated by `python bench/evidence_bench.py` on {today}. Machine: {machine()}.",
            "",
            f"A day of {METRICS} metrics at 1 Hz ({METRICS * 86_400:,} samples, 8,640 batches,"
            f" 201 events; seeded in {seeded:.0f} s), {rounds} alternating rounds."
            " Goal: under 200 ms.",
            "",
            "| implementation | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|",
            *(
                f"| {label} | {1000 * statistics.median(t):.0f} |"
                f" {1000 * percentile(t, 99):.0f} | {1000 * max(t):.0f} |"
                for label, t in rows
            ),
            "",
            f"robocover / baseline at the median: "
            f"{statistics.median(mine) / statistics.median(raw):.2f}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--output", type=Path, help="Write the section into this Markdown file.")
    args = parser.parse_args(argv)
    section = run(args.rounds)
    print(section)
    if args.output is not None:
        write_section(
            args.output,
            "evidence",
            "Claims: evidence snapshot (`bench/evidence_bench.py`)",
            section,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
