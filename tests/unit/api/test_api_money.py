"""Money: a float becomes minor units once (half to even on its shortest repr), then integers.

The references are independent of the module: hand-computed values, and ``fractions.Fraction``
(which parses a decimal string exactly) with Python's ``round`` (half to even on a Fraction).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_api.ledger.money import (
    BASIS_POINTS,
    MINOR_EXPONENT,
    MoneyError,
    basis_points,
    divide,
    minor_exponent,
    share,
    to_minor,
)

EXAMPLES = settings(max_examples=200, deadline=None)


def half_even(value: Fraction) -> int:
    """An exact rational rounded half to even (``round`` on a Fraction is banker's rounding)."""
    return round(value)


# --- to_minor ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # half to even on the decimal the float prints as, not on its binary value
        (0.125, "EUR", 12),  # 12.5 -> 12
        (0.135, "EUR", 14),  # 13.5 -> 14
        (0.145, "EUR", 14),  # 14.5 -> 14 (binary 0.14499999... would also give 14)
        (2.675, "GBP", 268),  # 267.5 -> 268, though the binary value is 2.67499999...
        (1234.565, "EUR", 123456),  # 123456.5 -> 123456, the binary is 1234.56499999...
        (1234.575, "USD", 123458),  # 123457.5 -> 123458
        (0.0049, "EUR", 0),
        (0.005, "EUR", 0),  # 0.5 -> 0
        (0.015, "EUR", 2),  # 1.5 -> 2
        (0.0151, "EUR", 2),
        (19.99, "EUR", 1999),
        (100.0, "CHF", 10000),
        (0.0, "EUR", 0),
        (1e20, "USD", 10**22),
    ],
)
def test_to_minor_rounds_the_printed_decimal_half_to_even(
    amount: float, currency: str, expected: int
) -> None:
    assert to_minor(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (-0.125, "EUR", -12),
        (-0.135, "EUR", -14),
        (-1234.565, "EUR", -123456),
        (-2.675, "GBP", -268),
        (-0.015, "EUR", -2),
        (-19.99, "EUR", -1999),
        (-2.5, "JPY", -2),
        (-3.5, "JPY", -4),
        (-0.0, "EUR", 0),
    ],
)
def test_to_minor_of_a_negative_amount_mirrors_the_positive_one(
    amount: float, currency: str, expected: int
) -> None:
    assert to_minor(amount, currency) == expected
    assert to_minor(-amount, currency) == -expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # exponent 0: the major unit is the minor unit
        (1234.0, "JPY", 1234),
        (1234.5, "JPY", 1234),
        (1235.5, "JPY", 1236),
        (1234.49, "JPY", 1234),
        (1234.51, "JPY", 1235),
        (0.5, "KRW", 0),
        (1.5, "KRW", 2),
        # exponent 3
        (1.2345, "BHD", 1234),  # 1234.5 -> 1234
        (1.2355, "BHD", 1236),  # 1235.5 -> 1236
        (12.3456, "KWD", 12346),
        (0.001, "BHD", 1),
        (7.0, "KWD", 7000),
    ],
)
def test_to_minor_uses_the_currency_exponent(amount: float, currency: str, expected: int) -> None:
    assert to_minor(amount, currency) == expected


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("CHF", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("BHD", 3),
        ("KWD", 3),
    ],
)
def test_minor_exponents_of_iso_4217(currency: str, exponent: int) -> None:
    assert minor_exponent(currency) == exponent
    assert to_minor(1.0, currency) == 10**exponent


@pytest.mark.parametrize("currency", ["XXX", "", "EURO", "BTC"])
def test_an_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(MoneyError, match="currency"):
        to_minor(1.0, currency)
    with pytest.raises(MoneyError):
        minor_exponent(currency)


@pytest.mark.parametrize("amount", [math.nan, math.inf, -math.inf])
def test_a_non_finite_amount_is_refused(amount: float) -> None:
    with pytest.raises(MoneyError, match="finite"):
        to_minor(amount, "EUR")


def test_money_error_is_a_value_error() -> None:
    assert issubclass(MoneyError, ValueError)


@EXAMPLES
@given(
    amount=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
    currency=st.sampled_from(sorted(MINOR_EXPONENT)),
)
def test_to_minor_matches_an_exact_rational_reference(amount: float, currency: str) -> None:
    exact = Fraction(repr(amount)) * 10 ** MINOR_EXPONENT[currency]
    got = to_minor(amount, currency)
    assert got == half_even(exact)
    assert abs(got - exact) <= Fraction(1, 2)


@EXAMPLES
@given(
    minor=st.integers(min_value=-(10**13), max_value=10**13),
    currency=st.sampled_from(sorted(MINOR_EXPONENT)),
)
def test_an_amount_with_whole_minor_units_round_trips(minor: int, currency: str) -> None:
    amount = minor / 10 ** MINOR_EXPONENT[currency]  # the float nearest minor / 10**e
    assert to_minor(amount, currency) == minor


@EXAMPLES
@given(
    minor=st.integers(min_value=-(10**9), max_value=10**9),
    currency=st.sampled_from(["EUR", "USD", "JPY", "BHD"]),
)
def test_an_amount_half_way_between_minor_units_goes_to_the_even_one(
    minor: int, currency: str
) -> None:
    exponent = MINOR_EXPONENT[currency]
    # (minor + 1/2) / 10**exponent, written out in decimal: e.g. "0.125" for 12.5 cents
    halfway = Decimal((2 * minor + 1) * 5).scaleb(-(exponent + 1))
    got = to_minor(float(halfway), currency)
    assert got in {minor, minor + 1}
    assert got % 2 == 0


