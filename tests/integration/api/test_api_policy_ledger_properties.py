"""Random sequences of policy operations on the real database (hypothesis, stateful): whatever
the order of endorsements, cancellations, lapses, reinstatements, bank transfers and days of
earning, every ledger entry balances, earned plus unearned premium equals written premium, the
receivable is what was written with its tax and the installment fees less the cash collected,
the live invoices ask for exactly the written premium and tax (returns void unpaid invoices or
become credit notes owed as refunds), cash is what the invoices record as paid and is what was
invoiced less the open receivable, no invoice is paid beyond its total, no policy is in
force with an invoice unpaid past the grace days (the daily job lapses it), the ledger's
written premium is the sum of the versions' premium changes, and at the end of the term every
written minor unit is earned. (Paying refunds out comes next.)"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.billing import repository as billing_repository
from cloud_api.billing import service as billing
from cloud_api.billing.schemas import BankTransferCreate
from cloud_api.errors import AppError
from cloud_api.ledger import repository as ledger
from cloud_api.policies import book, changes, quotes, repository, service
from cloud_api.policies.lifecycle import Transition
from cloud_api.policies.schemas import (
    CancellationCreate,
    CancelReason,
    CancelRequester,
    CoverageChange,
    EndorsementCreate,
    QuoteCreate,
)
from database.models import Account, InstallmentPlan, PolicyStatus, Robot, Tenant
from tests.integration.api.policy_factories import active_product, fleet, plan_in_force
from tests.support.api import principal

UNDERWRITER = principal(Role.UNDERWRITER)
BILLING_AGENT = principal(Role.BILLING_AGENT)
GRACE_DAYS = 30  # the product's default
START = datetime.now(UTC).date() - timedelta(days=3)


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


class PolicyBook(RuleBasedStateMachine):
    session: Session
    robots: list[Robot]
    plan_version: int

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = self.session.begin_nested()
        tenant = self.session.get_one(Robot, self.robots[0].id).tenant_id
        slug = repository.tenant_slug(self.session, tenant)
        product = active_product(self.session, installment_fee_minor={"monthly": 150})
        self.today = START
        offer = QuoteCreate(
            tenant=slug,
            product_id=product.id,
            robot_ids=[r.id for r in self.robots[:2]],
            jurisdiction="DE",
            term_start=START,
        )
        quote = quotes.create(self.session, UNDERWRITER, offer, noon(START))
        policy = changes.bind(
            self.session, UNDERWRITER, quote.id, noon(START), InstallmentPlan.MONTHLY
        )
        service.issue(self.session, UNDERWRITER, policy.id, noon(START))
        self.policy_id = policy.id
        self.currency = policy.currency
        self.term_end = policy.term_end.date()

    def attempt(self, operation: str, *args: object) -> None:
        """Run an operation; a refusal (409, 422) must leave nothing behind."""
        try:
            with self.session.begin_nested():
                getattr(self, f"_{operation}")(*args)
        except AppError as error:
            refused = error.status
        else:
            return
        assert refused in {404, 409, 422}

    def _endorse(self, body: EndorsementCreate) -> None:
        changes.endorse(self.session, UNDERWRITER, self.policy_id, body, noon(self.today))

    def _cancel(self, body: CancellationCreate) -> None:
        service.cancel(self.session, UNDERWRITER, self.policy_id, body, noon(self.today))

    def _lapse(self, body: CancellationCreate) -> None:
        service.cancel(
            self.session,
            None,
            self.policy_id,
            body,
            noon(self.today),
            transition=Transition.LAPSE,
        )

    def _reinstate(self) -> None:
        service.reinstate(self.session, UNDERWRITER, self.policy_id, "reinstated", noon(self.today))

    def on_policy(self) -> set[uuid.UUID]:
        policy = repository.policy(self.session, self.policy_id, None)
        assert policy is not None
        latest = service.current(self.session, policy)
        return {uuid.UUID(line["robot_id"]) for line in latest.schedule}

    @rule(index=st.integers(0, 4), back=st.integers(0, 3))
    def add_robot(self, index: int, back: int) -> None:
        robot = self.robots[index]
        body = EndorsementCreate(
            effective_on=self.today - timedelta(days=back), add_robots=[robot.id]
        )
        self.attempt("endorse", body)

    @rule(index=st.integers(0, 4))
    def remove_robot(self, index: int) -> None:
        body = EndorsementCreate(effective_on=self.today, remove_robots=[self.robots[index].id])
        self.attempt("endorse", body)

    @rule(deductible=st.integers(0, 4_000_000))
    def change_deductible(self, deductible: int) -> None:
        change = CoverageChange(coverage="breakdown", deductible_minor=deductible)
        body = EndorsementCreate(effective_on=self.today, coverage_changes=[change])
        self.attempt("endorse", body)

    @rule(by=st.sampled_from(CancelRequester), back=st.integers(0, 2))
    def cancel(self, by: CancelRequester, back: int) -> None:
        body = CancellationCreate(
            effective_on=self.today - timedelta(days=back),
            reason_code=CancelReason.FLEET_SOLD,
            requested_by=by,
        )
        self.attempt("cancel", body)

    @rule()
    def lapse(self) -> None:
        body = CancellationCreate(
            effective_on=self.today,
            reason_code=CancelReason.NON_PAYMENT,
            requested_by=CancelRequester.INSURER,
        )
        self.attempt("lapse", body)

    @rule()
    def reinstate(self) -> None:
        self.attempt("reinstate")

    @rule(third=st.integers(1, 3))
    def pay_by_bank_transfer(self, third: int) -> None:
        """A third, two thirds or all of what is open on the policy's first open invoice."""
        invoice = next(
            (
                i
                for i in billing_repository.invoices_of_policy(self.session, self.policy_id)
                if i.status == "open"
            ),
            None,
        )
        if invoice is None:
            return
        amount = max((invoice.total_minor - invoice.paid_minor) * third // 3, 1)
        body = BankTransferCreate(amount_minor=amount, bank_reference=f"t{self.today}")
        self.attempt("pay", invoice.id, body)

    def _pay(self, invoice_id: uuid.UUID, body: BankTransferCreate) -> None:
        billing.record_bank_transfer(
            self.session, BILLING_AGENT, invoice_id, body, noon(self.today)
        )

    @precondition(lambda self: self.today < self.term_end - timedelta(days=40))
    @rule(days=st.integers(1, 40))
    def next_days(self, days: int) -> None:
        self.today += timedelta(days=days)
        changes.earn(self.session, self.policy_id, noon(self.today))
        assert changes.earn(self.session, self.policy_id, noon(self.today)) == 0  # idempotent
        book.collect_overdue(self.session, noon(self.today), 100)

    def balance(self, account: Account) -> int:
        balances = ledger.balances(self.session, policy_id=self.policy_id)
        return balances.get((account, self.currency), 0)

    @invariant()
    def the_books_agree(self) -> None:
        written = -self.balance(Account.WRITTEN_PREMIUM)
        assert written == self.balance(Account.WRITTEN_PREMIUM_MEMO)
        earned, unearned = (
            -self.balance(Account.EARNED_PREMIUM),
            -self.balance(Account.UNEARNED_PREMIUM),
        )
        assert earned + unearned == written
        tax = -self.balance(Account.PREMIUM_TAX_PAYABLE)
        fees, cash = -self.balance(Account.INSTALLMENT_FEES), self.balance(Account.CASH)
        refunds_owed = -self.balance(Account.REFUNDS_PAYABLE)
        receivable = self.balance(Account.PREMIUM_RECEIVABLE)
        assert receivable == written + tax + fees - cash + refunds_owed
        invoices = billing_repository.invoices_of_policy(self.session, self.policy_id)
        live = [i for i in invoices if i.status != "void"]
        credits = [i for i in live if i.kind == "credit"]
        asked = [i for i in live if i.kind != "credit"]
        # What is invoiced is what was written; paid is invoiced less what is still open.
        assert sum(i.premium_minor for i in live) == written
        assert sum(i.tax_minor for i in live) == tax
        assert fees == sum(i.fee_minor for i in live)
        assert cash == sum(i.paid_minor for i in invoices)
        assert cash == sum(i.total_minor for i in asked) - self.balance(Account.PREMIUM_RECEIVABLE)
        assert refunds_owed == -sum(i.total_minor for i in credits)
        assert all(0 <= i.paid_minor <= i.total_minor for i in asked)
        assert all(i.paid_minor == 0 for i in invoices if i.status == "void")
        versions = repository.versions(self.session, self.policy_id)
        assert written == sum(v.premium_change_minor for v in versions)
        assert tax == sum(v.tax_change_minor for v in versions)
        policy = repository.policy(self.session, self.policy_id, None)
        assert policy is not None
        assert policy.status == versions[-1].status
        assert policy.earned_minor == earned  # the job's running total is the ledger's
        if policy.status == PolicyStatus.IN_FORCE:  # paid, or unpaid within the grace days
            grace_ends = self.today - timedelta(days=GRACE_DAYS)
            assert not billing.unpaid_before(self.session, self.policy_id, grace_ends)

    def teardown(self) -> None:
        try:
            policy = repository.policy(self.session, self.policy_id, None)
            assert policy is not None
            service.expire(self.session, self.policy_id, noon(self.term_end))
            changes.earn(self.session, self.policy_id, noon(self.term_end + timedelta(days=1)))
            written = -self.balance(Account.WRITTEN_PREMIUM)
            assert -self.balance(Account.EARNED_PREMIUM) == written
            assert self.balance(Account.UNEARNED_PREMIUM) == 0
            status = repository.policy(self.session, self.policy_id, None)
            assert status is not None
            assert status.status in {PolicyStatus.EXPIRED, PolicyStatus.CANCELLED, "lapsed"}
        finally:
            self.savepoint.rollback()


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_the_ledger_holds_under_random_policy_operations(db_session: Session) -> None:
    plan_version = plan_in_force(db_session)
    tenant = Tenant(slug="props", name="Props")
    db_session.add(tenant)
    db_session.flush()
    robots = fleet(db_session, tenant, plan_version, [1500.0, 900.0, None, 2500.0, 400.0])

    class Book(PolicyBook):
        pass

    Book.session, Book.robots, Book.plan_version = db_session, robots, plan_version
    Book.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Book.TestCase().runTest()
