"""The risk engine's tables: rating plans, claims experience, feature state, score history."""

from risk_engine.models.claims import claim_experience
from risk_engine.models.plan import rating_plans
from risk_engine.models.score import risk_scores
from risk_engine.models.state import risk_feature_state, risk_watermarks

__all__ = [
    "claim_experience",
    "rating_plans",
    "risk_feature_state",
    "risk_scores",
    "risk_watermarks",
]
