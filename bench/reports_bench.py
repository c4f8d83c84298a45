"""Benchmark of issue 13: the reports over a million premium and claim rows (under 2 s), against
a raw SQL baseline of the same work in the same run.

The book: 500,000 ledger lines of written and earned premium over three years (250,000 entries),
and 100,000 claims over the same years with 500,000 movements (400,000 reserve rows and 100,000
payments) on 10,000 robots of three classes; 5,000 one-year policies of ten robots on two
coverages, each issued then endorsed (10,000 versions, 200,000 schedule lines). robocover:
``cloud_api.reports.service.premium`` (by month), ``.reserves`` (by quarter: the triangle, the
chain ladder and Mack's errors) and ``.classes`` (by quarter, measured on its own too).
Baseline: the same SQL statements run by psycopg with their rows fetched, nothing else, on a
connection without JIT as the reports' transactions are.
Alternating rounds; median and p99.

Run: `python bench/reports_bench.py [--rounds N] [--output docs/benchmarks.md]`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine, write_section
from bench.risk_bench import scratch_database
from cloud_api.reports import repository, service
from cloud_api.reports.schemas import Period
from database.settings import CloudSettings
from migrations.runner import upgrade

VALUATION = datetime(2026, 12, 1, tzinfo=UTC)

BOOK = """
INSERT INTO tenants (id, slug, name) VALUES (:tenant, 'bench', 'Bench');
INSERT INTO robots (id, tenant_id, serial_number, robot_class, manufacturer, model, status)
SELECT md5('robot' || n)::uuid, :tenant, 'RB-' || n,
    (ARRAY['industrial_arm', 'cobot', 'mobile_robot'])[1 + n % 3], 'Acme', 'R1', 'pending'
FROM generate_series(0, 9999) n;
INSERT INTO rating_plans (name, status, effective_from, currency, body, created_by, approved_by,
    approved_at) VALUES ('bench', 'approved', '2023-01-01', 'EUR', '{}', 'bench', 'bench', now());
INSERT INTO products (id, code, version, name, status, currency, terms, created_by,
    activated_at, activated_by)
VALUES (:product, 'bench', 1, 'Bench', 'active', 'EUR', '{}', 'bench', now(), 'bench');
INSERT INTO quotes (id, tenant_id, product_id, plan_version, status, jurisdiction, currency,
    term_start, term_end, premium_minor, tax_minor, created_at, expires_at, created_by)
VALUES (:quote, :tenant, :product, 1, 'bound', 'DE', 'EUR', '2024-01-01', '2027-01-01', 0, 0,
    '2024-01-01', '2024-02-01', 'bench');
INSERT INTO policies (id, number, tenant_id, product_id, quote_id, status, jurisdiction,
    currency, term_start, term_end, version, created_at)
VALUES (:policy, 'RC-B-1', :tenant, :product, :quote, 'in_force', 'DE', 'EUR', '2024-01-01',
    '2027-01-01', 1, '2024-01-01');
ALTER TABLE ledger_lines DISABLE TRIGGER ledger_lines_balanced;
INSERT INTO ledger_entries (id, tenant_id, policy_id, kind, reference, booked_on, memo)
SELECT n, :tenant, :policy, 'premium_earned', 'bench:' || n,
    DATE '2024-01-01' + (n % 1065), 'bench' FROM generate_series(1, 250000) n;
INSERT INTO ledger_lines (entry_id, account, currency, amount_minor)
SELECT n, a.account, 'EUR', a.sign * (1000 + n % 5000)
FROM generate_series(1, 250000) n,
    (VALUES ('written_premium', -1), ('earned_premium', -1)) AS a(account, sign);
ALTER TABLE ledger_lines ENABLE TRIGGER ledger_lines_balanced;
INSERT INTO claims (id, number, tenant_id, policy_id, robot_id, coverage, status, loss_at,
    reported_at, reported_by, description, currency, covered, coverage_check, updated_at)
