"""The coverage check of a claim, and what a policy pays on it. Pure, integers only.

A loss is covered when, at the time of loss, the policy's term had begun and not ended, the
version then in effect was in force (not bound only, cancelled, lapsed or expired), and its
schedule names the robot with the coverage claimed. Its terms are that schedule line's: a limit
per loss, a deductible per loss, and an aggregate for the policy's term per coverage, of which
the other claims' payable amounts on the same policy and coverage are used.

What the policy pays on an agreed loss ``L``: ``min(max(L - deductible, 0), limit, aggregate -
used)``, never below zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

IN_FORCE = "in_force"


@dataclass(frozen=True)
class Terms:
    limit_minor: int
    deductible_minor: int
    aggregate_minor: int


@dataclass(frozen=True)
class VersionAtLoss:
    """The policy version in effect at the time of loss."""

    version_no: int
    status: str
    schedule: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class CoverageCheck:
    covered: bool
    version_no: int | None
    terms: Terms | None
    aggregate_used_minor: int
    reasons: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "covered": self.covered,
            "version_no": self.version_no,
            "terms": None if self.terms is None else self.terms.__dict__,
            "aggregate_used_minor": self.aggregate_used_minor,
            "reasons": self.reasons,
        }


def check(
    *,
    loss_at: datetime,
    term_start: datetime,
    term_end: datetime,
    version: VersionAtLoss | None,
    robot_id: uuid.UUID,
    coverage: str,
    aggregate_used_minor: int,
) -> CoverageCheck:
    reasons: list[dict[str, str]] = []
    if loss_at < term_start:
        reasons.append(_reason("loss_before_term", f"the term began {term_start.isoformat()}"))
    elif loss_at >= term_end:
        reasons.append(_reason("loss_after_term", f"the term ended {term_end.isoformat()}"))
    terms = None
    if version is None:
        reasons.append(_reason("no_version", "no version of the policy was in effect then"))
    else:
        if version.status != IN_FORCE:
            reasons.append(
                _reason("not_in_force", f"the policy was {version.status} at the time of loss")
            )
        terms = _scheduled(version.schedule, robot_id, coverage, reasons)
    if terms is not None and aggregate_used_minor >= terms.aggregate_minor:
        reasons.append(
            _reason(
                "aggregate_exhausted",
                f"{aggregate_used_minor} of the aggregate {terms.aggregate_minor} already used",
            )
        )
    return CoverageCheck(
        covered=not reasons,
        version_no=None if version is None else version.version_no,
        terms=terms,
        aggregate_used_minor=aggregate_used_minor,
        reasons=reasons,
    )


def payable(agreed_loss_minor: int, terms: Terms, aggregate_used_minor: int) -> int:
    """What the policy pays on an agreed loss: deductible applied, limit and aggregate left."""
    after_deductible = max(agreed_loss_minor - terms.deductible_minor, 0)
    left = max(terms.aggregate_minor - aggregate_used_minor, 0)
    return max(min(after_deductible, terms.limit_minor, left), 0)


def _scheduled(
    schedule: Sequence[Mapping[str, Any]],
    robot_id: uuid.UUID,
    coverage: str,
    reasons: list[dict[str, str]],
) -> Terms | None:
    lines = [line for line in schedule if line.get("robot_id") == str(robot_id)]
    if not lines:
        reasons.append(_reason("robot_not_scheduled", "the robot was not on the schedule"))
        return None
    for line in lines:
        if line.get("coverage") == coverage:
            return Terms(
                int(line["limit_minor"]),
                int(line["deductible_minor"]),
                int(line["aggregate_minor"]),
            )
    reasons.append(_reason("coverage_not_scheduled", f"the robot was not insured for {coverage!r}"))
    return None


def _reason(code: str, detail: str) -> dict[str, str]:
    return {"code": code, "detail": detail}
