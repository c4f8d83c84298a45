"""The policy lifecycle as an explicit state machine: which transition a status allows and the
status it leads to. Pure: the service asks it before it writes a version.

    bound ──issue──> in_force ──endorse / renew──> in_force
      │                 │ ├──cancel──> cancelled ──reinstate──> in_force
      └──cancel──┐      │ ├──lapse───> lapsed    ──reinstate──> in_force
                 v      │ └──expire──> expired
             cancelled  │

``bind`` is not a transition of a policy: it makes one (status bound) from an open quote.
``renew`` records, on the policy in force, that its next term was offered (a renewal quote).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from cloud_api.conventions.state_machine import IllegalTransitionError, StateMachine
from database.models import PolicyStatus


class Transition(StrEnum):
    BIND = "bind"
    ISSUE = "issue"
    ENDORSE = "endorse"
    RENEW = "renew"
    CANCEL = "cancel"
    LAPSE = "lapse"
    REINSTATE = "reinstate"
    EXPIRE = "expire"


TRANSITIONS: Final[dict[Transition, tuple[frozenset[PolicyStatus], PolicyStatus]]] = {
    Transition.ISSUE: (frozenset({PolicyStatus.BOUND}), PolicyStatus.IN_FORCE),
    Transition.ENDORSE: (frozenset({PolicyStatus.IN_FORCE}), PolicyStatus.IN_FORCE),
    Transition.RENEW: (frozenset({PolicyStatus.IN_FORCE}), PolicyStatus.IN_FORCE),
    Transition.CANCEL: (
        frozenset({PolicyStatus.BOUND, PolicyStatus.IN_FORCE}),
        PolicyStatus.CANCELLED,
    ),
    Transition.LAPSE: (frozenset({PolicyStatus.IN_FORCE}), PolicyStatus.LAPSED),
    Transition.REINSTATE: (
        frozenset({PolicyStatus.CANCELLED, PolicyStatus.LAPSED}),
        PolicyStatus.IN_FORCE,
    ),
    Transition.EXPIRE: (frozenset({PolicyStatus.IN_FORCE}), PolicyStatus.EXPIRED),
}
"""transition -> (the statuses it may leave, the status it leads to)."""

__all__ = ["IllegalTransitionError", "Transition", "allowed_from", "next_status"]


MACHINE: Final = StateMachine("policy", TRANSITIONS)


def allowed_from(status: PolicyStatus) -> list[Transition]:
    """The transitions a policy in ``status`` allows, in the enum's order."""
    return MACHINE.allowed_from(status)


def next_status(status: PolicyStatus, transition: Transition) -> PolicyStatus:
    """The status ``transition`` leads to from ``status``; IllegalTransitionError (a 409 that
    names the allowed ones) if none."""
    return MACHINE.next_status(status, transition)
