"""Installments: every split sums to what it splits, per line and per installment."""

from __future__ import annotations

import uuid
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_api.billing.installments import due_dates, installment_invoices, split
from database.models import InstallmentPlan


@given(st.integers(-(10**12), 10**12), st.integers(1, 24))
def test_a_split_sums_to_its_amount_and_its_parts_differ_by_the_remainder_only(
    amount: int, parts: int
) -> None:
    pieces = split(amount, parts)
    assert sum(pieces) == amount
    assert len(pieces) == parts
    assert len(set(pieces[1:])) <= 1
    assert abs(pieces[0]) - abs(pieces[-1]) == abs(amount) % parts


def test_a_split_by_hand() -> None:
    assert split(1000, 3) == [334, 333, 333]
    assert split(-7, 4) == [-4, -1, -1, -1]
    assert split(5, 1) == [5]


def test_monthly_due_dates_keep_the_day_or_the_months_last() -> None:
    assert due_dates(date(2026, 1, 31), InstallmentPlan.MONTHLY, 12)[:4] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert due_dates(date(2026, 5, 15), InstallmentPlan.QUARTERLY, 12) == [
        date(2026, 5, 15),
        date(2026, 8, 15),
        date(2026, 11, 15),
        date(2027, 2, 15),
    ]


@settings(max_examples=150)
@given(
    st.lists(st.integers(0, 10**9), min_size=1, max_size=12),
    st.integers(0, 10**8),
    st.sampled_from(InstallmentPlan),
    st.integers(0, 10_000),
)
def test_installments_sum_to_the_schedule_and_the_tax(
    premiums: list[int], tax: int, plan: InstallmentPlan, fee: int
) -> None:
    schedule = [(uuid.uuid4(), f"c{i}", p) for i, p in enumerate(premiums)]
    invoices = installment_invoices(
        schedule, tax, plan, fee_minor=fee, term_start=date(2026, 3, 1), term_months=12
    )
    assert len(invoices) == plan.parts
    assert sum(i.total("premium") for i in invoices) == sum(premiums)
    assert sum(i.total("tax") for i in invoices) == tax
    assert all(i.total("fee") == fee for i in invoices)
    for robot, coverage, premium in schedule:
        parts = [
            line.amount_minor
            for i in invoices
            for line in i.lines
            if line.robot_id == robot and line.coverage == coverage
        ]
        assert sum(parts) == premium
