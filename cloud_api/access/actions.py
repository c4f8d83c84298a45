"""Every action of the insurer API, named ``<resource>:<verb>``.

The permission table (permissions.py) must grant each of them to someone; a test fails when an
action is added here without a rule there. Actions whose verb is ``read`` only read: the auditor
holds all of them and nothing else.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    # Robots and their standing (this issue).
    ROBOTS_READ = "robots:read"
    ROBOTS_REGISTER = "robots:register"
    ROBOTS_ROTATE_CREDENTIALS = "robots:rotate_credentials"
    ROBOTS_SUSPEND = "robots:suspend"
    ROBOTS_REVOKE = "robots:revoke"
    ROBOTS_REINSTATE = "robots:reinstate"
    ROBOTS_RESCORE = "robots:rescore"
    ROBOTS_EXPORT_TELEMETRY = "robots:export_telemetry"
    # Tenants (the insured fleet operators), staff users and tenants' service accounts.
    TENANTS_READ = "tenants:read"
    TENANTS_CREATE = "tenants:create"
    TENANTS_UPDATE = "tenants:update"
    USERS_READ = "users:read"
    USERS_CREATE = "users:create"
    USERS_UPDATE = "users:update"
    USERS_DISABLE = "users:disable"
    SERVICE_ACCOUNTS_READ = "service_accounts:read"
    SERVICE_ACCOUNTS_CREATE = "service_accounts:create"
    SERVICE_ACCOUNTS_REVOKE = "service_accounts:revoke"
    AUDIT_READ = "audit:read"
    REVIEWS_READ = "reviews:read"
    REVIEWS_RESOLVE = "reviews:resolve"
    # Underwriting.
    PRODUCTS_READ = "products:read"
    PRODUCTS_WRITE = "products:write"
    QUOTES_READ = "quotes:read"
    QUOTES_CREATE = "quotes:create"
    POLICIES_READ = "policies:read"
    POLICIES_BIND = "policies:bind"
    POLICIES_ENDORSE = "policies:endorse"
    POLICIES_CANCEL = "policies:cancel"
    POLICIES_REINSTATE = "policies:reinstate"
    POLICIES_RENEW = "policies:renew"
    ENDORSEMENT_PROPOSALS_READ = "endorsement_proposals:read"
    ENDORSEMENT_PROPOSALS_DECIDE = "endorsement_proposals:decide"
    # Billing.
    INVOICES_READ = "invoices:read"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_RECORD = "payments:record"
    PAYMENTS_REFUND = "payments:refund"
    # Claims.
    CLAIMS_READ = "claims:read"
    CLAIMS_CREATE = "claims:create"
    CLAIMS_ASSESS = "claims:assess"
    CLAIMS_APPROVE = "claims:approve"
    CLAIMS_PAY = "claims:pay"
    CLAIMS_DENY = "claims:deny"
    CLAIM_EVIDENCE_READ = "claim_evidence:read"
    # What the insured is told, and the insurer's reporting.
    NOTIFICATIONS_READ = "notifications:read"
    NOTIFICATIONS_MANAGE = "notifications:manage"
    REPORTS_READ = "reports:read"

    @property
    def resource(self) -> str:
        return self.value.partition(":")[0]

    @property
    def verb(self) -> str:
        return self.value.partition(":")[2]

    @property
    def is_read(self) -> bool:
        return self.verb == "read"
