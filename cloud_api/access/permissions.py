"""The permission table: which roles may perform each action. The one place access is decided.

    action                        adm und adj bil aud pol | svc
    robots:read                    x   x   x   .   x   x  |  s
    robots:register                x   .   .   .   .   x  |  s
    robots:rotate_credentials      x   .   .   .   .   x  |  s
    robots:suspend                 x   .   .   .   .   .  |  .
    robots:revoke                  x   .   .   .   .   .  |  .
    robots:reinstate               x   .   .   .   .   .  |  .
    robots:rescore                 x   x   .   .   .   .  |  .
    robots:export_telemetry        x   x   x   .   .   x  |  s
    tenants:read                   x   .   .   .   x   .  |  .
    tenants:create                 x   .   .   .   .   .  |  .
    tenants:update                 x   .   .   .   .   .  |  .
    users:read                     x   .   .   .   x   .  |  .
    users:create                   x   .   .   .   .   .  |  .
    users:update                   x   .   .   .   .   .  |  .
    users:disable                  x   .   .   .   .   .  |  .
    service_accounts:read          x   .   .   .   x   .  |  .
    service_accounts:create        x   .   .   .   .   .  |  .
    service_accounts:revoke        x   .   .   .   .   .  |  .
    audit:read                     x   .   .   .   x   .  |  .
    reviews:read                   x   x   .   .   x   .  |  .
    reviews:resolve                x   x   .   .   .   .  |  .
    products:read                  x   x   .   .   x   .  |  .
    products:write                 x   x   .   .   .   .  |  .
    quotes:read                    x   x   .   .   x   x  |  s
    quotes:create                  x   x   .   .   .   x  |  s
    policies:read                  x   x   x   x   x   x  |  s
    policies:bind                  x   x   .   .   .   .  |  .
    policies:endorse               x   x   .   .   .   .  |  .
    policies:cancel                x   x   .   .   .   .  |  .
    policies:reinstate             x   x   .   .   .   .  |  .
    policies:renew                 x   x   .   .   .   .  |  .
    endorsement_proposals:read     x   x   .   .   x   .  |  .
    endorsement_proposals:decide   x   x   .   .   .   .  |  .
    invoices:read                  x   .   .   x   x   x  |  s
    payments:read                  x   .   .   x   x   .  |  .
    payments:record                x   .   .   x   .   .  |  .
    payments:refund                x   .   .   x   .   .  |  .
    claims:read                    x   .   x   .   x   x  |  s
    claims:create                  x   .   x   .   .   x  |  s
    claims:assess                  x   .   x   .   .   .  |  .
    claims:approve                 x   .   x   .   .   .  |  .
    claims:pay                     x   .   x   .   .   .  |  .
    claims:deny                    x   .   x   .   .   .  |  .
    claim_evidence:read            x   .   x   .   x   .  |  .
    notifications:read             x   .   .   .   x   x  |  s
    notifications:manage           x   .   .   .   .   x  |  s
    reports:read                   x   .   .   .   x   .  |  .

    adm admin, und underwriter, adj claims adjuster, bil billing agent, aud auditor,
    pol policyholder; svc service account: s = may be granted as a scope.

Rules behind the table (tests/unit/api/test_api_permissions.py checks them and that this matrix
is the table below):

* admin may do everything; the auditor reads everything any staff role reads and writes nothing.
* Staff act across tenants; a policyholder and a service account see only their own tenant's
  data. ``is_allowed`` says whether the role may perform the action at all; the caller also
  checks ``can_see_tenant`` for the tenant of the record it touches.
* A policyholder reads its tenant's robots, quotes, policies, invoices, claims and
  notifications, asks for quotes, gives first notice of loss (claims:create), registers robots
  and rotates their credentials. It reads its own quotes, or asking for one would be pointless.
* Exporting a robot's telemetry as a file (robots:export_telemetry) is its own action, apart
  from robots:read, because it hands over the raw record in bulk: the fleet owner exports its
  own robots' data (and may grant it to its integration), the underwriter and the claims
  adjuster export what they rate and what they settle. The auditor, who writes nothing, reads
  the same telemetry through robots:read, a range at a time.
* A service account may do only what its scopes name, and a scope may only name an action a
  policyholder of the same tenant may perform (the ``s`` column): a tenant's machine client never
  holds more than the tenant's own users, so never users:*, service_accounts:*, audit:read or
  any insurer decision (suspend, bind, approve...). A scope beyond that ceiling grants nothing,
  and ``ungrantable_scopes`` lets the code creating service accounts refuse it outright.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal, Role

A = Action
UND, ADJ, BIL, AUD, POL = (
    Role.UNDERWRITER,
    Role.CLAIMS_ADJUSTER,
    Role.BILLING_AGENT,
    Role.AUDITOR,
    Role.POLICYHOLDER,
)


def _granted(*roles: Role) -> frozenset[Role]:
    """The roles of one row, and admin, who may do everything."""
    return frozenset({Role.ADMIN, *roles})


PERMISSIONS: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        A.ROBOTS_READ: _granted(UND, ADJ, AUD, POL),
        A.ROBOTS_REGISTER: _granted(POL),
        A.ROBOTS_ROTATE_CREDENTIALS: _granted(POL),
        A.ROBOTS_SUSPEND: _granted(),
        A.ROBOTS_REVOKE: _granted(),
        A.ROBOTS_REINSTATE: _granted(),
        A.ROBOTS_RESCORE: _granted(UND),
        A.ROBOTS_EXPORT_TELEMETRY: _granted(UND, ADJ, POL),
        A.TENANTS_READ: _granted(AUD),
        A.TENANTS_CREATE: _granted(),
        A.TENANTS_UPDATE: _granted(),
        A.USERS_READ: _granted(AUD),
        A.USERS_CREATE: _granted(),
        A.USERS_UPDATE: _granted(),
        A.USERS_DISABLE: _granted(),
        A.SERVICE_ACCOUNTS_READ: _granted(AUD),
        A.SERVICE_ACCOUNTS_CREATE: _granted(),
        A.SERVICE_ACCOUNTS_REVOKE: _granted(),
        A.AUDIT_READ: _granted(AUD),
        A.REVIEWS_READ: _granted(UND, AUD),
        A.REVIEWS_RESOLVE: _granted(UND),
        A.PRODUCTS_READ: _granted(UND, AUD),
        A.PRODUCTS_WRITE: _granted(UND),
        A.QUOTES_READ: _granted(UND, AUD, POL),
        A.QUOTES_CREATE: _granted(UND, POL),
        A.POLICIES_READ: _granted(UND, ADJ, BIL, AUD, POL),
        A.POLICIES_BIND: _granted(UND),
        A.POLICIES_ENDORSE: _granted(UND),
        A.POLICIES_CANCEL: _granted(UND),
        A.POLICIES_REINSTATE: _granted(UND),
        A.POLICIES_RENEW: _granted(UND),
        A.ENDORSEMENT_PROPOSALS_READ: _granted(UND, AUD),
        A.ENDORSEMENT_PROPOSALS_DECIDE: _granted(UND),
        A.INVOICES_READ: _granted(BIL, AUD, POL),
        A.PAYMENTS_READ: _granted(BIL, AUD),
        A.PAYMENTS_RECORD: _granted(BIL),
        A.PAYMENTS_REFUND: _granted(BIL),
        A.CLAIMS_READ: _granted(ADJ, AUD, POL),
        A.CLAIMS_CREATE: _granted(ADJ, POL),
        A.CLAIMS_ASSESS: _granted(ADJ),
        A.CLAIMS_APPROVE: _granted(ADJ),
        A.CLAIMS_PAY: _granted(ADJ),
        A.CLAIMS_DENY: _granted(ADJ),
        A.CLAIM_EVIDENCE_READ: _granted(ADJ, AUD),
        A.NOTIFICATIONS_READ: _granted(AUD, POL),
        A.NOTIFICATIONS_MANAGE: _granted(POL),
        A.REPORTS_READ: _granted(AUD),
    }
)

SERVICE_SCOPE_CEILING: frozenset[Action] = frozenset(
    action for action, roles in PERMISSIONS.items() if Role.POLICYHOLDER in roles
)
"""The actions a service account's scopes may grant: those of its tenant's policyholders."""


def is_allowed(principal: Principal, action: Action) -> bool:
    """Whether the principal's role (or, for a service account, its scopes) permits the action.

    An action missing from the table is refused, never allowed by default.
    """
    if principal.role is Role.SERVICE:
        return action in principal.scopes and action in SERVICE_SCOPE_CEILING
    return principal.role in PERMISSIONS.get(action, frozenset())


def ungrantable_scopes(scopes: Iterable[Action]) -> frozenset[Action]:
    """The scopes a service account may not hold (empty when all of them may be granted)."""
    return frozenset(scopes) - SERVICE_SCOPE_CEILING


def tenant_scope(principal: Principal) -> str | None:
    """The one tenant whose data the principal sees, or None for staff (every tenant)."""
    return None if principal.is_staff else principal.tenant


def can_see_tenant(principal: Principal, tenant: str) -> bool:
    """Whether the principal may touch data of this tenant at all (its role decides the rest)."""
    scope = tenant_scope(principal)
    return scope is None or scope == tenant
