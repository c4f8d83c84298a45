"""The policy lifecycle state machine, checked pair by pair against a table written out by hand.

Every policy status x every transition of an existing policy is its own test: an allowed pair
leads to the status the lifecycle documents, a refused one raises a 409 that names the
transition and lists the ones the status allows.
"""

from __future__ import annotations

import itertools

import pytest

from cloud_api.errors import AppError, ConflictError
from cloud_api.policies.lifecycle import (
    IllegalTransitionError,
    Transition,
    allowed_from,
    next_status,
)
from database.models import PolicyStatus

BOUND = PolicyStatus.BOUND
IN_FORCE = PolicyStatus.IN_FORCE
CANCELLED = PolicyStatus.CANCELLED
LAPSED = PolicyStatus.LAPSED
EXPIRED = PolicyStatus.EXPIRED

# (status, transition) -> the status it leads to, or None where it is refused.
EXPECTED: dict[tuple[PolicyStatus, Transition], PolicyStatus | None] = {
    (BOUND, Transition.ISSUE): IN_FORCE,
    (BOUND, Transition.ENDORSE): None,
    (BOUND, Transition.RENEW): None,
    (BOUND, Transition.CANCEL): CANCELLED,
    (BOUND, Transition.LAPSE): None,
    (BOUND, Transition.REINSTATE): None,
    (BOUND, Transition.EXPIRE): None,
    (IN_FORCE, Transition.ISSUE): None,
    (IN_FORCE, Transition.ENDORSE): IN_FORCE,
    (IN_FORCE, Transition.RENEW): IN_FORCE,
    (IN_FORCE, Transition.CANCEL): CANCELLED,
    (IN_FORCE, Transition.LAPSE): LAPSED,
    (IN_FORCE, Transition.REINSTATE): None,
    (IN_FORCE, Transition.EXPIRE): EXPIRED,
    (CANCELLED, Transition.ISSUE): None,
    (CANCELLED, Transition.ENDORSE): None,
    (CANCELLED, Transition.RENEW): None,
    (CANCELLED, Transition.CANCEL): None,
    (CANCELLED, Transition.LAPSE): None,
    (CANCELLED, Transition.REINSTATE): IN_FORCE,
    (CANCELLED, Transition.EXPIRE): None,
    (LAPSED, Transition.ISSUE): None,
    (LAPSED, Transition.ENDORSE): None,
    (LAPSED, Transition.RENEW): None,
    (LAPSED, Transition.CANCEL): None,
    (LAPSED, Transition.LAPSE): None,
    (LAPSED, Transition.REINSTATE): IN_FORCE,
    (LAPSED, Transition.EXPIRE): None,
    (EXPIRED, Transition.ISSUE): None,
    (EXPIRED, Transition.ENDORSE): None,
    (EXPIRED, Transition.RENEW): None,
    (EXPIRED, Transition.CANCEL): None,
    (EXPIRED, Transition.LAPSE): None,
    (EXPIRED, Transition.REINSTATE): None,
    (EXPIRED, Transition.EXPIRE): None,
}

# The transitions each status allows, in the order of the Transition enum.
ALLOWED: dict[PolicyStatus, list[Transition]] = {
    BOUND: [Transition.ISSUE, Transition.CANCEL],
    IN_FORCE: [
        Transition.ENDORSE,
        Transition.RENEW,
        Transition.CANCEL,
        Transition.LAPSE,
        Transition.EXPIRE,
    ],
    CANCELLED: [Transition.REINSTATE],
    LAPSED: [Transition.REINSTATE],
    EXPIRED: [],
}

ALLOWED_PAIRS = [pair for pair, target in EXPECTED.items() if target is not None]
REFUSED_PAIRS = [pair for pair, target in EXPECTED.items() if target is None]


def pair_id(pair: tuple[PolicyStatus, Transition]) -> str:
    status, transition = pair
    return f"{status.value}-{transition.value}"


