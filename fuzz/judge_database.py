"""The judge fuzz target's database: a template migrated once per version of the migrations,
a database of the fuzz process's own cloned from it, dropped when the process is gone
(`drop_stale_databases`, fuzz_judge.py --cleanup); and in it the fleet (tenants, robots with
known keys, robot B's pending rotation, tenant globex's catalogue near its limit) and dead-letter
budgets a few messages short of full.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from fuzz.judge_world import (
    CATALOGUE_HEADROOM,
    FLEET,
    NOW_US,
    ROTATION_ID,
    TENANTS,
    globex_key,
)
from ingest.bridge import budget
from ingest.bridge.writes import FlushPolicy

ROOT = Path(__file__).resolve().parents[1]
EXTENSION_TEMPLATE = "robocover_template"
"""The server-side template with the timescaledb extension (scripts/services-up.sh)."""
PREFIX = "rc_fuzz_"


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def _admin(base_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(_with_database(base_url, "postgres"), autocommit=True)


def _retrying(base_url: str, statement: sql.Composed) -> None:
    """A database that was just used may still be held by a closing backend for a moment."""
    deadline = time.monotonic() + 30
    with _admin(base_url) as conn:
        while True:
            try:
                conn.execute(statement)
                return
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _drop(base_url: str, name: str) -> None:
    with _admin(base_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def drop_stale_databases(base_url: str) -> list[str]:
    """Fuzz databases whose process is gone, and templates of older migrations."""
    template = f"{PREFIX}tpl_{migrations_digest()}"
    with _admin(base_url) as conn:
        names = [
            str(row[0])
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
            ).fetchall()
        ]
    dropped = []
    for name in names:
        owner = name.removeprefix(PREFIX).split("_")[-1]
        if name.startswith(f"{PREFIX}tpl_"):
            building = "_build_" in name
            if name == template or (building and Path(f"/proc/{owner}").exists()):
                continue
        elif owner.isdigit() and Path(f"/proc/{owner}").exists():
            continue
        with contextlib.suppress(psycopg.Error):
            _drop(base_url, name)
            dropped.append(name)
    return dropped


def ensure_template(base_url: str) -> str:
    """A database migrated with `alembic upgrade head` once per version of the migrations."""
    from migrations.runner import upgrade

    name = f"{PREFIX}tpl_{migrations_digest()}"
    with _admin(base_url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return name
    building = f"{name}_build_{os.getpid()}"
    _retrying(
        base_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(building), sql.Identifier(EXTENSION_TEMPLATE)
        ),
    )
    url = _with_database(base_url, building)
    upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        _retrying(
            base_url,
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)
            ),
        )
    except psycopg.errors.DuplicateDatabase:  # another fuzz process built it meanwhile
        _drop(base_url, building)
        return name
    _retrying(
        base_url,
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)),
    )
    return name


def create_fuzz_database(base_url: str) -> str:
    drop_stale_databases(base_url)
    template = ensure_template(base_url)
    name = f"{PREFIX}{os.getpid()}"
    _drop(base_url, name)
    _retrying(
        base_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        ),
    )
    return _with_database(base_url, name)


def drop_fuzz_database(base_url: str) -> None:
    with contextlib.suppress(psycopg.Error):
        _drop(base_url, f"{PREFIX}{os.getpid()}")


def register_fleet(url: str, policy: FlushPolicy) -> None:
    """Tenants, robots with known keys, B's pending rotation, tenant globex's catalogue filled
    to its limit minus CATALOGUE_HEADROOM."""
    registered = datetime.fromtimestamp(NOW_US / 1e6, tz=UTC) - timedelta(days=30)
    with psycopg.connect(url) as conn:
        tenants = {}
        for slug in TENANTS:
            row = conn.execute(
                "INSERT INTO tenants (slug, name, created_at) VALUES (%s, %s, %s) RETURNING id",
                (slug, slug.title(), registered),
            ).fetchone()
            assert row is not None  # noqa: S101 - INSERT ... RETURNING returns a row
            tenants[slug] = row[0]
        for spec in FLEET:
            conn.execute(
                "INSERT INTO robots (id, tenant_id, serial_number, robot_class, manufacturer,"
                " model, status, signing_public_key, created_at, enrolled_at)"
                " VALUES (%s, %s, %s, 'cobot', 'Acme', 'A1', %s, %s, %s, %s)",
                (
                    spec.robot_id,
                    tenants[spec.tenant],
                    f"fuzz-{spec.name}",
                    spec.status,
                    spec.signer.public_key,
                    registered,
                    registered,
                ),
            )
        rotating = next(spec for spec in FLEET if spec.rotation_seed is not None)
        conn.execute(
            "INSERT INTO credential_rotations (id, robot_id, requested_by, expires_at,"
            " new_mqtt_username, config_version) VALUES (%s, %s, 'fuzz', %s, %s, 2)",
            (ROTATION_ID, rotating.robot_id, registered + timedelta(days=400), "fuzz-b-2"),
        )
        fill = policy.budgets.metric_catalogue - CATALOGUE_HEADROOM
        conn.execute(
            "INSERT INTO metrics (key, name, channel, unit, description)"
            " SELECT k, k, 0, 'u', '' FROM unnest(%s::text[]) AS k",
            ([str(globex_key(i)) for i in range(fill)],),
        )
        conn.execute(
            "INSERT INTO tenant_metrics (tenant_id, metric_id)"
            " SELECT %s, id FROM metrics WHERE key LIKE 'x\\_gx\\_%%'",
            (tenants["globex"],),
        )


def fill_budgets(url: str, policy: FlushPolicy) -> None:
    """Robot A, tenant globex and the unattributed scope are a few messages short of their
    dead-letter budgets in the hour of NOW: the next flush's letters cross them. And the
    dead_letters chunk of NOW's week exists (a chunk created in every input's transaction, then
    rolled back, would cost more than the input)."""
    window = datetime.fromtimestamp(budget.window_start_us(NOW_US) / 1e6, tz=UTC)
    budgets = policy.budgets
    robot_a = FLEET[0].robot_id
    rows = [
        (f"robot:{robot_a}", budgets.robot_messages - 3, budgets.robot_bytes - 600_000),
        ("tenant:globex", 0, budgets.tenant_bytes - 300_000),
        ("unattributed", 0, budgets.unattributed_bytes - 300_000),
    ]
    with psycopg.connect(url) as conn:
        for scope, messages, size in rows:
            conn.execute(
                "INSERT INTO dead_letter_tally (scope, window_start, reason, stored_messages,"
                " stored_bytes) VALUES (%s, %s, 'fuzz_base', %s, %s)",
                (scope, window, messages, size),
            )
        conn.execute(
            "INSERT INTO dead_letters (received_at, topic, payload, reason, detail)"
            " VALUES (%s, '', '', 'fuzz_base', '')",
            (window,),
        )
        conn.execute("DELETE FROM dead_letters")
