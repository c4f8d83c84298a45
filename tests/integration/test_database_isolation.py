"""Each test's writes are rolled back; a fresh database is a separate, migrated database."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, func, pool, select, text
from sqlalchemy.orm import Session

from database.models import Robot, RobotClass, Tenant
from database.settings import CloudSettings


def _count_tenants(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM tenants")).scalar_one())


def test_session_commits_are_savepoints_inside_the_test_transaction(
    db_session: Session, shared_database: Engine
) -> None:
    tenant = Tenant(slug="isolation", name="Isolation Ltd")
    db_session.add(tenant)
    db_session.commit()
    db_session.add(
        Robot(
            tenant_id=tenant.id,
            serial_number="A-1",
            robot_class=RobotClass.COBOT,
            manufacturer="Acme",
            model="C1",
        )
    )
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Robot)) == 1
    # Another connection to the same database sees nothing: the test's transaction never commits.
    with shared_database.connect() as other:
        assert _count_tenants(other) == 0


def test_fresh_database_is_migrated_and_empty(fresh_database: CloudSettings) -> None:
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        assert _count_tenants(conn) == 0
        conn.execute(text("INSERT INTO tenants (slug, name) VALUES ('fresh', 'Fresh')"))
    with engine.connect() as conn:
        assert _count_tenants(conn) == 1
    engine.dispose()
