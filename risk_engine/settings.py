"""Settings of the risk worker (`robocover risk worker`) and of the `robocover risk` commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from database.settings import CloudSettings

RatingPeriod = Literal["month", "quarter"]


class WorkerSettings(CloudSettings):
    """Where the services are (CloudSettings) and how the rescoring runs."""

    rating_period: RatingPeriod = Field(
        default="month", description="the period features accumulate over and caps apply to"
    )
    rollup_grace_hours: int = Field(
        default=1,
        ge=0,
        le=48,
        description="rollup hours this recent are rated but not yet folded: late data may come",
    )
    event_settle_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="events received this recently wait for the next scan: transactions settle",
    )
    rescore_minute: int = Field(default=10, ge=0, le=59, description="minute of the hourly rescore")
    severe_scan_seconds: float = Field(default=30.0, gt=0, description="period of the event scan")
    repeated_protective_stops: int = Field(
        default=3, ge=1, description="protective stops within an hour that trigger a rescore"
    )
