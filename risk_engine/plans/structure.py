"""What a fit estimates: the rating variables of a plan, without their numbers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from risk_engine.kernels.rating import Transform
from risk_engine.plans.schema import FactorKind, FactorTarget


class FactorSpec(BaseModel):
    """A rating variable to fit: its kind and shape; the fit supplies the relativities."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    variable: str
    target: FactorTarget
    kind: FactorKind
    reason: str
    breaks: list[float] = Field(default_factory=list)
    reference: float = 0.0
    lower: float | None = None
    upper: float | None = None
    transform: Transform = "identity"
    adverse_only: bool = False
