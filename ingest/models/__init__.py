"""Tables of the robot side of the database: who the robots are and what they reported."""

from ingest.models.connector import VendorRelayState
from ingest.models.event import robot_events
from ingest.models.evidence import DropNoticeRecord, SequenceGap, dead_letters
from ingest.models.robot import Robot, RobotClass, RobotStatus
from ingest.models.telemetry import (
    BatchReceipt,
    Metric,
    RobotClock,
    telemetry,
    telemetry_hourly,
)
from ingest.models.tenant import Tenant, TenantStatus

__all__ = [
    "BatchReceipt",
    "DropNoticeRecord",
    "Metric",
    "Robot",
    "RobotClass",
    "RobotClock",
    "RobotStatus",
    "SequenceGap",
    "Tenant",
    "TenantStatus",
    "VendorRelayState",
    "dead_letters",
    "robot_events",
    "telemetry",
    "telemetry_hourly",
]
