"""An explicit state machine over two enums, statuses and transitions: which transitions a
status allows and the status each leads to. The policy and claim lifecycles are tables of it;
a refused transition is a 409 problem that names the ones the status allows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from cloud_api.errors import ConflictError

S = TypeVar("S", bound=StrEnum)
T = TypeVar("T", bound=StrEnum)


class IllegalTransitionError(ConflictError):
    """409: the status does not allow this transition; ``allowed`` are the ones it does."""

    def __init__(self, noun: str, status: StrEnum, transition: StrEnum, allowed: list[T]) -> None:
        listed = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"a {status} {noun} cannot {transition}; allowed: {listed}",
            extensions={f"{noun}_status": status.value, "allowed": [t.value for t in allowed]},
        )
        self.allowed: list[StrEnum] = list(allowed)


@dataclass(frozen=True)
class StateMachine(Generic[S, T]):
    noun: str  # what moves: "policy", "claim"
    transitions: Mapping[T, tuple[frozenset[S], S]]
    """transition -> (the statuses it may leave, the status it leads to), in the order the
    allowed transitions are listed."""

    def allowed_from(self, status: S) -> list[T]:
        return [t for t, (sources, _) in self.transitions.items() if status in sources]

    def next_status(self, status: S, transition: T) -> S:
        """The status ``transition`` leads to from ``status``; IllegalTransitionError if none."""
        rule = self.transitions.get(transition)
        if rule is None or status not in rule[0]:
            raise IllegalTransitionError(self.noun, status, transition, self.allowed_from(status))
        return rule[1]
