"""The claims list on the real database: each claim with its tenant and, to staff, its
outstanding reserves (the latest row of each cost type); a page costs the same statements
whatever its size (no query per claim); the policyholder sees no reserves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cloud_api.access.roles import Role
from database.models import ClaimReserve
from tests.integration.api.claim_factories import (
    ADJUSTER,
    Moves,
    insured_fleet,
    recorded_claim,
)
from tests.support.api import ApiHarness, principal


def test_a_page_of_claims_shows_each_claims_reserves_in_the_same_statements_at_any_size(
    api: ApiHarness,
) -> None:
    loss = datetime.now(UTC) - timedelta(days=2)
    later = loss + timedelta(hours=5)
    fleets = {tenant: insured_fleet(api, tenant) for tenant in ("alpha", "beta")}
    claims = {}
    for index, (tenant, fleet) in enumerate([*fleets.items(), *fleets.items()]):
        reserve = 100_000 * (index + 1)
        moves: tuple[Moves, Moves] = (
            ([(loss, reserve), (later, -30_000)], []) if index != 3 else ([], [])
        )
        claim = recorded_claim(api.session, fleet, fleet.robots[0], loss, moves)
        claims[str(claim.id)] = (tenant, reserve - 30_000 if index != 3 else None)
    # One claim also holds an expenses reserve, and a second repair row taking its repair to 0:
    # per (claim, cost type) the latest row counts, and a zero reserve is not shown.
    mixed = next(claim_id for claim_id, (_, left) in claims.items() if left is not None)
    for cost_type, amount in (("expenses", 40_000), ("repair", 0)):
        api.session.add(
            ClaimReserve(
                claim_id=uuid.UUID(mixed),
                cost_type=cost_type,
                amount_minor=amount,
                change_minor=amount,
                cause="set",
                set_at=later + timedelta(hours=1),
                set_by="test",
            )
        )
    api.session.flush()
    staff = api.client(ADJUSTER)

    one, one_page = api.statements(lambda: staff.get("/v1/claims", params={"limit": 1}))
    every, whole_page = api.statements(lambda: staff.get("/v1/claims", params={"limit": 50}))
    assert one.status_code == every.status_code == 200
    assert len(one.json()["items"]) == 1
    assert whole_page == one_page  # not a query or two more per claim
    shown = {item["id"]: item for item in every.json()["items"]}
    assert set(shown) == set(claims)
    for claim_id, (tenant, outstanding) in claims.items():
        item = shown[claim_id]
        assert item["tenant"] == tenant
        if claim_id == mixed:
            assert item["reserves"] == [{"cost_type": "expenses", "amount_minor": 40_000}]
            assert item["incurred_minor"] == 40_000
        elif outstanding is None:
            assert item["reserves"] == []
            assert item["incurred_minor"] == 0
        else:
            assert item["reserves"] == [{"cost_type": "repair", "amount_minor": outstanding}]
            assert item["incurred_minor"] == outstanding

    owner = api.client(principal(Role.POLICYHOLDER, "beta"))
    theirs = owner.get("/v1/claims").json()["items"]
    assert {c["id"] for c in theirs} == {i for i, (t, _) in claims.items() if t == "beta"}
    assert all(c["reserves"] is None and c["incurred_minor"] is None for c in theirs)
