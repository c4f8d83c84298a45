"""The claim lifecycle state machine, checked pair by pair against a table written out by hand:
every claim status x every transition is its own test. An allowed pair leads to the status the
lifecycle documents; a refused one raises a 409 that names the transition and lists the ones
the status allows."""

from __future__ import annotations

import itertools

import pytest

from cloud_api.claims.lifecycle import (
    ClaimTransition,
    allowed_from,
    next_status,
)
from cloud_api.conventions.state_machine import IllegalTransitionError
from cloud_api.errors import ConflictError
from database.models import ClaimStatus

S, T = ClaimStatus, ClaimTransition

# status -> {allowed transition: the status it leads to}; every other pair is refused.
ALLOWED: dict[ClaimStatus, dict[ClaimTransition, ClaimStatus]] = {
    S.REPORTED: {T.TRIAGE: S.TRIAGED, T.DENY: S.DENIED, T.WITHDRAW: S.CLOSED},
    S.TRIAGED: {
        T.ASSIGN: S.UNDER_REVIEW,
        T.APPROVE: S.APPROVED,
        T.DENY: S.DENIED,
        T.WITHDRAW: S.CLOSED,
    },
    S.UNDER_REVIEW: {
        T.ASSIGN: S.UNDER_REVIEW,
        T.APPROVE: S.APPROVED,
        T.DENY: S.DENIED,
        T.WITHDRAW: S.CLOSED,
    },
    S.APPROVED: {T.PAY: S.PAID},
    S.DENIED: {T.CLOSE: S.CLOSED},
    S.PAID: {T.CLOSE: S.CLOSED},
    S.CLOSED: {T.REOPEN: S.UNDER_REVIEW},
}
PAIRS = list(itertools.product(ClaimStatus, ClaimTransition))


def pair_id(pair: tuple[ClaimStatus, ClaimTransition]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


def test_the_table_covers_every_status_and_every_transition() -> None:
    assert set(ALLOWED) == set(ClaimStatus)
    assert len(PAIRS) == 7 * 8
    assert {t.value for t in ClaimTransition} == {
        "triage",
        "assign",
        "approve",
        "deny",
        "pay",
        "close",
        "reopen",
        "withdraw",
    }


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_each_pair_is_allowed_or_refused_as_the_table_says(
    pair: tuple[ClaimStatus, ClaimTransition],
) -> None:
    status, transition = pair
    target = ALLOWED[status].get(transition)
    if target is not None:
        assert next_status(status, transition) is target
        return
    with pytest.raises(IllegalTransitionError) as refused:
        next_status(status, transition)
    assert isinstance(refused.value, ConflictError)
    assert refused.value.status == 409
    assert f"a {status} claim cannot {transition}" in refused.value.message
    assert refused.value.extensions == {
        "claim_status": status.value,
        "allowed": [t.value for t in ALLOWED[status]],
    }


@pytest.mark.parametrize("status", list(ClaimStatus), ids=str)
def test_allowed_from_lists_the_tables_transitions_in_enum_order(status: ClaimStatus) -> None:
    assert allowed_from(status) == [t for t in ClaimTransition if t in ALLOWED[status]]
