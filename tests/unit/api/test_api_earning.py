"""Earned premium of a policy term: streams of written premium earned by day, stops and resumes.

References are hand-computed values and ``Fraction`` rounded half to even (``round``); the
properties of whole histories generated at random are in test_api_earning_histories.py.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_api.ledger.earning import (
    Term,
    Written,
    earned_through,
    endorsement_premium,
    return_premium,
)

EXAMPLES = settings(max_examples=200, deadline=None)
DAY = timedelta(days=1)

# A hand-checked year: 2025-01-01 .. 2026-01-01 (365 days), premium 365.00.
YEAR = Term(date(2025, 1, 1), date(2026, 1, 1))
ISSUE = Written("write", YEAR.start, 36500)


def day(offset: int, term: Term = YEAR) -> date:
    return term.start + offset * DAY


# --- Term ---------------------------------------------------------------------------------------


def test_term_days_count_the_start_and_not_the_end() -> None:
    assert YEAR.days == 365
    assert Term(date(2024, 1, 1), date(2025, 1, 1)).days == 366  # leap year
    assert Term(date(2025, 3, 1), date(2025, 3, 2)).days == 1


@pytest.mark.parametrize(
    ("on", "left"),
    [
        (date(2024, 6, 1), 365),  # before the term: all of it
        (date(2025, 1, 1), 365),
        (date(2025, 1, 2), 364),
        (date(2025, 7, 2), 183),
        (date(2025, 12, 31), 1),
        (date(2026, 1, 1), 0),  # the (exclusive) end
        (date(2026, 6, 1), 0),  # after the term: never negative
    ],
)
def test_term_days_left(on: date, left: int) -> None:
    assert YEAR.days_left(on) == left


# --- earned_through: one write for the whole term -------------------------------------------------


@pytest.mark.parametrize(
    ("through", "earned"),
    [
        (date(2024, 1, 1), 0),
        (date(2024, 12, 31), 0),  # the day before the term starts
        (date(2025, 1, 1), 100),  # the first day counts once it is over
        (date(2025, 1, 10), 1000),
        (date(2025, 4, 10), 10000),  # 100 days
        (date(2025, 12, 30), 36400),
        (date(2025, 12, 31), 36500),  # the term's last day: all of it
        (date(2026, 1, 1), 36500),
        (date(2030, 1, 1), 36500),
    ],
)
def test_a_full_term_write_earns_evenly_by_day(through: date, earned: int) -> None:
    assert earned_through([ISSUE], YEAR, through) == earned


def test_earned_by_day_rounds_half_to_even() -> None:
    term = Term(date(2025, 1, 1), date(2025, 1, 5))  # 4 days
    earned = [
        earned_through([Written("write", term.start, 10)], term, day(k, term)) for k in range(4)
    ]
    assert earned == [2, 5, 8, 10]  # 2.5 -> 2, 5, 7.5 -> 8, 10
    earned = [
        earned_through([Written("write", term.start, 14)], term, day(k, term)) for k in range(4)
    ]
    assert earned == [4, 7, 10, 14]  # 3.5 -> 4, 7, 10.5 -> 10, 14


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        earned_through([ISSUE, Written("refund", day(3), -5)], YEAR, day(10))


@EXAMPLES
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    days=st.integers(min_value=1, max_value=800),
    premium=st.integers(min_value=-(10**9), max_value=10**10),
    data=st.data(),
)
def test_one_full_term_write_earns_its_pro_rata_share(
    start: date, days: int, premium: int, data: st.DataObject
) -> None:
    term = Term(start, start + days * DAY)
    writes = [Written("write", start, premium)]
    elapsed = data.draw(st.integers(min_value=1, max_value=days), label="days elapsed")
    through = start + (elapsed - 1) * DAY
    assert earned_through(writes, term, through) == round(Fraction(premium * elapsed, days))
    assert earned_through(writes, term, start - DAY) == 0
    before = data.draw(st.integers(min_value=1, max_value=1000), label="days before")
    assert earned_through(writes, term, start - before * DAY) == 0
    assert earned_through(writes, term, term.end - DAY) == premium
    after = data.draw(st.integers(min_value=0, max_value=1000), label="days after")
    assert earned_through(writes, term, term.end + after * DAY) == premium


# --- endorsement_premium ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term_change", "effective_on", "written"),
    [
        (36500, date(2025, 7, 2), 18300),  # 183 of 365 days left
        (-36500, date(2025, 7, 2), -18300),
        (1000, date(2025, 7, 2), 501),  # 501.369...
        (7300, date(2025, 7, 2), 3660),
        (36500, date(2025, 1, 1), 36500),  # from the start: the whole change
        (36500, date(2024, 12, 1), 36500),  # before the start: the whole change
        (36500, date(2025, 12, 31), 100),  # the last day
        (36500, date(2026, 1, 1), 0),  # the end: nothing left
        (36500, date(2026, 2, 1), 0),
        (0, date(2025, 7, 2), 0),
    ],
)
def test_an_endorsement_writes_its_change_pro_rata_by_days_left(
    term_change: int, effective_on: date, written: int
) -> None:
    assert endorsement_premium(term_change, YEAR, effective_on) == written


def test_an_endorsement_premium_rounds_half_to_even() -> None:
    term = Term(date(2025, 1, 1), date(2025, 1, 5))  # 4 days
    assert endorsement_premium(10, term, date(2025, 1, 2)) == 8  # 10 * 3 / 4 = 7.5
    assert endorsement_premium(5, term, date(2025, 1, 3)) == 2  # 5 * 2 / 4 = 2.5
    assert endorsement_premium(14, term, date(2025, 1, 2)) == 10  # 14 * 3 / 4 = 10.5
    assert endorsement_premium(-10, term, date(2025, 1, 2)) == -8


@EXAMPLES
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    days=st.integers(min_value=1, max_value=800),
    change=st.integers(min_value=-(10**10), max_value=10**10),
    data=st.data(),
)
def test_endorsement_premium_matches_a_fraction(
    start: date, days: int, change: int, data: st.DataObject
) -> None:
    term = Term(start, start + days * DAY)
    offset = data.draw(st.integers(min_value=0, max_value=days - 1))
    left = days - offset
    got = endorsement_premium(change, term, start + offset * DAY)
    assert got == round(Fraction(change * left, days))


# --- return_premium ---------------------------------------------------------------------------

CANCEL_ON = date(2025, 10, 1)  # day 273 of the year: 92 days left


def test_pro_rata_return_is_the_unearned_part() -> None:
    assert return_premium([ISSUE], YEAR, CANCEL_ON, 0) == (9200, 0)
    assert return_premium([ISSUE], YEAR, date(2025, 4, 11), 0) == (26500, 0)  # 100 days earned
    assert return_premium([ISSUE], YEAR, YEAR.start, 0) == (36500, 0)  # flat
    assert return_premium([ISSUE], YEAR, YEAR.end, 0) == (0, 0)


@pytest.mark.parametrize(
    ("penalty_bp", "returned", "penalty"),
    [
        (0, 9200, 0),
        (1000, 8280, 920),  # 10 % short rate
        (2500, 6900, 2300),
        (3, 9197, 3),  # 2.76 -> 3
        (5, 9195, 5),  # 4.6 -> 5
        (10_000, 0, 9200),  # all of it kept
    ],
)
def test_a_short_rate_penalty_keeps_basis_points_of_the_unearned(
    penalty_bp: int, returned: int, penalty: int
) -> None:
    assert return_premium([ISSUE], YEAR, CANCEL_ON, penalty_bp) == (returned, penalty)


def test_a_short_rate_penalty_rounds_half_to_even() -> None:
    term = Term(date(2025, 1, 1), date(2025, 1, 3))  # 2 days
    writes = [Written("write", term.start, 50)]
    # unearned at day 1: 25; 10 % of it is 2.5 -> 2
    assert return_premium(writes, term, date(2025, 1, 2), 1000) == (23, 2)
    writes = [Written("write", term.start, 70)]
    # unearned 35; 10 % is 3.5 -> 4
    assert return_premium(writes, term, date(2025, 1, 2), 1000) == (31, 4)


def test_no_penalty_on_a_non_positive_unearned_premium() -> None:
    writes = [Written("write", YEAR.start, -36500)]  # a credit (an odd but valid stream)
    assert return_premium(writes, YEAR, CANCEL_ON, 1000) == (-9200, 0)
    assert return_premium(writes, YEAR, CANCEL_ON, 10_000) == (-9200, 0)


def test_a_stopped_policy_cannot_be_stopped_again() -> None:
    returned, penalty = return_premium([ISSUE], YEAR, CANCEL_ON, 1000)
    writes = [ISSUE, Written("stop", CANCEL_ON, -returned, penalty)]
    with pytest.raises(ValueError, match="stopped"):
        return_premium(writes, YEAR, date(2025, 11, 1), 0)
    with pytest.raises(ValueError, match="stopped"):
        return_premium(writes, YEAR, CANCEL_ON, 0)
    # once reinstated it can
    resumed = [*writes, Written("resume", CANCEL_ON, returned)]
    assert return_premium(resumed, YEAR, date(2025, 11, 1), 0)[0] > 0


# --- a hand-computed history --------------------------------------------------------------------

ENDORSE_ON = date(2025, 7, 2)  # day 182: 183 days left
ENDORSED = Written("write", ENDORSE_ON, 3660)  # a term change of +73.00: 7300 * 183 / 365
CANCELLED = Written("stop", CANCEL_ON, -9936, 1104)
HISTORY = [ISSUE, ENDORSED]


def test_the_hand_computed_history_prices_as_written() -> None:
    assert endorsement_premium(7300, YEAR, ENDORSE_ON) == ENDORSED.change_minor
    # unearned at 2025-10-01: issue 36500 - 27300 (273 days) + endorsement 3660 - 1820 (91 of
    # 183 days) = 11040; 10 % short rate: 1104 kept, 9936 returned
    assert return_premium(HISTORY, YEAR, CANCEL_ON, 1000) == (9936, 1104)


@pytest.mark.parametrize(
    ("through", "earned"),
    [
        (date(2025, 7, 1), 18200),  # 182 days of the issue, none of the endorsement
        (date(2025, 7, 2), 18320),  # 183 days: 18300 + 3660 / 183
        (date(2025, 9, 29), 29000),  # 272 days: 27200 + 90 days of the endorsement: 1800
        (date(2025, 10, 1), 30224),  # stopped at 10-01: 27300 + 1820 + penalty 1104
        (date(2025, 12, 31), 30224),
        (date(2027, 1, 1), 30224),
    ],
)
def test_the_hand_computed_history_earns(through: date, earned: int) -> None:
    assert earned_through([*HISTORY, CANCELLED], YEAR, through) == earned


def test_the_hand_computed_history_reinstated_earns_all_it_wrote() -> None:
    writes = [*HISTORY, CANCELLED, Written("resume", CANCEL_ON, 9936)]
    assert earned_through(writes, YEAR, date(2025, 10, 1)) == 29240  # 27400 + 1840
    assert earned_through(writes, YEAR, date(2025, 12, 31)) == 36500 + 3660


def test_a_stop_on_the_day_after_through_already_counts_its_penalty() -> None:
    """The boundary as the module defines it: ``earned_through(t)`` is what was earned by the
    instant ``t + 1`` starts, and a stop effective on ``s`` earns its penalty at the instant
    ``s`` starts, so the penalty is in ``earned_through(s - 1)``."""
    writes = [*HISTORY, CANCELLED]
    # 27300 + 1820 + 1104, the same as on the stop day itself
    assert earned_through(writes, YEAR, CANCEL_ON - DAY) == 30224
    assert earned_through(HISTORY, YEAR, CANCEL_ON - DAY) == 29120
