"""End to end on real services: robots publish signed telemetry and events through a real
broker into a real `robocover ingest` process; their tenant's policy covers them; the
policyholder files a claim for each, and the claim's evidence is what the robots said. A robot
whose own agent process (the simulator collector, a high hazard) reports a collision shows the
collision and no flag; one whose batches around its time of loss never arrived carries the gap
flag; one with no event near the loss is flagged for it (these two are the suite's simulated
robots, which can be made to lose batches). A later change to a stored snapshot, made around
the table's trigger, is detected by its digest."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, pool, select, text
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.claims import evidence, service
from cloud_api.claims.schemas import ClaimCreate
from cloud_api.policies import changes, quotes
from cloud_api.policies import service as policies
from cloud_api.policies.schemas import QuoteCreate
from database.models import BatchReceipt, Claim, ClaimEvidence, robot_events
from database.settings import CloudSettings
from edge_agent.identity import load_or_create_signer
from firmware_protocol import RobotSigner, RobotState, TopicKind
from tests.integration.api.policy_factories import active_product, plan_in_force
from tests.support.agent_process import agent_config, enrolled_identity, start_agent
from tests.support.api import principal
from tests.support.broker import MosquittoBroker
from tests.support.fleet import SimRobot, register_robot
from tests.support.ingest_process import IngestProcess, RobotLink, wait_all_acked

HOLDER = principal(Role.POLICYHOLDER, "acme")
UNDERWRITER = principal(Role.UNDERWRITER)


@pytest.fixture
def ingest(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> Iterator[IngestProcess]:
    process = IngestProcess(fresh_database, mqtt_broker, log_path=tmp_path / "ingest.log")
    process.start()
    yield process
    if process.process is not None:
        process.kill(signal.SIGTERM)
    process.retire()


@pytest.fixture
def engine(fresh_database: CloudSettings) -> Iterator[Engine]:
    made = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    yield made
    made.dispose()


def insure(engine: Engine, robot_ids: list[uuid.UUID]) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        plan_in_force(session)
        product = active_product(session)
        offer = QuoteCreate(
            tenant="acme",
            product_id=product.id,
            robot_ids=robot_ids,
            jurisdiction="DE",
            term_start=(now - timedelta(days=1)).date(),
        )
        quote = quotes.create(session, UNDERWRITER, offer, now)
        policy = changes.bind(session, UNDERWRITER, quote.id, now)
        policies.issue(session, UNDERWRITER, policy.id, now)


def file_claim(engine: Engine, robot_id: uuid.UUID, loss_at: datetime) -> uuid.UUID:
    body = ClaimCreate(
        robot_id=robot_id,
        coverage="breakdown",
        loss_at=loss_at,
        description="The robot stopped and was damaged.",
    )
    with Session(engine) as session, session.begin():
        claim = service.report(session, HOLDER, body, datetime.now(UTC), evidence.EvidenceRules())
        return claim.id


def flags(engine: Engine, claim_id: uuid.UUID) -> tuple[list[str], ClaimEvidence, bool]:
    with Session(engine) as session:
        claim = session.get(Claim, claim_id)
        row = session.get(ClaimEvidence, claim_id)
        assert claim is not None
        assert row is not None
        return [f["code"] for f in row.flags], row, evidence.verify(claim, row)


def first_collision(engine: Engine, robot_id: uuid.UUID, timeout: float = 90.0) -> datetime:
    """When the robot's first collision happened, once the ingest has stored it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            found = session.execute(
                select(func.min(robot_events.c.time)).where(
                    robot_events.c.robot_id == robot_id, robot_events.c.kind == "collision"
                )
            ).scalar_one()
        if found is not None:
            return found  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"no collision of robot {robot_id} stored in {timeout} s")


