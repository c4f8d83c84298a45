"""Every table of robocover's database, one module a table family: the robot side (tenants,
robots, keys, telemetry, events, evidence, review cases), the risk engine's (rating plans,
claims experience, feature state, scores) and the API's (enrollment tokens, users, refresh
tokens, service accounts and API keys, the audit trail, idempotency keys). Importing this package
registers them all on ``database.base.Base.metadata``."""

from database.models.audit import AuditEvent, IdempotencyKey
from database.models.billing import (
    InstallmentPlan,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    ProcessorEvent,
)
from database.models.claim import (
    Claim,
    ClaimAttachment,
    ClaimEvent,
    ClaimEvidence,
    ClaimPayout,
    ClaimReserve,
    ClaimStatus,
    CostType,
)
from database.models.claims import claim_experience
from database.models.connector import VendorRelayState
from database.models.credentials import CredentialRotation, RobotAction, RobotKey, RotationState
from database.models.enrollment_token import EnrollmentToken
from database.models.event import robot_events
from database.models.evidence import (
    ChainClaim,
    DeadLetterTally,
    DropNoticeRecord,
    SequenceGap,
    dead_letters,
)
from database.models.identity import ApiKey, RefreshToken, ServiceAccount, User, UserRole
from database.models.ledger import Account, LedgerEntry, LedgerLine
from database.models.notification import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    WebhookSubscription,
)
from database.models.plan import rating_plans
from database.models.policy import (
    EndorsementProposal,
    Policy,
    PolicyStatus,
    PolicyVersion,
    ProposalStatus,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from database.models.product import Product, ProductStatus
from database.models.review import CaseCategory, CaseStatus, ReviewCase, ReviewCaseAction
from database.models.robot import Robot, RobotClass, RobotStatus
from database.models.score import risk_scores
from database.models.state import risk_feature_state, risk_watermarks
from database.models.telemetry import (
    BatchReceipt,
    Metric,
    RobotClock,
    TenantMetric,
    telemetry,
    telemetry_hourly,
)
from database.models.tenant import Tenant, TenantStatus

__all__ = [
    "Account",
    "ApiKey",
    "AuditEvent",
    "BatchReceipt",
    "CaseCategory",
    "CaseStatus",
    "ChainClaim",
    "Channel",
    "Claim",
    "ClaimAttachment",
    "ClaimEvent",
    "ClaimEvidence",
    "ClaimPayout",
    "ClaimReserve",
    "ClaimStatus",
    "CostType",
    "CredentialRotation",
    "DeadLetterTally",
    "DeliveryStatus",
    "DropNoticeRecord",
    "EndorsementProposal",
    "EnrollmentToken",
    "IdempotencyKey",
    "InstallmentPlan",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LedgerEntry",
    "LedgerLine",
    "Metric",
    "Notification",
    "NotificationDelivery",
    "Payment",
    "PaymentStatus",
    "Policy",
    "PolicyStatus",
    "PolicyVersion",
    "ProcessorEvent",
    "Product",
    "ProductStatus",
    "ProposalStatus",
    "Quote",
    "QuoteLine",
    "QuoteStatus",
    "RefreshToken",
    "ReviewCase",
    "ReviewCaseAction",
    "Robot",
    "RobotAction",
    "RobotClass",
    "RobotClock",
    "RobotKey",
    "RobotStatus",
    "RotationState",
    "SequenceGap",
    "ServiceAccount",
    "Tenant",
    "TenantMetric",
    "TenantStatus",
    "User",
    "UserRole",
    "VendorRelayState",
    "WebhookSubscription",
    "claim_experience",
    "dead_letters",
    "rating_plans",
    "risk_feature_state",
    "risk_scores",
    "risk_watermarks",
    "robot_events",
    "telemetry",
    "telemetry_hourly",
]