SELECT md5(n::text)::uuid, 'CL-B-' || n, :tenant, :policy, md5('robot' || n % 10000)::uuid,
    'breakdown', 'under_review',
    TIMESTAMPTZ '2024-01-01' + (n % 1060) * interval '1 day',
    TIMESTAMPTZ '2024-01-01' + (n % 1060) * interval '1 day', 'bench', 'x', 'EUR', true, '{}',
    now()
FROM generate_series(1, 100000) n;
INSERT INTO claim_reserves (claim_id, cost_type, amount_minor, change_minor, cause, set_at,
    set_by)
SELECT md5(n::text)::uuid, 'repair', 1000 * k, 1000 + (n * k) % 700, 'set',
    TIMESTAMPTZ '2024-01-01' + (n % 1060) * interval '1 day' + k * interval '40 days', 'bench'
FROM generate_series(1, 100000) n, generate_series(1, 4) k
WHERE TIMESTAMPTZ '2024-01-01' + (n % 1060) * interval '1 day' + k * interval '40 days'
    < TIMESTAMPTZ '2026-12-01';
INSERT INTO claim_events (claim_id, at, actor, kind, transition, detail)
SELECT md5(n::text)::uuid,
    TIMESTAMPTZ '2024-01-01' + (n % 1060) * interval '1 day' + interval '200 days', 'bench',
    'transition', 'pay', jsonb_build_object('amount_minor', 500 + n % 900)
FROM generate_series(1, 100000) n;
INSERT INTO quotes (id, tenant_id, product_id, plan_version, status, jurisdiction, currency,
    term_start, term_end, premium_minor, tax_minor, created_at, expires_at, created_by)
SELECT md5('quote' || n)::uuid, :tenant, :product, 1, 'bound', 'DE', 'EUR',
    DATE '2024-01-01' + n % 700, DATE '2025-01-01' + n % 700, 0, 0, '2024-01-01', '2024-02-01',
    'bench'
FROM generate_series(1, 5000) n;
INSERT INTO policies (id, number, tenant_id, product_id, quote_id, status, jurisdiction,
    currency, term_start, term_end, version, created_at)
SELECT md5('policy' || n)::uuid, 'RC-C-' || n, :tenant, :product, md5('quote' || n)::uuid,
    'in_force', 'DE', 'EUR', DATE '2024-01-01' + n % 700, DATE '2025-01-01' + n % 700, 2,
    '2024-01-01'
FROM generate_series(1, 5000) n;
INSERT INTO policy_versions (policy_id, version_no, transition, status, effective_from,
    recorded_at, actor, term_premium_minor, premium_change_minor, tax_change_minor, schedule)
SELECT md5('policy' || n)::uuid, v, CASE v WHEN 1 THEN 'issue' ELSE 'endorse' END, 'in_force',
    DATE '2024-01-01' + n % 700 + (v - 1) * 100, DATE '2024-01-01' + n % 700 + (v - 1) * 100,
    'bench', 200000, 0, 0,
    (SELECT jsonb_agg(jsonb_build_object('robot_id', md5('robot' || (n * 10 + k) % 10000)::uuid,
        'coverage', c, 'premium_minor', 10000 + k * 100))
     FROM generate_series(0, 9) k, unnest(ARRAY['breakdown', 'liability']) c)
