"""A policy's schedule document: who is insured, the robots and coverages in force, their
limits, deductibles, aggregates and premiums. HTML from an autoescaped Jinja template (no
script, no network resource), and PDF drawn by fpdf2 (pure Python, no system library)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from fpdf import FPDF
from jinja2 import Environment, StrictUndefined
from sqlalchemy.orm import Session

from cloud_api.errors import ConflictError
from cloud_api.ledger.money import minor_exponent
from cloud_api.policies import repository
from cloud_api.products import service as products
from database.models import Policy


@dataclass(frozen=True)
class Row:
    robot: str
    coverage: str
    limit: str
    deductible: str
    aggregate: str
    premium: str


@dataclass(frozen=True)
class Schedule:
    number: str
    insured: str
    product: str
    status: str
    term: str
    version: int
    currency: str
    rows: list[Row]
    premium: str
    tax: str


def _amount(minor: int, currency: str) -> str:
    exponent = minor_exponent(currency)
    sign, units = ("-" if minor < 0 else ""), abs(minor)
    whole, fraction = divmod(units, 10**exponent)
    text = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    return f"{sign}{text} {currency}"


def document(session: Session, policy: Policy) -> Schedule:
    if policy.number is None:
        raise ConflictError("the policy is not issued yet: it has no schedule")
    versions = repository.versions(session, policy.id)
    latest = versions[-1]
    product = products.get(session, policy.product_id)
    names = {c.code: c.name for c in products.terms_of(product).coverages}
    serials = repository.robot_serials(session, [uuid.UUID(x["robot_id"]) for x in latest.schedule])
    money = policy.currency
    last_day = date.fromordinal(policy.term_end.date().toordinal() - 1)
    return Schedule(
        number=policy.number,
        insured=repository.tenant_name(session, policy.tenant_id),
        product=f"{product.name} (version {product.version})",
        status=policy.status.replace("_", " "),
        term=f"{policy.term_start.date()} to {last_day}, both days included",
        version=latest.version_no,
        currency=money,
        rows=[
            Row(
                robot=serials.get(uuid.UUID(x["robot_id"]), x["robot_id"]),
                coverage=names.get(x["coverage"], x["coverage"]),
                limit=_amount(x["limit_minor"], money),
                deductible=_amount(x["deductible_minor"], money),
                aggregate=_amount(x["aggregate_minor"], money),
                premium=_amount(x["premium_minor"], money),
            )
            for x in sorted(latest.schedule, key=lambda x: (x["robot_id"], x["coverage"]))
        ],
        premium=_amount(latest.term_premium_minor, money),
        tax=_amount(sum(v.tax_change_minor for v in versions), money),
    )


_TEMPLATE = Environment(autoescape=True, undefined=StrictUndefined).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Policy schedule {{ s.number }}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: left; }
td.money { text-align: right; white-space: nowrap; }
</style></head>
<body>
<h1>Policy schedule</h1>
<dl>
<dt>Policy number</dt><dd id="number">{{ s.number }}</dd>
<dt>Insured</dt><dd id="insured">{{ s.insured }}</dd>
<dt>Product</dt><dd>{{ s.product }}</dd>
<dt>Period of insurance</dt><dd>{{ s.term }}</dd>
<dt>Status</dt><dd>{{ s.status }} (version {{ s.version }})</dd>
</dl>
<table>
<thead><tr><th>Robot</th><th>Coverage</th><th>Limit</th><th>Deductible</th>
<th>Aggregate</th><th>Premium for the term</th></tr></thead>
<tbody>
{% for r in s.rows %}<tr><td>{{ r.robot }}</td><td>{{ r.coverage }}</td>
<td class="money">{{ r.limit }}</td><td class="money">{{ r.deductible }}</td>
<td class="money">{{ r.aggregate }}</td><td class="money">{{ r.premium }}</td></tr>
{% endfor %}</tbody>
</table>
<p>Premium for the term: <strong id="premium">{{ s.premium }}</strong>;
premium tax written to date: {{ s.tax }}.</p>
</body></html>
"""
)


def html(schedule: Schedule) -> str:
    return _TEMPLATE.render(s=schedule)


def pdf(schedule: Schedule) -> bytes:
    document = FPDF(orientation="landscape")
    document.set_title(f"Policy schedule {schedule.number}")
    document.add_page()
    document.set_font("Helvetica", "B", 16)
    document.cell(0, 10, "Policy schedule", new_x="LMARGIN", new_y="NEXT")
    document.set_font("Helvetica", size=10)
    for label, value in (
        ("Policy number", schedule.number),
        ("Insured", schedule.insured),
        ("Product", schedule.product),
        ("Period of insurance", schedule.term),
        ("Status", f"{schedule.status} (version {schedule.version})"),
        ("Premium for the term", schedule.premium),
        ("Premium tax written to date", schedule.tax),
    ):
        document.cell(0, 6, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    document.ln(4)
    with document.table(text_align="LEFT") as table:
        table.row(["Robot", "Coverage", "Limit", "Deductible", "Aggregate", "Premium"])
        for row in schedule.rows:
            table.row(
                [
                    _latin1(value)
                    for value in (
                        row.robot,
                        row.coverage,
                        row.limit,
                        row.deductible,
                        row.aggregate,
                        row.premium,
                    )
                ]
            )
    return bytes(document.output())


def _latin1(text: str) -> str:
    """The core PDF fonts speak Latin-1: anything else is replaced, never a failure."""
    return text.encode("latin-1", "replace").decode("latin-1")
