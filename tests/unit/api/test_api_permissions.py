"""The permission table: its rules as properties, a few spot checks, and its docstring matrix."""

from __future__ import annotations

import uuid

import pytest

from cloud_api.access import permissions
from cloud_api.access.actions import Action
from cloud_api.access.permissions import (
    PERMISSIONS,
    SERVICE_SCOPE_CEILING,
    can_see_tenant,
    is_allowed,
    tenant_scope,
    ungrantable_scopes,
)
from cloud_api.access.roles import STAFF_ROLES, Principal, Role

TENANT = "acme-logistics"
STAFF_READS = {
    action
    for action in Action
    if action.is_read and any(PERMISSIONS[action] & (STAFF_ROLES - {Role.AUDITOR}))
}
NEVER_FOR_TENANTS = {"users", "audit", "service_accounts", "tenants"}


def principal(role: Role, scopes: frozenset[Action] = frozenset()) -> Principal:
    staff = role in STAFF_ROLES
    return Principal(uuid.uuid4(), role, None if staff else TENANT, scopes)


def allowed(who: Principal) -> set[Action]:
    return {action for action in Action if is_allowed(who, action)}


def test_every_action_has_a_rule_and_every_rule_an_action() -> None:
    assert set(PERMISSIONS) == set(Action)


def test_only_service_accounts_go_by_scopes_not_by_the_table() -> None:
    assert all(Role.SERVICE not in roles for roles in PERMISSIONS.values())


def test_admin_may_do_everything() -> None:
    assert allowed(principal(Role.ADMIN)) == set(Action)


def test_the_auditor_reads_everything_staff_read_and_writes_nothing() -> None:
    auditor = allowed(principal(Role.AUDITOR))
    assert auditor >= STAFF_READS
    assert all(action.is_read for action in auditor)


def test_policyholders_never_administer_users_audit_or_service_accounts() -> None:
    granted = allowed(principal(Role.POLICYHOLDER))
    assert not {action for action in granted if action.resource in NEVER_FOR_TENANTS}


def test_a_service_account_gets_its_scopes_and_nothing_more() -> None:
    scopes = frozenset({Action.ROBOTS_READ, Action.INVOICES_READ})
    assert allowed(principal(Role.SERVICE, scopes)) == scopes
    assert allowed(principal(Role.SERVICE)) == set()


def test_a_service_account_never_exceeds_its_tenants_policyholders() -> None:
    everything = principal(Role.SERVICE, frozenset(Action))
    granted = allowed(everything)
    assert granted == SERVICE_SCOPE_CEILING == allowed(principal(Role.POLICYHOLDER))
    assert not {action for action in granted if action.resource in NEVER_FOR_TENANTS}
    assert ungrantable_scopes([Action.USERS_CREATE, Action.ROBOTS_READ]) == {Action.USERS_CREATE}
    assert ungrantable_scopes([Action.ROBOTS_READ]) == set()


@pytest.mark.parametrize(
    ("role", "action", "expected"),
    [
        (Role.UNDERWRITER, Action.POLICIES_BIND, True),
        (Role.UNDERWRITER, Action.ROBOTS_RESCORE, True),
        (Role.UNDERWRITER, Action.ROBOTS_SUSPEND, False),
        (Role.UNDERWRITER, Action.CLAIMS_APPROVE, False),
        (Role.CLAIMS_ADJUSTER, Action.CLAIMS_PAY, True),
        (Role.CLAIMS_ADJUSTER, Action.POLICIES_READ, True),
        (Role.CLAIMS_ADJUSTER, Action.POLICIES_ENDORSE, False),
        (Role.BILLING_AGENT, Action.PAYMENTS_REFUND, True),
        (Role.BILLING_AGENT, Action.CLAIMS_READ, False),
        (Role.AUDITOR, Action.AUDIT_READ, True),
        (Role.AUDITOR, Action.REVIEWS_RESOLVE, False),
        (Role.POLICYHOLDER, Action.CLAIMS_CREATE, True),  # first notice of loss
        (Role.POLICYHOLDER, Action.ROBOTS_ROTATE_CREDENTIALS, True),
        (Role.POLICYHOLDER, Action.ROBOTS_EXPORT_TELEMETRY, True),  # its own robots' data
        (Role.CLAIMS_ADJUSTER, Action.ROBOTS_EXPORT_TELEMETRY, True),
        (Role.BILLING_AGENT, Action.ROBOTS_EXPORT_TELEMETRY, False),
        (Role.AUDITOR, Action.ROBOTS_EXPORT_TELEMETRY, False),
        (Role.POLICYHOLDER, Action.CLAIMS_APPROVE, False),
        (Role.POLICYHOLDER, Action.PRODUCTS_WRITE, False),
    ],
)
def test_spot_checks(role: Role, action: Action, expected: bool) -> None:
    assert is_allowed(principal(role), action) is expected


def test_staff_see_every_tenant_and_the_others_only_their_own() -> None:
    for role in STAFF_ROLES:
        assert tenant_scope(principal(role)) is None
        assert can_see_tenant(principal(role), "any-tenant")
    for role in (Role.POLICYHOLDER, Role.SERVICE):
        assert tenant_scope(principal(role)) == TENANT
        assert can_see_tenant(principal(role), TENANT)
        assert not can_see_tenant(principal(role), "other-tenant")


@pytest.mark.parametrize(
    ("role", "tenant", "scopes"),
    [
        (Role.UNDERWRITER, TENANT, frozenset()),
        (Role.POLICYHOLDER, None, frozenset()),
        (Role.SERVICE, "", frozenset()),
        (Role.POLICYHOLDER, TENANT, frozenset({Action.ROBOTS_READ})),
        (Role.ADMIN, None, frozenset({Action.ROBOTS_READ})),
    ],
)
def test_inconsistent_principals_are_refused(
    role: Role, tenant: str | None, scopes: frozenset[Action]
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        Principal(uuid.uuid4(), role, tenant, scopes)


def test_the_docstring_matrix_is_the_table() -> None:
    columns = [
        Role.ADMIN,
        Role.UNDERWRITER,
        Role.CLAIMS_ADJUSTER,
        Role.BILLING_AGENT,
        Role.AUDITOR,
        Role.POLICYHOLDER,
    ]
    expected = {
        action.value: [
            *("x" if role in PERMISSIONS[action] else "." for role in columns),
            "|",
            "s" if action in SERVICE_SCOPE_CEILING else ".",
        ]
        for action in Action
    }
    assert permissions.__doc__ is not None
    rows = [line.split() for line in permissions.__doc__.splitlines()]
    documented = {row[0]: row[1:] for row in rows if row and row[0] in expected}
    assert documented == expected
