"""Earned premium of whole policy histories generated at random: issue at the term's start,
endorsements priced by ``endorsement_premium``, cancellations priced by ``return_premium`` and
reinstatements that give the returned premium back; earned follows the term premium's schedule
(``Fraction`` references), stops freeze it, reinstatements undo them. The hand-computed cases
are in test_api_earning.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
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


# --- random histories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    term: Term
    writes: list[Written]
    schedule: list[tuple[date, int]]  # (effective on, change of the whole-term premium)
    stop: Written | None  # the stop in effect at the end, if any (it is then the last write)


@st.composite
def histories(draw: st.DrawFn, *, end_stopped: bool | None = None) -> History:
    """A policy's history in day order: issue at the start, endorsements, cancellations that
    may be reinstated. ``end_stopped``: True = it ends cancelled, False = it does not, None =
    either."""
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
    days = draw(st.integers(min_value=1, max_value=800))
    term = Term(start, start + days * DAY)
    premium = draw(st.integers(min_value=0, max_value=10**9))
    writes = [Written("write", start, premium)]
    schedule = [(start, premium)]
    term_premium = premium
    offsets = sorted(draw(st.lists(st.integers(min_value=0, max_value=days - 1), max_size=8)))
    stop: Written | None = None
    for offset in offsets:
        on = start + offset * DAY
        if draw(st.booleans()):
            change = draw(st.integers(min_value=-term_premium, max_value=10**8))
            written = endorsement_premium(change, term, on)
            writes.append(Written("write", on, written))
            schedule.append((on, change))
            term_premium += change
        else:
            penalty_bp = draw(st.sampled_from([0, 0, 1, 1000, 2500, 5000, 9999, 10_000]))
            returned, penalty = return_premium(writes, term, on, penalty_bp)
            stop = Written("stop", on, -returned, penalty)
            writes.append(stop)
            if end_stopped is not True and draw(st.booleans()):
                writes.append(Written("resume", on, returned))
                stop = None
            else:
                break
    if end_stopped is True and stop is None:
        on = start + draw(st.integers(min_value=max(offsets, default=0), max_value=days - 1)) * DAY
        penalty_bp = draw(st.sampled_from([0, 1000, 5000, 10_000]))
        returned, penalty = return_premium(writes, term, on, penalty_bp)
        stop = Written("stop", on, -returned, penalty)
        writes.append(stop)
    if end_stopped is False and stop is not None:
        writes.append(Written("resume", stop.effective_on, -stop.change_minor))
        stop = None
    return History(term, writes, schedule, stop)


def written(history: History) -> int:
    """The net premium written: every write, stop and resume."""
    return sum(w.change_minor for w in history.writes)


@EXAMPLES
@given(history=histories())
def test_earned_through_the_last_day_is_the_premium_written(history: History) -> None:
    term = history.term
    assert earned_through(history.writes, term, term.end - DAY) == written(history)
    assert earned_through(history.writes, term, term.end + 365 * DAY) == written(history)


@EXAMPLES
@given(history=histories())
def test_nothing_is_earned_before_the_term_starts(history: History) -> None:
    # A stop on the very first day would put its penalty at the term's start instant (see the
    # boundary test in test_api_earning.py); that case is left out here.
    assume(history.stop is None or history.stop.effective_on > history.term.start)
    term = history.term
    assert earned_through(history.writes, term, term.start - DAY) == 0
    assert earned_through(history.writes, term, term.start - 400 * DAY) == 0


@EXAMPLES
@given(history=histories(end_stopped=False), data=st.data())
def test_earned_follows_the_term_premium_schedule(history: History, data: st.DataObject) -> None:
    """Without a stop, earned by the end of day t is, to a minor unit per stream, the sum over
    the schedule of each term change times the days it has been in effect over the term's days
    (a reinstated stop leaves no trace)."""
    term = history.term
    elapsed = data.draw(st.integers(min_value=0, max_value=term.days + 3))
    through = term.start + (elapsed - 1) * DAY
    ideal = sum(
        (
            Fraction(change * max((min(through + DAY, term.end) - on).days, 0), term.days)
            for on, change in history.schedule
        ),
        Fraction(0),
    )
    got = earned_through(history.writes, term, through)
    assert abs(got - ideal) <= len(history.schedule)


@EXAMPLES
@given(history=histories(end_stopped=False), data=st.data())
def test_pro_rata_return_is_the_unearned_part_of_the_term_premium(
    history: History, data: st.DataObject
) -> None:
    term = history.term
    last = max(w.effective_on for w in history.writes)
    stop_on = last + data.draw(st.integers(min_value=0, max_value=(term.end - last).days)) * DAY
    returned, penalty = return_premium(history.writes, term, stop_on, 0)
    assert penalty == 0
    # what was written and not earned by the end of the day before the stop
    assert returned == written(history) - earned_through(history.writes, term, stop_on - DAY)
    # and, to a minor unit per stream, the term premium times the days left over the term's
    term_premium = sum(change for _, change in history.schedule)
    ideal = Fraction(term_premium * term.days_left(stop_on), term.days)
    assert abs(returned - ideal) <= len(history.schedule)


@EXAMPLES
@given(
    history=histories(end_stopped=False),
    penalty_bp=st.integers(min_value=0, max_value=10_000),
    data=st.data(),
)
def test_a_short_rate_return_keeps_the_penalty_of_the_pro_rata_one(
    history: History, penalty_bp: int, data: st.DataObject
) -> None:
    term = history.term
    last = max(w.effective_on for w in history.writes)
    stop_on = last + data.draw(st.integers(min_value=0, max_value=(term.end - last).days)) * DAY
    unearned, _ = return_premium(history.writes, term, stop_on, 0)
    returned, penalty = return_premium(history.writes, term, stop_on, penalty_bp)
    assert returned + penalty == unearned
    if unearned > 0:
        assert penalty == round(Fraction(unearned * penalty_bp, 10_000))
        assert 0 <= returned <= unearned
    else:
        assert (returned, penalty) == (unearned, 0)
    full_returned, full_penalty = return_premium(history.writes, term, stop_on, 10_000)
    if unearned > 0:
        assert (full_returned, full_penalty) == (0, unearned)
    else:
        assert (full_returned, full_penalty) == (unearned, 0)


@EXAMPLES
@given(history=histories(end_stopped=True), data=st.data())
def test_after_a_stop_earned_is_frozen_at_the_stop_plus_the_penalty(
    history: History, data: st.DataObject
) -> None:
    stop = history.stop
    assert stop is not None
    assert history.writes[-1] == stop
    term = history.term
    before = history.writes[:-1]  # cover running, as it was until the stop
    at_stop = earned_through(before, term, stop.effective_on - DAY) + stop.penalty_minor
    later = data.draw(st.integers(min_value=0, max_value=(term.end - stop.effective_on).days + 30))
    assert earned_through(history.writes, term, stop.effective_on + later * DAY) == at_stop
    assert earned_through(history.writes, term, term.end - DAY) == at_stop
    assert earned_through(history.writes, term, term.end + 100 * DAY) == at_stop
    assert at_stop == written(history)
    # the days before the stop are untouched by it (the day just before is the boundary case)
    earlier = data.draw(
        st.integers(min_value=2, max_value=(stop.effective_on - term.start).days + 5)
    )
    through = stop.effective_on - earlier * DAY
    assert earned_through(history.writes, term, through) == earned_through(before, term, through)


@EXAMPLES
@given(history=histories(end_stopped=True), data=st.data())
def test_a_stopped_policy_cannot_be_stopped_again_until_reinstated(
    history: History, data: st.DataObject
) -> None:
    stop = history.stop
    assert stop is not None
    term = history.term
    again = stop.effective_on + data.draw(st.integers(0, (term.end - stop.effective_on).days)) * DAY
    with pytest.raises(ValueError, match="stopped"):
        return_premium(history.writes, term, again, data.draw(st.sampled_from([0, 1000])))
    resumed = [*history.writes, Written("resume", stop.effective_on, -stop.change_minor)]
    returned, penalty = return_premium(resumed, term, again, 0)
    assert penalty == 0
    net = sum(w.change_minor for w in resumed)
    assert returned == net - earned_through(resumed, term, again - DAY)


@EXAMPLES
@given(history=histories(end_stopped=True))
def test_a_reinstatement_earns_as_if_never_stopped(history: History) -> None:
    stop = history.stop
    assert stop is not None
    term = history.term
    resumed = [*history.writes, Written("resume", stop.effective_on, -stop.change_minor)]
    before = history.writes[:-1]
    for through in (stop.effective_on, term.end - DAY, stop.effective_on - 2 * DAY):
        assert earned_through(resumed, term, through) == earned_through(before, term, through)
    assert earned_through(resumed, term, term.end - DAY) == sum(w.change_minor for w in resumed)


@EXAMPLES
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    days=st.integers(min_value=1, max_value=800),
    data=st.data(),
)
def test_positive_writes_earn_monotonically(start: date, days: int, data: st.DataObject) -> None:
    term = Term(start, start + days * DAY)
    offsets = data.draw(st.lists(st.integers(0, days - 1), min_size=1, max_size=6))
    changes = data.draw(
        st.lists(st.integers(0, 10**9), min_size=len(offsets), max_size=len(offsets))
    )
    writes = [Written("write", start + o * DAY, c) for o, c in zip(offsets, changes, strict=True)]
    earned = [earned_through(writes, term, start + (k - 1) * DAY) for k in range(days + 2)]
    assert earned == sorted(earned)
    assert earned[0] == 0
    assert earned[-1] == sum(changes)