@pytest.fixture
def agent_robot(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> Iterator[tuple[uuid.UUID, subprocess.Popen[bytes], Path]]:
    """An enrolled robot whose own agent process runs (hazard 36,000: about a collision every
    two seconds)."""
    state_dir = tmp_path / "agent-state"
    state_dir.mkdir()
    robot_id = register_robot(fresh_database.libpq_url, load_or_create_signer(state_dir))
    enrolled_identity(state_dir, mqtt_broker, "acme", robot_id)
    config = agent_config(tmp_path / "agent.toml", state_dir, mqtt_broker, hazard=36_000.0)
    log = tmp_path / "agent.log"
    process = start_agent(config, log)
    yield robot_id, process, log
    if process.poll() is None:
        process.kill()
        process.wait(10)


def test_claims_carry_the_robots_own_account_of_the_loss(
    ingest: IngestProcess,
    fresh_database: CloudSettings,
    mqtt_broker: MosquittoBroker,
    engine: Engine,
    agent_robot: tuple[uuid.UUID, subprocess.Popen[bytes], Path],
) -> None:
    collided, agent, agent_log = agent_robot
    links = []
    for _ in range(2):
        signer = RobotSigner.generate()
        robot = SimRobot("acme", register_robot(fresh_database.libpq_url, signer), signer)
        links.append(RobotLink(robot, mqtt_broker))
    gapped, quiet = links
    for link in links:
        link.publish(TopicKind.STATUS, link.robot.status(RobotState.ONLINE))
        for _ in range(3):
            link.publish(TopicKind.TELEMETRY, link.robot.telemetry(samples=30))
    last_delivered = gapped.robot.seq - 1
    lost = gapped.robot.skip(3)  # made and chained, never delivered
    assert len(lost) == 3
    first_lost, next_delivered = last_delivered + 1, last_delivered + 4
    gapped.publish(TopicKind.TELEMETRY, gapped.robot.telemetry(samples=30))
    quiet.publish(TopicKind.TELEMETRY, quiet.robot.telemetry(samples=30))
    wait_all_acked(links, timeout=60)
    collision_at = first_collision(engine, collided)
    time.sleep(2)  # the agent goes on reporting after the collision
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0, agent_log.read_text()
    insure(engine, [collided, *(link.robot.robot_id for link in links)])

    with Session(engine) as session:
        around = dict(
            session.execute(
                select(BatchReceipt.seq, BatchReceipt.device_time).where(
                    BatchReceipt.robot_id == gapped.robot.robot_id,
                    BatchReceipt.seq.in_([last_delivered, next_delivered]),
                )
            ).all()
        )
        quiet_times = list(
            session.scalars(
                select(BatchReceipt.device_time).where(
                    BatchReceipt.robot_id == quiet.robot.robot_id
                )
            )
        )
    # The gapped robot's time of loss falls between the batches around what never arrived; the
    # quiet robot's while it was sending.
    quiet_loss = min(quiet_times) + (max(quiet_times) - min(quiet_times)) / 2
    gap_loss = around[last_delivered] + (around[next_delivered] - around[last_delivered]) / 2

    first = file_claim(engine, collided, collision_at)
    second = file_claim(engine, gapped.robot.robot_id, gap_loss)
    third = file_claim(engine, quiet.robot.robot_id, quiet_loss)
    codes, row, intact = flags(engine, first)
    assert codes == []
    assert intact
    assert "collision" in {e["kind"] for e in row.snapshot["events"]}
    assert collision_at.isoformat() in {e["time"] for e in row.snapshot["events"]}
    assert row.snapshot["metrics_hourly"]  # the agent's telemetry around the loss
    assert row.snapshot["chain"]["every_batch_verified"] is True
    codes, row, intact = flags(engine, second)
    assert "gap_at_loss" in codes
    assert intact
    gaps = [(g["first_seq"], g["last_seq"]) for g in row.snapshot["gaps"]]
    assert gaps == [(first_lost, next_delivered - 1)]
    codes, _, _ = flags(engine, third)
    assert codes == ["no_matching_event"]

    with Session(engine) as session, session.begin():  # the table owner goes around the trigger
        session.execute(
            text("ALTER TABLE claim_evidence DISABLE TRIGGER claim_evidence_append_only")
        )
        session.execute(
            text("UPDATE claim_evidence SET flags = '[]' WHERE claim_id = :c"), {"c": second}
        )
        session.execute(
            text("ALTER TABLE claim_evidence ENABLE TRIGGER claim_evidence_append_only")
        )
    assert flags(engine, second)[2] is False
    for link in links:
        link.close()