# --- divide -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (10, 5, 2),
        (5, 2, 2),  # 2.5 -> 2
        (7, 2, 4),  # 3.5 -> 4
        (9, 2, 4),  # 4.5 -> 4
        (1, 3, 0),
        (2, 3, 1),
        (1, 2, 0),  # 0.5 -> 0
        (3, 2, 2),  # 1.5 -> 2
        (0, 7, 0),
        (-5, 2, -2),  # -2.5 -> -2
        (-7, 2, -4),  # -3.5 -> -4
        (-1, 2, 0),  # -0.5 -> 0
        (-3, 2, -2),  # -1.5 -> -2
        (-1, 3, 0),
        (-2, 3, -1),
        (-10, 4, -2),  # -2.5 -> -2
        (123456789, 1000, 123457),
        (1, 1, 1),
    ],
)
def test_divide_rounds_half_to_even(numerator: int, denominator: int, expected: int) -> None:
    assert divide(numerator, denominator) == expected


@pytest.mark.parametrize("denominator", [0, -1, -2, -10_000])
def test_divide_refuses_a_denominator_that_is_not_positive(denominator: int) -> None:
    with pytest.raises(MoneyError, match="denominator"):
        divide(10, denominator)


@EXAMPLES
@given(
    numerator=st.integers(min_value=-(10**15), max_value=10**15),
    denominator=st.integers(min_value=1, max_value=10**7),
)
def test_divide_matches_a_fraction_rounded_half_to_even(numerator: int, denominator: int) -> None:
    assert divide(numerator, denominator) == half_even(Fraction(numerator, denominator))


@EXAMPLES
@given(quotient=st.integers(min_value=-(10**9), max_value=10**9))
def test_divide_of_an_exact_half_lands_on_the_even_neighbour(quotient: int) -> None:
    got = divide(2 * quotient + 1, 2)  # quotient + 0.5
    assert got in {quotient, quotient + 1}
    assert got % 2 == 0


@EXAMPLES
@given(
    numerator=st.integers(min_value=-(10**12), max_value=10**12),
    denominator=st.integers(min_value=1, max_value=10**6),
)
def test_divide_is_odd_symmetric(numerator: int, denominator: int) -> None:
    assert divide(-numerator, denominator) == -divide(numerator, denominator)


@EXAMPLES
@given(big=st.integers(min_value=10**30, max_value=10**40), denominator=st.integers(1, 10**9))
def test_divide_is_exact_beyond_float_precision(big: int, denominator: int) -> None:
    assert divide(big * denominator, denominator) == big
    assert divide(big, denominator) == half_even(Fraction(big, denominator))


# --- share ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "part", "whole", "expected"),
    [
        (36500, 100, 365, 10000),
        (1000, 183, 365, 501),  # 501.369...
        (5, 1, 2, 2),  # 2.5 -> 2
        (7, 1, 2, 4),  # 3.5 -> 4
        (10, 3, 4, 8),  # 7.5 -> 8
        (-10, 3, 4, -8),  # -7.5 -> -8
        (12345, 0, 365, 0),
        (12345, 365, 365, 12345),
    ],
)
def test_share_is_a_pro_rata_part(amount: int, part: int, whole: int, expected: int) -> None:
    assert share(amount, part, whole) == expected


def test_share_of_nothing_whole_is_refused() -> None:
    with pytest.raises(MoneyError):
        share(100, 1, 0)


@EXAMPLES
@given(
    amount=st.integers(min_value=-(10**10), max_value=10**10),
    whole=st.integers(min_value=1, max_value=3660),
    data=st.data(),
)
def test_share_matches_a_fraction(amount: int, whole: int, data: st.DataObject) -> None:
    part = data.draw(st.integers(min_value=0, max_value=whole))
    got = share(amount, part, whole)
    assert got == half_even(Fraction(amount * part, whole))
    if part == whole:
        assert got == amount
    if part == 0:
        assert got == 0


@EXAMPLES
@given(
    amount=st.integers(min_value=0, max_value=10**10),
    whole=st.integers(min_value=1, max_value=3660),
    data=st.data(),
)
def test_share_is_monotone_in_the_part(amount: int, whole: int, data: st.DataObject) -> None:
    part = data.draw(st.integers(min_value=0, max_value=whole - 1))
    assert 0 <= share(amount, part, whole) <= share(amount, part + 1, whole) <= amount


# --- basis_points -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate_bp", "expected"),
    [
        (12345, 2000, 2469),  # 20 % of 123.45
        (10000, 1900, 1900),
        (5, 1000, 0),  # 0.5 -> 0
        (15, 1000, 2),  # 1.5 -> 2
        (25, 1000, 2),  # 2.5 -> 2
        (-15, 1000, -2),
        (99999, 1, 10),  # 9.9999 -> 10
        (12345, 0, 0),
        (12345, 10_000, 12345),
        (12345, 20_000, 24690),
    ],
)
def test_basis_points_of_an_amount(amount: int, rate_bp: int, expected: int) -> None:
    assert basis_points(amount, rate_bp) == expected


def test_a_basis_point_is_a_ten_thousandth() -> None:
    assert BASIS_POINTS == 10_000


@EXAMPLES
@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    rate_bp=st.integers(min_value=0, max_value=20_000),
)
def test_basis_points_matches_a_fraction(amount: int, rate_bp: int) -> None:
    assert basis_points(amount, rate_bp) == half_even(Fraction(amount * rate_bp, 10_000))
