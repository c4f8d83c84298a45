"""Money: integer minor units of an ISO 4217 currency, and the one place a float becomes money.

The risk engine prices in floats (rates are continuous). A quote line turns its float premium
into minor units once, here, by ``to_minor``: the decimal expansion of the float (its shortest
repr, so 1234.565 is 1234.565 and not the binary 1234.56499...) rounded half to even to the
currency's minor unit. From there on everything is integers: tax, pro-rata and short-rate
amounts are integer divisions rounded half to even (``divide``), so a sum of lines is the total
and no float touches an invoice, a payment or the ledger.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MINOR_EXPONENT: dict[str, int] = {
    "AUD": 2,
    "BHD": 3,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
}
"""ISO 4217 minor-unit exponents of the currencies robocover prices in."""

BASIS_POINTS = 10_000


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def minor_exponent(currency: str) -> int:
    try:
        return MINOR_EXPONENT[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def to_minor(amount: float, currency: str) -> int:
    """``amount`` in major units as minor units of ``currency``, rounded half to even once."""
    try:
        exact = Decimal(repr(float(amount)))
    except InvalidOperation:  # pragma: no cover - repr of a float is always a decimal
        raise MoneyError(f"not an amount: {amount!r}") from None
    if not exact.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    scaled = exact.scaleb(minor_exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(scaled)


def divide(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half to even, in integers (no float)."""
    if denominator <= 0:
        raise MoneyError("the denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def share(amount_minor: int, part: int, whole: int) -> int:
    """``amount * part / whole`` rounded half to even: a pro-rata share (days of a term)."""
    return divide(amount_minor * part, whole)


def basis_points(amount_minor: int, rate_bp: int) -> int:
    """``rate_bp`` basis points of ``amount_minor``: a tax or a short-rate penalty."""
    return divide(amount_minor * rate_bp, BASIS_POINTS)
