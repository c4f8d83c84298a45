"""Benchmarks of issue 12: the quote of a fleet of 1,000 robots (bench/quote_bench.py), and the
insurer's daily earning job: premium earned by day over a book of
100,000 issued policies, by `cloud_api.policies.tasks.earn_premium` (batches of 2,000 on one
connection, each read and locked in one query, targets computed from every version in Python,
entries and lines inserted by COPY, earned-to-date updated in one statement), against a
baseline in the same run: one raw SQL statement doing the same work for this book (every policy
issued once, no endorsement: earned = premium x days / term days) and writing the same entries
and lines into copies of the ledger's tables with the same indexes and foreign keys (not the
ledger's balance trigger, which the job pays, nor the earned-to-date on each policy), so
neither sees the other's entries.

Run: `python bench/policy_bench.py [--policies N] [--output docs/benchmarks.md]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import quote_bench
from bench.report import machine, write_section
from bench.risk_bench import scratch_database
from cloud_api.policies import tasks
from database.settings import CloudSettings
from migrations.runner import upgrade

BOOK = """
INSERT INTO tenants (slug, name) VALUES ('bench', 'Bench');
INSERT INTO rating_plans (name, status, effective_from, currency, body, created_by, approved_by,
    approved_at) VALUES ('bench', 'approved', now() - interval '2 years', 'EUR', '{{}}', 'bench',
    'bench', now());
INSERT INTO products (code, version, name, status, currency, terms, created_by, activated_at,
    activated_by) VALUES ('bench', 1, 'Bench', 'active', 'EUR', '{{}}', 'bench', now(), 'bench');
CREATE TEMPORARY TABLE book AS
SELECT gen_random_uuid() AS quote_id, gen_random_uuid() AS policy_id, n,
       (DATE '{start}' - (n % 300))::timestamptz AS term_start,
       (100000 + (n * 7919) % 900000)::bigint AS premium
FROM generate_series(1, {policies:d}) AS n;
INSERT INTO quotes (id, tenant_id, product_id, plan_version, status, jurisdiction, currency,
    term_start, term_end, premium_minor, tax_minor, created_at, expires_at, created_by)
SELECT quote_id, (SELECT id FROM tenants), (SELECT id FROM products), (SELECT max(version)
    FROM rating_plans), 'bound', 'DE', 'EUR', term_start, term_start + interval '1 year',
    premium, 0, term_start - interval '1 day', term_start + interval '29 days', 'bench'
FROM book;
INSERT INTO policies (id, number, tenant_id, product_id, quote_id, status, jurisdiction,
    currency, term_start, term_end, version, created_at)
SELECT policy_id, 'RC-B-' || n, (SELECT id FROM tenants), (SELECT id FROM products), quote_id,
    'in_force', 'DE', 'EUR', term_start, term_start + interval '1 year', 2, term_start
FROM book;
INSERT INTO policy_versions (policy_id, version_no, transition, status, effective_from,
    recorded_at, actor, term_premium_minor, premium_change_minor, tax_change_minor, schedule)
SELECT policy_id, v, CASE v WHEN 1 THEN 'bind' ELSE 'issue' END,
    CASE v WHEN 1 THEN 'bound' ELSE 'in_force' END, term_start, term_start, 'bench', premium,
    CASE v WHEN 1 THEN 0 ELSE premium END, 0, '[]'
FROM book, generate_series(1, 2) AS v;
CREATE TABLE sql_entries (LIKE ledger_entries INCLUDING ALL);
CREATE TABLE sql_lines (LIKE ledger_lines INCLUDING ALL);
ALTER TABLE sql_lines ADD FOREIGN KEY (entry_id) REFERENCES sql_entries (id);
ALTER TABLE sql_entries ADD FOREIGN KEY (policy_id) REFERENCES policies (id);
ALTER TABLE sql_entries ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id);
"""

BASELINE = """
WITH earned AS (
    SELECT p.id, p.tenant_id, p.currency, p.number, v.premium_change_minor AS premium,
        (p.term_end::date - p.term_start::date) AS term_days,
        least(:through - p.term_start::date + 1, p.term_end::date - p.term_start::date) AS days
    FROM policies p JOIN policy_versions v ON v.policy_id = p.id AND v.transition = 'issue'
), amounts AS (
    SELECT id, tenant_id, currency, number,
        round(premium::numeric * days / term_days) AS amount  -- numeric: half away from zero
    FROM earned
), entries AS (
    INSERT INTO sql_entries (tenant_id, policy_id, kind, reference, booked_on, memo)
    SELECT tenant_id, id, 'premium_earned', 'sql:' || id || ':' || :through, :today,
        'premium earned by policy ' || number
    FROM amounts WHERE amount <> 0
    RETURNING id, policy_id
)
INSERT INTO sql_lines (entry_id, account, currency, amount_minor)
SELECT e.id, a.account, m.currency, a.sign * m.amount
FROM entries e JOIN amounts m ON m.id = e.policy_id,
    (VALUES ('unearned_premium', 1), ('earned_premium', -1)) AS a(account, sign)
"""


def build_book(engine: Engine, policies: int, start: date) -> float:
    began = time.perf_counter()
    with engine.begin() as conn:
        # Utility statements take no parameters: the values are an int and a date, formatted.
        for statement in BOOK.format(policies=policies, start=start.isoformat()).split(";\n"):
            if statement.strip():
                conn.execute(text(statement))
    return time.perf_counter() - began


def timed_job(engine: Engine, through: date, today: date) -> tuple[float, int]:
    began = time.perf_counter()
    posted = tasks.earn_premium(engine, through, today)
    return time.perf_counter() - began, posted


def timed_baseline(engine: Engine, through: date, today: date) -> float:
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(BASELINE), {"through": through, "today": today})
    return time.perf_counter() - began


def run(policies: int) -> str:
    settings = CloudSettings()
    today = datetime.now(UTC).date()
    rows = []
    with scratch_database(settings) as url:
        upgrade(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        setup = build_book(engine, policies, today - timedelta(days=1))
        # Alternating: the job for day d, then the SQL for the same day (its own references).
        for offset in (3, 2, 1):
            through = today - timedelta(days=offset)
            job, posted = timed_job(engine, through, today)
            sql = timed_baseline(engine, through, today)
            rows.append((through, job, posted, sql))
        rerun, again = timed_job(engine, today - timedelta(days=1), today)
        quoting = quote_bench.section(engine)
    lines = [
        f"Generated by `python bench/policy_bench.py` on {today}. Machine: {machine()}.",
        "",
        f"Daily earning over {policies:,} issued policies (book built in {setup:.1f} s). Goal:"
        " under 10 s.",
        "",
        "| day earned | robocover job s | entries posted | raw SQL baseline s | job / SQL |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {through} | {job:.2f} | {posted:,} | {sql:.2f} | {job / sql:.2f} |"
            for through, job, posted, sql in rows
        ),
        f"| the last day again (nothing left to post) | {rerun:.2f} | {again:,} | | |",
        "",
        *quoting,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--output", type=Path, help="Write the section into this Markdown file.")
    args = parser.parse_args(argv)
    section = run(args.policies)
    print(section)
    if args.output is not None:
        write_section(
            args.output, "policy", "Policies: daily earning (`bench/policy_bench.py`)", section
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
