"""The claim lifecycle as an explicit state machine: which transition a status allows and the
status it leads to. Pure: the service asks it before it changes a claim.

    reported ──triage──> triaged ──assign──> under_review ──approve──> approved ──pay──> paid
    triaged ──approve──> approved            (fast track: the service asks for the flag)
    under_review ──assign──> under_review    (another adjuster)
    reported | triaged | under_review ──deny──> denied ──close──> closed
    reported | triaged | under_review ──withdraw──> closed
    paid ──close──> closed ──reopen──> under_review

Notes can be added in any status; reserves while the claim is open (not denied, paid or
closed); a recovery on a claim that paid. Withdrawing closes a claim that was not decided.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from cloud_api.conventions.state_machine import StateMachine
from database.models import ClaimStatus


class ClaimTransition(StrEnum):
    TRIAGE = "triage"
    ASSIGN = "assign"
    APPROVE = "approve"
    DENY = "deny"
    PAY = "pay"
    CLOSE = "close"
    REOPEN = "reopen"
    WITHDRAW = "withdraw"


_UNDECIDED = frozenset({ClaimStatus.REPORTED, ClaimStatus.TRIAGED, ClaimStatus.UNDER_REVIEW})

TRANSITIONS: Final[dict[ClaimTransition, tuple[frozenset[ClaimStatus], ClaimStatus]]] = {
    ClaimTransition.TRIAGE: (frozenset({ClaimStatus.REPORTED}), ClaimStatus.TRIAGED),
    ClaimTransition.ASSIGN: (
        frozenset({ClaimStatus.TRIAGED, ClaimStatus.UNDER_REVIEW}),
        ClaimStatus.UNDER_REVIEW,
    ),
    ClaimTransition.APPROVE: (
        frozenset({ClaimStatus.TRIAGED, ClaimStatus.UNDER_REVIEW}),
        ClaimStatus.APPROVED,
    ),
    ClaimTransition.DENY: (_UNDECIDED, ClaimStatus.DENIED),
    ClaimTransition.PAY: (frozenset({ClaimStatus.APPROVED}), ClaimStatus.PAID),
    ClaimTransition.CLOSE: (frozenset({ClaimStatus.PAID, ClaimStatus.DENIED}), ClaimStatus.CLOSED),
    ClaimTransition.REOPEN: (frozenset({ClaimStatus.CLOSED}), ClaimStatus.UNDER_REVIEW),
    ClaimTransition.WITHDRAW: (_UNDECIDED, ClaimStatus.CLOSED),
}
"""transition -> (the statuses it may leave, the status it leads to)."""

RESERVABLE: Final = _UNDECIDED | {ClaimStatus.APPROVED}
"""Statuses in which reserves may be set: the claim is open and not yet paid."""
RECOVERABLE: Final = frozenset({ClaimStatus.PAID, ClaimStatus.CLOSED})
"""Statuses in which a recovery may be recorded: the claim paid."""


MACHINE: Final = StateMachine("claim", TRANSITIONS)


def allowed_from(status: ClaimStatus) -> list[ClaimTransition]:
    """The transitions a claim in ``status`` allows, in the enum's order."""
    return MACHINE.allowed_from(status)


def next_status(status: ClaimStatus, transition: ClaimTransition) -> ClaimStatus:
    """The status ``transition`` leads to from ``status``; IllegalTransitionError (a 409 that
    names the allowed ones) if none."""
    return MACHINE.next_status(status, transition)
