"""A policy's premium and tax as installment invoices: pure, integers only.

The plan divides the term into 1, 4 or 12 equal spans of months; installment ``k`` is due on
the first day of its span. Each schedule line's premium is split evenly over the installments,
the remainder of the division going to the first (so every installment's lines sum to its
premium, and the installments to the whole); the tax is split the same way; each installment
carries the plan's fee.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from cloud_api.ledger.calendar import add_months
from database.models import InstallmentPlan


@dataclass(frozen=True)
class DraftLine:
    kind: str  # premium, tax or fee
    amount_minor: int
    robot_id: uuid.UUID | None = None
    coverage: str | None = None


@dataclass(frozen=True)
class DraftInvoice:
    installment: int  # 1-based
    due_on: date
    lines: tuple[DraftLine, ...]

    def total(self, kind: str) -> int:
        return sum(line.amount_minor for line in self.lines if line.kind == kind)


def split(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` integers that differ by the remainder only, the first largest in
    magnitude; they sum to ``amount`` (negative amounts too)."""
    if parts < 1:
        raise ValueError("at least one part")
    sign, size = (-1 if amount < 0 else 1), abs(amount)
    each, remainder = divmod(size, parts)
    return [sign * (each + (remainder if k == 0 else 0)) for k in range(parts)]


def due_dates(term_start: date, plan: InstallmentPlan, term_months: int) -> list[date]:
    months = max(term_months // plan.parts, 1)
    return [add_months(term_start, k * months) for k in range(plan.parts)]


def installment_invoices(
    schedule: list[tuple[uuid.UUID, str, int]],
    tax_minor: int,
    plan: InstallmentPlan,
    *,
    fee_minor: int,
    term_start: date,
    term_months: int,
) -> list[DraftInvoice]:
    """The plan's invoices for ``schedule`` ((robot, coverage, premium) lines) and its tax."""
    count = plan.parts
    premium_parts = [split(premium, count) for _, _, premium in schedule]
    tax_parts = split(tax_minor, count)
    invoices = []
    for k, due_on in enumerate(due_dates(term_start, plan, term_months)):
        lines = [
            DraftLine("premium", parts[k], robot_id, coverage)
            for (robot_id, coverage, _), parts in zip(schedule, premium_parts, strict=True)
        ]
        lines.append(DraftLine("tax", tax_parts[k]))
        if fee_minor:
            lines.append(DraftLine("fee", fee_minor))
        invoices.append(DraftInvoice(k + 1, due_on, tuple(lines)))
    return invoices
