"""The database itself refuses an unbalanced ledger (migration 0010): after every statement
that inserts lines, every entry the statement touched sums to zero in each currency, whether
the lines came by INSERT or by COPY, in one statement or added to an entry posted before. The
repository's paths (one INSERT per entry, one COPY per batch) pass it."""

from __future__ import annotations

import uuid
from datetime import date

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud_api.ledger import postings
from cloud_api.ledger import repository as ledger
from database.models import Account
from tests.support.api import ApiHarness

DAY = date(2026, 3, 1)


@pytest.fixture
def tenant_id(api: ApiHarness) -> uuid.UUID:
    return api.tenant("alpha").id


def entry_row(session: Session, tenant_id: uuid.UUID, reference: str) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO ledger_entries (tenant_id, kind, reference, booked_on, memo)"
                " VALUES (:t, 'manual', :r, :d, 'test') RETURNING id"
            ),
            {"t": tenant_id, "r": reference, "d": DAY},
        ).scalar_one()
    )


def insert_lines(session: Session, entry_id: int, *lines: tuple[str, str, int]) -> None:
    """The lines in one INSERT statement."""
    accounts, currencies, amounts = zip(*lines, strict=True)
    session.execute(
        text(
            "INSERT INTO ledger_lines (entry_id, account, currency, amount_minor)"
            " SELECT :e, * FROM unnest(CAST(:a AS text[]), CAST(:c AS text[]),"
            " CAST(:m AS bigint[]))"
        ),
        {"e": entry_id, "a": list(accounts), "c": list(currencies), "m": list(amounts)},
    )


def copy_lines(session: Session, rows: list[tuple[int, str, str, int]]) -> None:
    """The lines in one COPY."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(
        "COPY ledger_lines (entry_id, account, currency, amount_minor) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def test_an_entry_whose_lines_do_not_sum_to_zero_is_refused_at_once(
    api: ApiHarness, tenant_id: uuid.UUID
) -> None:
    entry = entry_row(api.session, tenant_id, "manual:1")
    with pytest.raises(IntegrityError) as caught, api.session.begin_nested():
        insert_lines(api.session, entry, ("cash", "EUR", 100), ("earned_premium", "EUR", -99))
    assert isinstance(caught.value.orig, psycopg.errors.CheckViolation)
    assert f"{entry} (EUR 1)" in str(caught.value.orig)


def test_balance_is_per_currency(api: ApiHarness, tenant_id: uuid.UUID) -> None:
    entry = entry_row(api.session, tenant_id, "manual:2")
    with pytest.raises(IntegrityError), api.session.begin_nested():
        insert_lines(api.session, entry, ("cash", "EUR", 100), ("earned_premium", "USD", -100))


def test_an_entry_written_over_two_statements_is_refused_at_the_first(
    api: ApiHarness, tenant_id: uuid.UUID
) -> None:
    entry = entry_row(api.session, tenant_id, "manual:3")
    with pytest.raises(IntegrityError), api.session.begin_nested():
        insert_lines(api.session, entry, ("cash", "EUR", 100))


def test_lines_added_later_to_a_posted_entry_must_balance_on_their_own(
    api: ApiHarness, tenant_id: uuid.UUID
) -> None:
    entry = entry_row(api.session, tenant_id, "manual:4")
    insert_lines(api.session, entry, ("cash", "EUR", 100), ("earned_premium", "EUR", -100))
    with pytest.raises(IntegrityError), api.session.begin_nested():
        insert_lines(api.session, entry, ("cash", "EUR", 5))
    insert_lines(api.session, entry, ("cash", "EUR", 5), ("refunds_payable", "EUR", -5))
    total = api.session.execute(
        text("SELECT sum(amount_minor), count(*) FROM ledger_lines WHERE entry_id = :e"),
        {"e": entry},
    ).one()
    assert tuple(total) == (0, 4)


def test_an_unbalanced_copy_is_refused_whole(api: ApiHarness, tenant_id: uuid.UUID) -> None:
    good = entry_row(api.session, tenant_id, "manual:5")
    bad = entry_row(api.session, tenant_id, "manual:6")
    rows = [(good, "cash", "EUR", 7), (good, "earned_premium", "EUR", -7), (bad, "cash", "EUR", 3)]
    with pytest.raises(psycopg.errors.CheckViolation), api.session.begin_nested():
        copy_lines(api.session, rows)
    count = api.session.execute(
        text("SELECT count(*) FROM ledger_lines WHERE entry_id IN (:g, :b)"), {"g": good, "b": bad}
    ).scalar_one()
    assert count == 0


def test_the_repository_posts_entries_one_by_one_and_by_copy(
    api: ApiHarness, tenant_id: uuid.UUID
) -> None:
    def earned(reference: str, amount: int) -> postings.JournalEntry:
        header = postings.EntryHeader(tenant_id, None, reference, DAY, "EUR")
        made = postings.premium_earned(header, amount, "earned")
        assert made is not None
        return made

    assert ledger.add_entry(api.session, earned("earn:a", 120)) is not None
    ledger.copy_entries(api.session, [earned("earn:b", 30), earned("earn:c", -4)])
    balances = ledger.balances(api.session, tenant_id=tenant_id)
    assert balances[(Account.EARNED_PREMIUM, "EUR")] == -146
    assert balances[(Account.UNEARNED_PREMIUM, "EUR")] == 146
