"""Tables of the robot side of the database: who the robots are and what they reported."""

from ingest.models.connector import VendorRelayState
from ingest.models.credentials import CredentialRotation, RobotAction, RobotKey, RotationState
from ingest.models.event import robot_events
from ingest.models.evidence import (
    ChainClaim,
    DeadLetterTally,
    DropNoticeRecord,
    SequenceGap,
    dead_letters,
)
from ingest.models.review import CaseCategory, CaseStatus, ReviewCase, ReviewCaseAction
from ingest.models.robot import Robot, RobotClass, RobotStatus
from ingest.models.telemetry import (
    BatchReceipt,
    Metric,
    RobotClock,
    TenantMetric,
    telemetry,
    telemetry_hourly,
)
from ingest.models.tenant import Tenant, TenantStatus

__all__ = [
    "BatchReceipt",
    "CaseCategory",
    "CaseStatus",
    "ChainClaim",
    "CredentialRotation",
    "DeadLetterTally",
    "DropNoticeRecord",
    "Metric",
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
    "Tenant",
    "TenantMetric",
    "TenantStatus",
    "VendorRelayState",
    "dead_letters",
    "robot_events",
    "telemetry",
    "telemetry_hourly",
]
