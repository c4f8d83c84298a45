"""The insurer's side of the story, through the REST API: the actuary's rating plan (the one
step with no route: `robocover risk plan` is the actuary's tool), the underwriter's product,
quote, binding and issue; the premium paid by card through the processor; premiums following
the telemetry (the risk worker rescoring after severe events, the hourly fleet rescore run
now); the risk-driven endorsement proposed by the jobs worker and approved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, pool

from cloud_api.demo import fleet
from cloud_api.demo.story import Story
from risk_engine.plans.default import starter_plan
from risk_engine.plans.repository import PlanError, active_plan, approve_plan, save_draft
from risk_engine.worker import RESCORE_FLEET

PRODUCT_CODE = "demo_fleet_cover"
COVERAGES: list[dict[str, Any]] = [
    {
        "code": "breakdown",
        "name": "Machinery breakdown",
        "plan_coverage": "machinery_breakdown",
        "limit_minor": 5_000_000,
        "deductible_minor": 50_000,
        "aggregate_minor": 10_000_000,
    },
    {
        "code": "liability",
        "name": "Third-party liability",
        "plan_coverage": "third_party_liability",
        "limit_minor": 20_000_000,
        "deductible_minor": 0,
        "aggregate_minor": 20_000_000,
    },
]
RISE = 1.4
RECKLESS_FOR_S = 45.0
"""The reckless robot runs until its premium rose by 40 %, or this long at most."""
MIN_SAMPLES = 100
"""Samples of each robot stored before the first scores (a few seconds of telemetry)."""
BACKDATED_DAYS = 28
"""The policy's term began four weeks ago, so that the reports have premium earned."""


def money(minor: int, currency: str = "EUR") -> str:
    return f"{currency} {minor / 100:,.2f}"


def rating_plan(story: Story) -> None:
    title = "rating plan"
    story.board.begin(title, "the actuary's approved plan in effect")
    engine = create_engine(story.stack.settings.sqlalchemy_url, poolclass=pool.NullPool)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            try:
                stored = active_plan(conn, now)
                how = "in effect"
            except PlanError:
                version = save_draft(conn, starter_plan(now), created_by="robocover demo")
                stored = approve_plan(conn, version, approved_by="demo actuary", at=now)
                how = "filed and approved now (robocover risk plan starter / approve)"
    finally:
        engine.dispose()
    story.facts["plan_version"] = stored.version
    story.board.done(title, f"version {stored.version}, {how}")


def product(story: Story) -> None:
    title = "product"
    underwriter = story["underwriter"]
    story.board.begin(title, "the underwriter's product")
    found = underwriter.get("/v1/products", code=PRODUCT_CODE, status="active")["items"]
    if found:
        chosen, how = found[0], "active already"
    else:
        draft = underwriter.post(
            "/v1/products",
            {
                "code": PRODUCT_CODE,
                "name": "Robot fleet cover",
                "currency": story.currency,
                "terms": {
                    "coverages": COVERAGES,
                    "premium_tax_bp": {"DE": 1900},
                    "backdating_days": 31,
                },
            },
            create=True,
        )
        path = f"/v1/products/{draft['id']}"
        chosen = underwriter.post(f"{path}/activate", etag=underwriter.etag(path))
        how = "made and activated"
    story.facts["product_id"] = chosen["id"]
    story.board.done(title, f"{chosen['name']} v{chosen['version']}, {how}")


def latest_scores(story: Story) -> dict[str, dict[str, Any]]:
    """Each robot's latest score, as the underwriter reads it."""
    underwriter = story["underwriter"]
    latest = {}
    for robot in story.robots:
        items = underwriter.get(f"/v1/robots/{robot.robot_id}/risk-scores", limit=1)["items"]
        if items:
            latest[robot.robot_id] = items[0]
    return latest


def fleet_rescore(story: Story, title: str) -> None:
    """The hourly rescore of the whole fleet (the risk worker's beat), run now through Celery."""
    story.board.begin(title, "the hourly fleet rescore, sent to the risk worker now")
    result = story.risk(RESCORE_FLEET)
    scores = latest_scores(story)
    story.board.done(
        title,
        f"{result['scored']} robots scored from {result['rollup_rows']} hourly rollups and"
        f" {result['events']} events; {len(scores)} of ours",
    )


def underwrite(story: Story) -> None:
    title = "quote, bind, issue"
    underwriter = story["underwriter"]
    story.board.begin(title, "the underwriter quotes the fleet")
    term_start = datetime.now(UTC).date() - timedelta(days=BACKDATED_DAYS)
    quote = underwriter.post(
        "/v1/quotes",
        {
            "tenant": story.tenant,
            "product_id": story.facts["product_id"],
            "robot_ids": [r.robot_id for r in story.robots],
            "jurisdiction": "DE",
            "term_start": term_start.isoformat(),
        },
        create=True,
    )
    scored = sum(1 for line in quote["lines"] if line["source"] == "score")
    annual: dict[str, float] = {}
    for line in quote["lines"]:
        annual[line["robot_id"]] = annual.get(line["robot_id"], 0.0) + line["rated_premium"]
    story.facts["quoted_annual"] = annual
    policy = underwriter.post(
        f"/v1/quotes/{quote['id']}/bind", {"installments": "monthly"}, create=True
    )
    policy = underwriter.post(f"/v1/policies/{policy['id']}/issue")
    story.facts["policy"] = policy
    story.facts["issued_at"] = datetime.now(UTC)
    story.board.done(
        title,
        f"{policy['number']}: {money(quote['premium_minor'])} + tax"
        f" {money(quote['tax_minor'])} a year from {term_start} (backdated"
        f" {BACKDATED_DAYS} days), {scored} of {len(quote['lines'])} lines priced from scores,"
        " paid monthly",
    )