def test_the_table_covers_every_status_and_every_transition_of_a_policy() -> None:
    policy_transitions = [t for t in Transition if t is not Transition.BIND]
    assert set(EXPECTED) == set(itertools.product(PolicyStatus, policy_transitions))
    assert set(ALLOWED) == set(PolicyStatus)
    assert {s.value for s in PolicyStatus} == {
        "bound",
        "in_force",
        "cancelled",
        "lapsed",
        "expired",
    }
    assert {t.value for t in Transition} == {
        "bind",
        "issue",
        "endorse",
        "renew",
        "cancel",
        "lapse",
        "reinstate",
        "expire",
    }


def test_the_two_tables_agree() -> None:
    for status, allowed in ALLOWED.items():
        assert allowed == [t for (s, t), target in EXPECTED.items() if s is status and target]


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=pair_id)
def test_an_allowed_transition_leads_to_its_status(
    pair: tuple[PolicyStatus, Transition],
) -> None:
    status, transition = pair
    assert next_status(status, transition) is EXPECTED[pair]


@pytest.mark.parametrize("pair", REFUSED_PAIRS, ids=pair_id)
def test_a_refused_transition_is_a_conflict_naming_the_allowed_ones(
    pair: tuple[PolicyStatus, Transition],
) -> None:
    status, transition = pair
    with pytest.raises(IllegalTransitionError) as caught:
        next_status(status, transition)
    assert_refusal(caught.value, status, transition)


@pytest.mark.parametrize("status", list(PolicyStatus), ids=lambda s: f"{s.value}-bind")
def test_bind_is_not_a_transition_of_a_policy(status: PolicyStatus) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        next_status(status, Transition.BIND)
    assert_refusal(caught.value, status, Transition.BIND)


@pytest.mark.parametrize("status", list(PolicyStatus), ids=lambda s: s.value)
def test_allowed_from_lists_the_transitions_in_enum_order(status: PolicyStatus) -> None:
    assert allowed_from(status) == ALLOWED[status]


def assert_refusal(
    error: IllegalTransitionError, status: PolicyStatus, transition: Transition
) -> None:
    assert isinstance(error, ConflictError)
    assert isinstance(error, AppError)
    assert error.status == 409
    assert error.allowed == allowed_from(status)
    assert error.allowed == ALLOWED[status]
    message = str(error)
    assert message == error.message
    assert f"cannot {transition.value}" in message
    assert f"{status.value} policy" in message
    if ALLOWED[status]:
        assert f"allowed: {', '.join(t.value for t in ALLOWED[status])}" in message
    else:
        assert message.endswith("allowed: none")
    assert error.extensions == {
        "policy_status": status.value,
        "allowed": [t.value for t in ALLOWED[status]],
    }
    assert error.headers == {}


@pytest.mark.parametrize(
    ("status", "transition", "message"),
    [
        (BOUND, Transition.ENDORSE, "a bound policy cannot endorse; allowed: issue, cancel"),
        (CANCELLED, Transition.CANCEL, "a cancelled policy cannot cancel; allowed: reinstate"),
    ],
)
def test_the_refusal_message_in_full(
    status: PolicyStatus, transition: Transition, message: str
) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        next_status(status, transition)
    assert str(caught.value) == message


def test_a_policy_can_be_cancelled_reinstated_and_lapsed_again() -> None:
    status = BOUND
    for transition, expected in [
        (Transition.ISSUE, IN_FORCE),
        (Transition.ENDORSE, IN_FORCE),
        (Transition.CANCEL, CANCELLED),
        (Transition.REINSTATE, IN_FORCE),
        (Transition.LAPSE, LAPSED),
        (Transition.REINSTATE, IN_FORCE),
        (Transition.RENEW, IN_FORCE),
        (Transition.EXPIRE, EXPIRED),
    ]:
        status = next_status(status, transition)
        assert status is expected
    assert allowed_from(status) == []
