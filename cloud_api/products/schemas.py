"""Request and response bodies of the products endpoints, and the product's terms.

Money is integer minor units of the product's currency; rates are basis points (1/100 of a
per cent), integers too, so no float reaches an invoice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud_api.conventions.etags import weak_etag
from database.models import InstallmentPlan, Product, ProductStatus

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
JURISDICTION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"
"""ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision: ``DE``, ``US-CA``."""

Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Jurisdiction = Annotated[str, StringConstraints(pattern=JURISDICTION_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Strict: JSON true is not 1, and 2.0 is not an amount of money.
Minor = Annotated[int, Field(strict=True, ge=0, le=10**15)]
BasisPoints = Annotated[int, Field(strict=True, ge=0, le=10_000)]


class CoverageTerms(BaseModel):
    """One coverage a fleet buys, priced by the rating plan's coverage of the same or another
    name (``plan_coverage``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code = Field(examples=["machinery_breakdown"])
    name: Name = Field(examples=["Machinery breakdown"])
    plan_coverage: Code = Field(
        description="The rating plan's coverage this one is priced by.",
        examples=["machinery_breakdown"],
    )
    limit_minor: Minor = Field(description="Most paid for one occurrence.", gt=0)
    deductible_minor: Minor = Field(description="Borne by the insured per occurrence.")
    aggregate_minor: Minor = Field(description="Most paid in a policy term.", gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> CoverageTerms:
        if self.deductible_minor >= self.limit_minor:
            raise ValueError("the deductible must be below the limit")
        if self.aggregate_minor < self.limit_minor:
            raise ValueError("the aggregate must be at least the limit")
        return self


class ProductTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    coverages: list[CoverageTerms] = Field(min_length=1, max_length=20)
    premium_tax_bp: dict[Jurisdiction, BasisPoints] = Field(
        description="Premium tax by jurisdiction, in basis points of the premium.",
        min_length=1,
        max_length=300,
        examples=[{"DE": 1900, "FR": 900}],
    )
    quote_valid_days: int = Field(default=30, strict=True, ge=1, le=90)
    term_months: int = Field(default=12, strict=True, ge=1, le=24)
    backdating_days: int = Field(
        default=0,
        strict=True,
        ge=0,
        le=90,
        description="How far before now a change may take effect.",
    )
    short_rate_penalty_bp: BasisPoints = Field(
        default=1000,
        description="Kept of the pro-rata return premium when the policyholder cancels.",
    )
    installment_fee_minor: dict[InstallmentPlan, Minor] = Field(
        default_factory=dict,
        description="The fee added to each installment's invoice, by plan (0 if left out).",
    )
    auto_approve_bp: BasisPoints = Field(
        default=500,
        description="A risk-driven change of the term premium up to this share is approved "
        "without an underwriter.",
    )
    grace_days: int = Field(
        default=30, strict=True, ge=0, le=90, description="Days after a due date before lapse."
    )

    @model_validator(mode="after")
    def _distinct(self) -> ProductTerms:
        codes = [c.code for c in self.coverages]
        if len(set(codes)) != len(codes):
            raise ValueError("coverage codes must be distinct")
        return self

    def coverage(self, code: str) -> CoverageTerms | None:
        return next((c for c in self.coverages if c.code == code), None)


class ProductCreate(BaseModel):
    """A new version of a product (the first if its code is new), as a draft."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    currency: Currency = Field(examples=["EUR"])
    terms: ProductTerms


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    version: int
    name: str
    status: ProductStatus
    currency: str
    terms: ProductTerms
    created_at: datetime
    created_by: str
    activated_at: datetime | None
    activated_by: str | None


def etag_of(product: Product) -> str:
    return weak_etag(ProductOut.model_validate(product))