def pay_first_invoice(story: Story) -> None:
    title = "invoice paid by card"
    agent = story["billing_agent"]
    policy_id = story.facts["policy"]["id"]
    invoices = agent.get("/v1/invoices", policy_id=policy_id, sort="due_on", limit=1)["items"]
    invoice = invoices[0]
    story.board.begin(title, f"{invoice['number']}: card payment asked")
    agent.post(
        f"/v1/invoices/{invoice['id']}/card-payments", {"card_token": "tok_demo_visa"}, create=True
    )
    paid = story.wait(
        "the invoice paid",
        lambda: (i := agent.get(f"/v1/invoices/{invoice['id']}"))["status"] == "paid" and i,
    )
    story.facts["invoice"] = paid
    story.board.done(
        title,
        f"{paid['number']} (installment {paid['installment']}, {money(paid['total_minor'])}):"
        " charged by the jobs worker through the processor, which also told it by webhook",
    )


def turn_reckless(story: Story) -> None:
    """A robot's safety scanner is switched off: its agent runs on at a high hazard."""
    title = "a robot turns reckless"
    robot = story.robots[0]
    story.board.begin(title, f"{robot.serial}: safety scanner off")
    since = datetime.now(UTC)
    story.facts["usual_hazard"] = robot.hazard
    _restart(story, robot, fleet.RECKLESS)
    owner = story["policyholder"]

    def first_collision() -> dict[str, Any] | None:
        items = owner.get(
            f"/v1/robots/{robot.robot_id}/events",
            kind="collision",
            since=since.isoformat(),
            sort="time",
            limit=1,
        )["items"]
        return items[0] if items else None

    collision = story.wait("a collision", first_collision)
    story.facts["reckless"] = robot
    story.facts["collision"] = collision
    at = datetime.fromisoformat(collision["time"])
    story.board.done(
        title, f"{robot.serial} collided at {at:%H:%M:%S} UTC (hazard x{robot.hazard:g})"
    )


def _restart(story: Story, robot: fleet.DemoRobot, hazard: float) -> None:
    mqtt_url = str(story.stack.settings.mqtt_url).rstrip("/")
    fleet.restart_at(story.stack.group, robot, hazard, mqtt_url, story.stack.agent_env())
    for row in story.board.robots:
        if row.serial == robot.serial:
            row.hazard = robot.hazard


def repair(story: Story) -> None:
    """The safety scanner is back on: the robot runs at its usual hazard again."""
    title = "scanner repaired"
    robot = story.facts["reckless"]
    story.board.begin(title, f"{robot.serial}: back to its usual hazard")
    _restart(story, robot, story.facts["usual_hazard"])
    story.board.done(title, f"{robot.serial} runs at hazard x{robot.hazard:g} again")


def telemetry(story: Story) -> None:
    """Until every robot's telemetry is stored (the ingests acknowledged it)."""
    title = "telemetry"
    story.board.begin(title, "waiting for every robot's first batches")
    story.wait(
        "every robot's telemetry",
        lambda: all(row.samples >= MIN_SAMPLES for row in story.board.robots),
    )
    total = sum(row.samples for row in story.board.robots)
    story.board.done(
        title,
        f"{total:,} samples stored, through the broker and two ingest processes",
    )


def premium_follows(story: Story) -> None:
    title = "premium follows"
    robot = story.facts["reckless"]
    underwriter = story["underwriter"]
    story.board.begin(title, "the risk worker rescores after severe events")

    quoted = story.facts["quoted_annual"][robot.robot_id]

    def latest_severe() -> dict[str, Any] | None:
        items = underwriter.get(
            f"/v1/robots/{robot.robot_id}/risk-scores", trigger="severe_event", limit=1
        )["items"]
        return items[0] if items else None

    def risen() -> dict[str, Any] | None:
        score = latest_severe()
        return score if score is not None and score["premium"] >= quoted * RISE else None

    try:
        score = story.wait("the premium risen", risen, timeout_s=RECKLESS_FOR_S)
    except TimeoutError:  # it rose less: the story goes on with what the telemetry shows
        score = story.wait("a rescore after the collisions", latest_severe)
    reasons = score["reasons"] or []
    why = reasons[0]["reason"] if reasons else "no reason given"
    story.board.done(
        title,
        f"{robot.serial}: {story.currency} {quoted:,.0f} quoted, {score['premium']:,.0f} after"
        f" the collision ({score['premium'] / quoted - 1:+.0%}): {why}",
    )


def endorse(story: Story) -> None:
    title = "endorsement"
    underwriter = story["underwriter"]
    policy = story.facts["policy"]
    story.board.begin(title, "the jobs worker proposes repricing (daily, run now)")
    made = story.jobs("policies.propose_endorsements")
    proposals = underwriter.get("/v1/endorsement-proposals", policy_id=policy["id"])["items"]
    if not proposals:
        story.board.done(title, f"no robot's premium moved: nothing proposed ({made} made)")
        return
    proposal = proposals[0]
    if proposal["status"] == "proposed":
        proposal = underwriter.post(f"/v1/endorsement-proposals/{proposal['id']}/approve")
        how = "approved by the underwriter"
    else:
        how = f"{proposal['status']} by the job itself (within the product's 5 %)"
    before, after = proposal["term_premium_minor"], proposal["proposed_term_premium_minor"]
    story.facts["proposal"] = proposal
    story.board.done(
        title,
        f"{len(proposal['lines'])} lines repriced from {proposal['effective_on']}: term premium"
        f" {money(before)} -> {money(after)} ({after / before - 1:+.1%}), {how}",
    )
