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

from cloud_api.errors import ConflictError
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


class IllegalTransitionError(ConflictError):
    """409: the policy's status does not allow this transition; names the ones it allows."""

    def __init__(self, status: PolicyStatus, transition: Transition) -> None:
        allowed = allowed_from(status)
        listed = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"a {status} policy cannot {transition}; allowed: {listed}",
            extensions={"policy_status": status.value, "allowed": [t.value for t in allowed]},
        )
        self.allowed = allowed


def allowed_from(status: PolicyStatus) -> list[Transition]:
    """The transitions a policy in ``status`` allows, in the enum's order."""
    return [t for t, (sources, _) in TRANSITIONS.items() if status in sources]


def next_status(status: PolicyStatus, transition: Transition) -> PolicyStatus:
    """The status ``transition`` leads to from ``status``; IllegalTransitionError if none."""
    rule = TRANSITIONS.get(transition)
    if rule is None or status not in rule[0]:
        raise IllegalTransitionError(status, transition)
    return rule[1]
