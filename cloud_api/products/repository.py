"""Queries of the products domain. Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from database.models import Product, ProductStatus


def products() -> Select[Product]:
    return select(Product)


def by_id(session: Session, product_id: uuid.UUID, *, for_update: bool = False) -> Product | None:
    statement = select(Product).where(Product.id == product_id)
    if for_update:
        # Behind another transaction's lock, read the row as that transaction left it.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.scalar(statement)


def latest_version(session: Session, code: str) -> int:
    """The highest version of the product ``code``; 0 when there is none."""
    version = session.scalar(select(func.max(Product.version)).where(Product.code == code))
    return version or 0


def lock_code(session: Session, code: str) -> None:
    """Make changes of status to the versions of ``code`` take turns until the transaction ends:
    two drafts activated at once would otherwise both see no active version."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext("robocover.products:" + code))))


def active_version(session: Session, code: str) -> Product | None:
    """The active version of ``code``, locked (FOR UPDATE)."""
    statement = (
        select(Product)
        .where(Product.code == code, Product.status == ProductStatus.ACTIVE.value)
        .order_by(Product.version.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(statement)


def add(session: Session, product: Product) -> bool:
    """Insert the version; False if its (code, version) is taken (the savepoint keeps the
    transaction)."""
    try:
        with session.begin_nested():
            session.add(product)
            session.flush()
    except IntegrityError:
        return False
    return True
