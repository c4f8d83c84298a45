"""Response bodies of the audit trail's endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str
    action: str
    target_type: str
    target_id: str
    tenant_id: uuid.UUID | None
    request_id: str | None
    detail: dict[str, Any]
