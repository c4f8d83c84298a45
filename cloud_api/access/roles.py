"""Roles, and the principal a request acts as.

Staff (admin, underwriter, claims adjuster, billing agent, auditor) work for the insurer and act
across tenants: their principal has no tenant. A policyholder (a user of an insured fleet
operator) and a service account (that operator's machine client, with an API key) belong to one
tenant and see only its data. Only service accounts carry scopes: they may do what their scopes
name and nothing else (see permissions.py for the ceiling on what a scope may grant).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from cloud_api.access.actions import Action


class Role(StrEnum):
    ADMIN = "admin"
    UNDERWRITER = "underwriter"
    CLAIMS_ADJUSTER = "claims_adjuster"
    BILLING_AGENT = "billing_agent"
    AUDITOR = "auditor"
    POLICYHOLDER = "policyholder"
    SERVICE = "service"

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES


STAFF_ROLES: frozenset[Role] = frozenset(
    {Role.ADMIN, Role.UNDERWRITER, Role.CLAIMS_ADJUSTER, Role.BILLING_AGENT, Role.AUDITOR}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a user (staff or policyholder) or a tenant's service account.

    The invariants are checked here, so a principal read back from a token or a row is
    consistent: staff have no tenant, the others have one; only service accounts have scopes.
    """

    id: uuid.UUID
    role: Role
    tenant: str | None
    scopes: frozenset[Action] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.role.is_staff and self.tenant is not None:
            raise ValueError(f"a {self.role} acts across tenants and has no tenant")
        if not self.role.is_staff and not self.tenant:
            raise ValueError(f"a {self.role} principal belongs to a tenant")
        if self.scopes and self.role is not Role.SERVICE:
            raise ValueError("only service accounts carry scopes")

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff
