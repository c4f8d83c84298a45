"""Factories of the policies tests: an approved rating plan, an active product, robots with
and without a risk score, all in the test's rolled-back transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.demo.underwriting import COVERAGES  # the demo's product: one set of terms
from cloud_api.policies import changes, quotes, service
from cloud_api.policies.schemas import QuoteCreate
from database.models import (
    InstallmentPlan,
    Policy,
    Product,
    ProductStatus,
    Robot,
    RobotClass,
    Tenant,
    risk_scores,
)
from database.models.score import SCORE_FIGURES
from tests.integration.api.robot_factories import add_robot
from tests.integration.risk.risk_factories import approve_starter_plan
from tests.support.api import ApiHarness, principal

TAX_BP = 1900  # DE


def plan_in_force(session: Session) -> int:
    return approve_starter_plan(
        session.connection(), effective_from=datetime.now(UTC) - timedelta(days=400)
    )


def active_product(session: Session, **terms: Any) -> Product:
    product = Product(
        code=f"fleet_{uuid.uuid4().hex[:8]}",
        version=1,
        name="Fleet cover",
        status=ProductStatus.ACTIVE.value,
        currency="EUR",
        terms={
            "coverages": COVERAGES,
            "premium_tax_bp": {"DE": TAX_BP, "FR": 900},
            "backdating_days": 30,
            **terms,
        },
        created_by="test",
        activated_at=datetime.now(UTC),
        activated_by="test",
    )
    session.add(product)
    session.flush()
    return product


def add_score(session: Session, robot: Robot, plan_version: int, premium: float) -> int:
    """A score row of the robot with this (annual) premium and two reasons."""
    figures = dict.fromkeys(SCORE_FIGURES, 1.0)
    figures.update(premium=premium, technical_premium=premium * 1.1)
    now = datetime.now(UTC)
    return int(
        session.execute(
            insert(risk_scores)
            .values(
                robot_id=robot.id,
                scored_at=now - timedelta(hours=1),
                period_start=now - timedelta(days=3),
                plan_version=plan_version,
                trigger="schedule",
                currency="EUR",
                features={},
                contributions={},
                reasons=[
                    {"factor": "collision_rate", "reason": "More collisions", "log_change": 0.2}
                ],
                **figures,
            )
            .returning(risk_scores.c.id)
        ).scalar_one()
    )


def fleet(
    session: Session, tenant: Tenant, plan_version: int, premiums: list[float | None]
) -> list[Robot]:
    """Robots of ``tenant``, one per premium (None: no score yet)."""
    robots = []
    for index, premium in enumerate(premiums):
        robot = add_robot(
            session, tenant, robot_class=list(RobotClass)[index % len(list(RobotClass))]
        )
        if premium is not None:
            add_score(session, robot, plan_version, premium)
        robots.append(robot)
    return robots


def issue_at(
    api: ApiHarness, start: date, plan: str = "quarterly", tenant: str = "alpha"
) -> Policy:
    """A policy of one robot quoted, bound and issued on ``start`` (services, at that time)."""
    version = plan_in_force(api.session)
    product = active_product(api.session)
    robot = fleet(api.session, api.tenant(tenant), version, [2000.0])[0]
    at = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    offer = QuoteCreate(
        tenant=tenant,
        product_id=product.id,
        robot_ids=[robot.id],
        jurisdiction="DE",
        term_start=start,
    )
    underwriter = principal(Role.UNDERWRITER)
    quote = quotes.create(api.session, underwriter, offer, at)
    policy = changes.bind(api.session, underwriter, quote.id, at, InstallmentPlan(plan))
    return service.issue(api.session, underwriter, policy.id, at)
