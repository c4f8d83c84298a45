"""A small book, seeded through a real `robocover api` process as the demo's people would make
it (the demo's own steps: the administrator from the command line, staff, the tenant and its
owner, two robots registered, the product, a quote bound and issued, a claim filed, read,
approved and paid), with what the robot side would have written seeded in the database: the
risk engine's scores (a robot growing dearer with its collisions, with the reasons) and the
collision the claim is about. Its report is written by the demo's own code."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, pool

from cloud_api.demo import claims, fleet, story, underwriting
from cloud_api.demo.processes import ProcessGroup
from cloud_api.demo.report import ReportSources, write_report
from cloud_api.demo.stack import Stack
from cloud_api.demo.summary import Board
from cloud_api.policies.tasks import earn_premium
from cloud_api.settings import ApiSettings
from database.models import risk_scores, robot_events
from database.models.score import SCORE_FIGURES

COLLISIONS = [{"factor": "collision_rate", "reason": "More collisions", "log_change": 0.2}]
PREMIUMS = ([30_000.0, 36_642.08, 44_000.0], [20_000.0, 20_000.0, 19_500.0])
"""Each robot's premiums over its three scores: the first grows dearer, the second steady."""


@dataclass(frozen=True)
class SeededBook:
    report: Path
    tenant: str
    serials: list[str]
    policy_number: str
    claim_number: str
    loss_at: datetime
    loss_ratio: float
    """This month's, as GET /v1/reports/premium says."""


def _scores(engine: Engine, robot_ids: list[str], plan: int, start: datetime) -> None:
    figures = dict.fromkeys(SCORE_FIGURES, 1.0)
    with engine.begin() as conn:
        for robot_id, premiums in zip(robot_ids, PREMIUMS, strict=True):
            for index, premium in enumerate(premiums):
                dearer = index > 0 and premium > premiums[index - 1]
                conn.execute(
                    insert(risk_scores).values(
                        robot_id=uuid.UUID(robot_id),
                        scored_at=start + timedelta(minutes=10 * index),
                        period_start=start - timedelta(days=2),
                        plan_version=plan,
                        trigger="severe_event" if dearer else "schedule",
                        currency="EUR",
                        features={},
                        contributions={},
                        reasons=COLLISIONS if dearer else [],
                        **{**figures, "premium": premium, "technical_premium": premium * 1.1},
                    )
                )


def _collision(engine: Engine, robot_id: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(robot_events).values(
                time=at,
                robot_id=uuid.UUID(robot_id),
                seq=7,
                position=0,
                kind="collision",
                severity=2,
                detail={"value": 212.5},
            )
        )


def seed_book(settings: ApiSettings, api_url: str, workdir: Path) -> SeededBook:
    """The book, and the demo's report of it in ``workdir / "report"``."""
    run = uuid.uuid4().hex[:6]
    group = ProcessGroup(workdir / "processes.log")
    stack = Stack(settings, group, workdir, api_urls=[api_url])
    board = Board(str(workdir), str(group.log_path))
    robots = fleet.plan_fleet(2, run, workdir / "fleet")
    tale = story.Story(stack, board, robots, run)
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        story.cast(tale)
        fleet.register(tale["policyholder"], robots)
        underwriting.rating_plan(tale)
        underwriting.product(tale)
        start = datetime.now(UTC) - timedelta(minutes=40)
        _scores(engine, [r.robot_id for r in robots], tale.facts["plan_version"], start)
        underwriting.underwrite(tale)
        loss_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        _collision(engine, robots[0].robot_id, loss_at)
        tale.facts["reckless"] = robots[0]
        tale.facts["collision"] = {"time": loss_at.isoformat()}
        claims.file_claim(tale)
        claims.read_evidence(tale)
        _decide(tale)
        today = datetime.now(UTC).date()
        earn_premium(engine, today - timedelta(days=1), today)  # the nightly job
        month = tale["auditor"].get("/v1/reports/premium", currency="EUR", period="month")
        report = write_report(
            ReportSources(
                underwriter=tale["underwriter"],
                auditor=tale["auditor"],
                adjuster=tale["claims_adjuster"],
                tenant=tale.tenant,
                currency="EUR",
                since=start - timedelta(minutes=1),
                claim_id=tale.facts["claim"]["id"],
            ),
            board,
            workdir / "report",
            api_docs=f"{api_url}/docs",
            base_url=api_url,
        )
    finally:
        tale.close()
        engine.dispose()
        group.close()
    return SeededBook(
        report,
        tale.tenant,
        [r.serial for r in robots],
        tale.facts["policy"]["number"],
        tale.facts["claim"]["number"],
        loss_at,
        month["periods"][-1]["loss_ratio"],
    )


def _decide(tale: story.Story) -> None:
    """The adjuster approves the claim and pays it by bank transfer."""
    adjuster, claim = tale["claims_adjuster"], tale.facts["claim"]
    path = f"/v1/claims/{claim['id']}"
    adjuster.post(f"{path}/triage", {"severity": "medium", "fast_track": True})
    adjuster.post(f"{path}/approve", {"agreed_loss_minor": claims.AGREED_LOSS_MINOR})
    tale.facts["claim"] = adjuster.post(f"{path}/pay", {"bank_reference": "DEMO-TRANSFER-1"})
    tale.board.done("claim paid", "by bank transfer")


def api_environment(settings: ApiSettings, redis_url: str, attachments: Path) -> dict[str, str]:
    """What a `robocover api` process of the test needs (the test's database and broker)."""
    admin = settings.mqtt_admin_password
    return {
        **os.environ,
        "ROBOCOVER_DATABASE_URL": settings.libpq_url,
        "ROBOCOVER_MQTT_URL": str(settings.mqtt_url).rstrip("/"),
        "ROBOCOVER_MQTT_USERNAME": settings.mqtt_username or "",
        "ROBOCOVER_MQTT_PASSWORD": (
            "" if settings.mqtt_password is None else settings.mqtt_password.get_secret_value()
        ),
        "ROBOCOVER_MQTT_ADMIN_PASSWORD": "" if admin is None else admin.get_secret_value(),
        "ROBOCOVER_REDIS_URL": redis_url,
        "ROBOCOVER_ATTACHMENTS_DIR": str(attachments),
        "ROBOCOVER_LOG_FORMAT": "json",
    }
