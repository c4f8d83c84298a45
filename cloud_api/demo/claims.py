"""The loss and what follows, through the REST API: the owner files a claim for the reckless
robot's collision; the adjuster reads the evidence the robot's own telemetry froze with it,
triages, approves and pays it out through the processor (the jobs worker sends the payout);
the nightly earning job runs now and the reports show premium, claims and the loss ratio."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloud_api.demo.story import Story
from cloud_api.demo.underwriting import money

AGREED_LOSS_MINOR = 1_200_000
"""The repair the adjuster agrees: EUR 12,000.00 (the coverage's deductible is 500.00)."""


def file_claim(story: Story) -> None:
    title = "claim filed"
    robot, collision = story.facts["reckless"], story.facts["collision"]
    owner = story["policyholder"]
    story.board.begin(title, "the owner reports the collision")
    claim = owner.post(
        "/v1/claims",
        {
            "robot_id": robot.robot_id,
            "coverage": "breakdown",
            "loss_at": collision["time"],
            "description": "The arm struck its fixture at full speed; the wrist joint is damaged.",
            "estimated_loss_minor": 1_500_000,
        },
        create=True,
    )
    story.facts["claim"] = claim
    covered = claim["coverage_check"].get("covered", True)
    story.board.done(
        title,
        f"{claim['number']} on {story.facts['policy']['number']}, loss at"
        f" {datetime.fromisoformat(claim['loss_at']):%H:%M:%S} UTC,"
        f" {'covered' if covered else 'not covered'} by the version in force then",
    )


def read_evidence(story: Story) -> None:
    title = "evidence"
    adjuster, claim = story["claims_adjuster"], story.facts["claim"]
    story.board.begin(title, "the adjuster reads the robot's own record")
    evidence = adjuster.get(f"/v1/claims/{claim['id']}/evidence")
    snapshot = evidence["snapshot"]
    counts = snapshot.get("event_counts", {})
    loss_at = datetime.fromisoformat(story.facts["collision"]["time"])
    at_loss = [
        e
        for e in snapshot.get("events", [])
        if e["kind"] == "collision" and datetime.fromisoformat(e["time"]) == loss_at
    ]
    flags = [f["code"] for f in evidence["flags"]]
    story.facts["evidence"] = evidence
    verified = snapshot.get("chain", {}).get("every_batch_verified")
    story.board.done(
        title,
        f"{'no flag' if not flags else 'flags: ' + ', '.join(flags)};"
        f" the collision at the loss {'shown' if at_loss else 'NOT shown'},"
        f" {counts.get('collision', 0)} collisions in the window;"
        f" {'every batch verified' if verified else 'a batch not verified'};"
        f" digest {'intact' if evidence['intact'] else 'BROKEN'}",
    )


def settle(story: Story) -> None:
    title = "claim paid"
    adjuster, claim = story["claims_adjuster"], story.facts["claim"]
    path = f"/v1/claims/{claim['id']}"
    story.board.begin(title, "triage, approval, payout")
    adjuster.post(f"{path}/triage", {"severity": "medium", "fast_track": True})
    approved = adjuster.post(
        f"{path}/approve",
        {"agreed_loss_minor": AGREED_LOSS_MINOR, "note": "Repair quote checked."},
    )
    adjuster.post(f"{path}/payouts", {"payee_token": "ba_demo_owner_account"}, create=True)
    paid = story.wait("the claim paid", lambda: (c := adjuster.get(path))["status"] == "paid" and c)
    story.facts["claim"] = paid
    story.board.done(
        title,
        f"agreed {money(AGREED_LOSS_MINOR)}, {money(approved['payable_minor'])} payable after"
        f" the deductible; {money(paid['paid_minor'])} paid out through the processor",
    )


def reports(story: Story) -> None:
    title = "reports"
    auditor = story["auditor"]
    story.board.begin(title, "the nightly earning job (run now), then the reports")
    posted = story.jobs("policies.earn_premium")
    report = auditor.get("/v1/reports/premium", currency=story.currency, period="month")
    now = datetime.now(UTC)
    month = next(
        (p for p in report["periods"] if p["period"].startswith(f"{now:%Y-%m}")),
        report["periods"][-1] if report["periods"] else None,
    )
    story.facts["premium_report"] = report
    if month is None:
        story.board.done(title, f"earning posted {posted} entries; no figures yet")
        return
    ratio = month["loss_ratio"]
    story.board.done(
        title,
        f"{month['period'][:7]}: written {money(month['written_minor'])}, earned"
        f" {money(month['earned_minor'])}, incurred {money(month['incurred_minor'])},"
        f" loss ratio {'-' if ratio is None else f'{ratio:.2f}'} (whole book)",
    )


def summary_figures(story: Story) -> dict[str, Any]:
    """What the end of the demo says, for the report page and the tests."""
    claim = story.facts.get("claim", {})
    return {
        "policy": story.facts.get("policy", {}).get("number"),
        "claim": claim.get("number"),
        "claim_paid_minor": claim.get("paid_minor"),
        "tenant": story.tenant,
    }
