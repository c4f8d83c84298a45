"""Tables of the robot side of the database: who the robots are and what they reported."""

from ingest.models.event import robot_events
from ingest.models.robot import Robot, RobotClass, RobotStatus
from ingest.models.telemetry import BatchReceipt, Metric, telemetry
from ingest.models.tenant import Tenant, TenantStatus

__all__ = [
    "BatchReceipt",
    "Metric",
    "Robot",
    "RobotClass",
    "RobotStatus",
    "Tenant",
    "TenantStatus",
    "robot_events",
    "telemetry",
]
