"""robocover_claim_payouts_* read real claim payouts from the database: a payout the processor
declines, one it refuses (a request made with a wrong key), one it answers with something that
is not a payout, one it says failed without a reason, each counted once under its kind, every
kind exported from 0, a paid payout not counted; the pending payouts and the age of the oldest,
through the processor being down and back; and a database that does not answer is said so,
with no stale figures."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, pool

from cloud_api.claims import tasks
from cloud_api.claims.metrics import KINDS, PayoutMetrics
from cloud_api.sessions import engine_transactions
from database.models import ClaimPayout
from ingest.connectors.breaker import CircuitBreaker
from tests.integration.api.claim_factories import (
    InsuredFleet,
    approved_claim,
    insured_fleet,
    payout_sender_to,
    request_payout,
)
from tests.support.api import ApiHarness, savepoints
from tests.support.api_process import free_port
from tests.support.fake_processor import API_KEY, FakeProcessor

FAILED = "robocover_claim_payouts_failed_total"
PENDING = "robocover_claim_payouts_pending"
OLDEST = "robocover_claim_payouts_oldest_pending_seconds"
UP = "robocover_claim_payouts_database_up"


@dataclass
class OddProcessor(FakeProcessor):
    """A processor that gives every request with our key one fixed answer."""

    status_code: int = 201
    body: bytes = b"{}"

    def answer(
        self, headers: dict[str, str], body: bytes, path: str = "/v1/charges"
    ) -> tuple[int, bytes]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, b'{"error": "unauthorized"}'
        return self.status_code, self.body


def sender(processor: FakeProcessor, api_key: str = API_KEY) -> AbstractContextManager[tasks.Send]:
    breaker = CircuitBreaker(threshold=3, cooldown_s=0.3)
    return payout_sender_to(processor, breaker, api_key=api_key, timeout_s=5, attempts=2)


def approved_claim_id(api: ApiHarness, insured: InsuredFleet, robot: int) -> str:
    return str(approved_claim(api, insured, robot)["id"])


def requested_payout(api: ApiHarness, claim_id: str) -> dict[str, Any]:
    response = request_payout(api, claim_id)
    assert response.status_code == 202, response.text
    payout: dict[str, Any] = response.json()
    return payout


def stored(api: ApiHarness, payout: dict[str, Any]) -> ClaimPayout:
    found = api.session.get(ClaimPayout, uuid.UUID(payout["id"]))
    assert found is not None
    return found


def pay_out(api: ApiHarness, processor: FakeProcessor, api_key: str = API_KEY) -> dict[str, int]:
    with sender(processor, api_key) as send:
        return tasks.pay_out_due(savepoints(api.session), send, datetime.now(UTC))


def scrape(collector: PayoutMetrics) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def failed_by_kind(api: ApiHarness) -> dict[str, float]:
    registry = scrape(PayoutMetrics(savepoints(api.session)))
    assert registry.get_sample_value(UP) == 1
    values = {kind: registry.get_sample_value(FAILED, {"reason": kind}) for kind in KINDS}
    assert all(value is not None for value in values.values()), values
    return {kind: float(value or 0) for kind, value in values.items()}


def test_each_failed_payout_is_counted_once_under_its_kind(api: ApiHarness) -> None:
    assert failed_by_kind(api) == dict.fromkeys(KINDS, 0.0)  # every kind, from 0
    claim = approved_claim_id(api, insured_fleet(api), 0)
    made = []

    made.append(requested_payout(api, claim))  # the payee's account is closed
    assert pay_out(api, FakeProcessor(script=["decline"]))["failed"] == 1
    assert failed_by_kind(api) == {**dict.fromkeys(KINDS, 0.0), "declined": 1.0}

    made.append(requested_payout(api, claim))  # a request made with a wrong key: a 401
    assert pay_out(api, FakeProcessor(), api_key="sk_test_not_our_key_at_all")["failed"] == 1
    assert failed_by_kind(api) == {**dict.fromkeys(KINDS, 0.0), "declined": 1.0, "refused": 1.0}

    made.append(requested_payout(api, claim))  # an answer that is not a payout
    lost = OddProcessor(body=b'{"id": "po_1", "status": "lost"}')
    assert pay_out(api, lost)["failed"] == 1
    made.append(requested_payout(api, claim))  # "failed", and not a word why
    unstated = b'{"id": "po_2", "status": "failed", "failure_reason": null}'
    assert pay_out(api, OddProcessor(status_code=402, body=unstated))["failed"] == 1
    reasons = [stored(api, payout).failure_reason or "" for payout in made]
    assert reasons[0] == "account_closed"
    assert reasons[1].startswith("the processor refused it: ")
    assert reasons[2].startswith("not a charge: ")
    assert reasons[3] == "refused"
    assert failed_by_kind(api) == {"declined": 1.0, "refused": 3.0, "other": 0.0}

    requested_payout(api, claim)  # and one that goes through: not a failure
    assert pay_out(api, FakeProcessor())["paid"] == 1
    assert failed_by_kind(api) == {"declined": 1.0, "refused": 3.0, "other": 0.0}


def test_a_failed_payout_without_a_recorded_reason_is_other(api: ApiHarness) -> None:
    """No code of ours records none; a row written by hand (or before reasons were kept) may."""
    claim = approved_claim_id(api, insured_fleet(api), 0)
    payout = stored(api, requested_payout(api, claim))
    assert pay_out(api, FakeProcessor(script=["decline"]))["failed"] == 1
    assert failed_by_kind(api) == {"declined": 1.0, "refused": 0.0, "other": 0.0}
    payout.failure_reason = None
    api.session.flush()
    assert failed_by_kind(api) == {"declined": 0.0, "refused": 0.0, "other": 1.0}


def test_the_pending_payouts_and_the_oldest_ones_age(api: ApiHarness) -> None:
    insured = insured_fleet(api)
    first, second = approved_claim_id(api, insured, 0), approved_claim_id(api, insured, 1)
    old = stored(api, requested_payout(api, first))
    new = stored(api, requested_payout(api, second))
    old.created_at = new.created_at - timedelta(hours=3)  # asked for three hours earlier
    api.session.flush()
    now = new.created_at + timedelta(minutes=1)
    metrics = PayoutMetrics(savepoints(api.session), clock=lambda: now)

    def pending() -> tuple[float | None, float | None]:
        registry = scrape(metrics)
        return registry.get_sample_value(PENDING), registry.get_sample_value(OLDEST)

    assert pending() == (2, 3 * 3600 + 60)
    assert pay_out(api, FakeProcessor(down=True))["waiting"] == 2  # tried, still waiting
    assert pending() == (2, 3 * 3600 + 60)  # the age is the request's, not the last try's
    with sender(FakeProcessor()) as send:
        later = datetime.now(UTC) + timedelta(hours=1)  # past both payouts' next try
        assert tasks.pay_out_due(savepoints(api.session), send, later)["paid"] == 2
    assert pending() == (0, 0)


def test_a_database_that_does_not_answer_is_said_so_with_no_stale_figures() -> None:
    url = f"postgresql+psycopg://robocover:unused@127.0.0.1:{free_port()}/robocover"
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"connect_timeout": 2})
    registry = scrape(PayoutMetrics(engine_transactions(engine)))
    assert registry.get_sample_value(UP) == 0
    assert registry.get_sample_value(FAILED, {"reason": "declined"}) is None
    assert registry.get_sample_value(PENDING) is None
    assert registry.get_sample_value(OLDEST) is None
    engine.dispose()