FROM generate_series(1, 5000) n, generate_series(1, 2) v;
ANALYZE
"""


def seed(url: str) -> float:
    began = time.perf_counter()
    ids = {k: uuid.uuid4() for k in ("tenant", "product", "quote", "policy")}
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        for statement in BOOK.split(";\n"):
            if statement.strip():
                used = {k: v for k, v in ids.items() if f":{k}" in statement}
                conn.execute(text(statement), used)
    engine.dispose()
    return time.perf_counter() - began


def _psycopg(statement: str) -> str:
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement.replace("%", "%%"))


def ours(session: Session) -> float:
    began = time.perf_counter()
    service.premium(session, "EUR", Period.MONTH, VALUATION)
    service.reserves(session, "EUR", Period.QUARTER, VALUATION)
    return time.perf_counter() - began


def ours_classes(session: Session) -> float:
    began = time.perf_counter()
    service.classes(session, "EUR", Period.QUARTER, VALUATION)
    return time.perf_counter() - began


def baseline_classes(conn: psycopg.Connection) -> float:
    """The class report's two statements, rows fetched."""
    began = time.perf_counter()
    parameters = {
        "currency": "EUR",
        "period": "quarter",
        "valuation": VALUATION,
        "valuation_day": VALUATION.date(),
        "step": repository.STEPS["quarter"],
    }
    conn.execute(_psycopg(repository._CLASS_EXPOSURE.text), parameters).fetchall()
    conn.execute(_psycopg(repository._CLASS_CLAIMS.text), parameters).fetchall()
    return time.perf_counter() - began


def baseline(conn: psycopg.Connection) -> float:
    """The same statements, rows fetched: the premium report's two queries (the ledger, the
    monthly triangle) and the reserves report's one (the quarterly triangle)."""
    began = time.perf_counter()
    conn.execute(
        _psycopg(repository._PREMIUM.text),
        {"currency": "EUR", "period": "month", "valuation": VALUATION.date()},
    ).fetchall()
    for period in ("month", "quarter"):
        conn.execute(
            _psycopg(repository._MOVEMENTS.text),
            {
                "currency": "EUR",
                "period": period,
                "per_year": repository.PERIODS[period],
                "valuation": VALUATION,
            },
        ).fetchall()
    return time.perf_counter() - began


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(rounds: int) -> str:
    settings = CloudSettings()
    with scratch_database(settings) as url:
        upgrade(url)
        seeded = seed(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        mine, raw, mine_classes, raw_classes = [], [], [], []
        with Session(engine) as session, psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute("SET jit = off")
            for _ in range(2):
                ours(session)
                baseline(conn)
                ours_classes(session)
                baseline_classes(conn)
            for _ in range(rounds):
                mine.append(ours(session))
                raw.append(baseline(conn))
                mine_classes.append(ours_classes(session))
                raw_classes.append(baseline_classes(conn))
        engine.dispose()
    rows = [
        ("robocover premium (monthly) + reserves (quarterly) reports", mine),
        ("baseline: the same SQL statements, rows fetched by psycopg", raw),
        ("robocover report by robot class (quarterly)", mine_classes),
        ("baseline: its two SQL statements, rows fetched by psycopg", raw_classes),
    ]
    return "\n".join(
        [
            f"Generated by `python bench/reports_bench.py` on {datetime.now(UTC).date()}."
            f" Machine: {machine()}.",
            "",
            "500,000 premium ledger lines and 100,000 claims with 500,000 reserve and payment"
            " movements over three years on 10,000 robots; 5,000 policies of 10 robots, each"
            f" issued and endorsed (200,000 schedule lines); seeded in {seeded:.0f} s; {rounds}"
            " alternating rounds. Goal: under 2 s.",
            "",
            "| implementation | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|",
            *(
                f"| {label} | {1000 * statistics.median(t):.0f} |"
                f" {1000 * percentile(t, 99):.0f} | {1000 * max(t):.0f} |"
                for label, t in rows
            ),
            "",
            "robocover / baseline at the median: "
            f"{statistics.median(mine) / statistics.median(raw):.2f} (premium and reserves),"
            f" {statistics.median(mine_classes) / statistics.median(raw_classes):.2f} (classes)",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--output", type=Path, help="Write the section into this Markdown file.")
    args = parser.parse_args(argv)
    section = run(args.rounds)
    print(section)
    if args.output is not None:
        write_section(args.output, "reports", "Claims: reports (`bench/reports_bench.py`)", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
