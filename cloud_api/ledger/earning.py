"""Earned premium of a policy term, from the premium its versions wrote. Pure, integers only.

Each issue or endorsement writes a premium change ``c`` effective from day ``e`` to the end of
the term, earned evenly by day: by the end of day ``t`` it has earned ``c * days(e, t + 1) /
days(e, end)`` (rounded half to even). A cancellation or lapse effective on day ``s`` stops
every stream at ``s``: it returns what they had not earned by then (``return_premium``), less a
short-rate penalty that counts as earned at ``s``; a reinstatement undoes the last stop (cover
resumes from ``s`` with no gap, so the streams earn as if never stopped). Once every day of
the term is earned, earned equals written to the minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cloud_api.ledger.money import basis_points, share


@dataclass(frozen=True)
class Written:
    """A version that moved premium: ``kind`` is write (issue, endorse), stop (cancel, lapse) or
    resume (reinstate)."""

    kind: str
    effective_on: date
    change_minor: int
    penalty_minor: int = 0


@dataclass(frozen=True)
class Term:
    start: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def days_left(self, on: date) -> int:
        return max((self.end - max(on, self.start)).days, 0)


def _streams(writes: Sequence[Written]) -> tuple[list[Written], Written | None]:
    """The premium streams, and the stop in effect (None if cover runs), after ``writes``."""
    streams: list[Written] = []
    stop: Written | None = None
    for write in writes:
        if write.kind == "write":
            streams.append(write)
        elif write.kind == "stop":
            stop = write
        elif write.kind == "resume":
            stop = None
        else:
            raise ValueError(f"unknown kind {write.kind!r}")
    return streams, stop


def _earned(streams: Sequence[Written], term: Term, until: date) -> int:
    """What the streams earned on the days before ``until``."""
    total = 0
    for stream in streams:
        span = (term.end - stream.effective_on).days
        days = (min(until, term.end) - stream.effective_on).days
        if span > 0 and days > 0:
            total += share(stream.change_minor, min(days, span), span)
    return total


def earned_through(writes: Sequence[Written], term: Term, through: date) -> int:
    """Premium earned by the end of day ``through`` (cumulative, from the term's start)."""
    streams, stop = _streams(writes)
    until = min(through.toordinal() + 1, term.end.toordinal())
    until_day = date.fromordinal(until)
    if stop is not None and stop.effective_on <= until_day:
        return _earned(streams, term, stop.effective_on) + stop.penalty_minor
    return _earned(streams, term, until_day)


def return_premium(
    writes: Sequence[Written], term: Term, stop_on: date, penalty_bp: int
) -> tuple[int, int]:
    """(premium returned, penalty kept) when cover stops on ``stop_on``: what the streams had
    not earned by then, less ``penalty_bp`` of it (short rate; 0 for pro rata)."""
    streams, stop = _streams(writes)
    if stop is not None:
        raise ValueError("cover is already stopped")
    unearned = sum(s.change_minor for s in streams) - _earned(streams, term, stop_on)
    penalty = basis_points(unearned, penalty_bp) if unearned > 0 else 0
    return unearned - penalty, penalty


def endorsement_premium(term_change_minor: int, term: Term, effective_on: date) -> int:
    """The premium an endorsement writes that changes the term's premium (the schedule's, for
    the whole term) by ``term_change_minor`` from ``effective_on``: pro rata by day for the
    rest of the term."""
    return share(term_change_minor, term.days_left(effective_on), term.days)
