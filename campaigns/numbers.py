"""The one rounding rule of every figure: half up (away from zero), from the exact value.

Pages, the API (the engagement endpoint's rate too), saved reports, emails, template filters
and CSV exports all round here, so a figure reads the same wherever it is shown. It lives in
`campaigns`, the lowest app, so every app may use it. Values arrive as `Decimal` (money), `int` (counts),
`Fraction` (credited customers: exact rational shares) or `float` (time-decay shares, whose
weights are irrational): each is turned into an exact `Fraction` first and rounded once, so no
intermediate rounding (a 28-digit `Decimal` division, a float's binary expansion) can move a
figure across a half.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

Number = Decimal | Fraction | int | float

MONEY_PLACES = 2  # money and per-unit figures (cost per lead, CAC), customers, median days
RATIO_PLACES = 4  # roi, roas, rates and shares


def exact(value: Number | str | None) -> Fraction:
    """The exact value (None and "" are 0); a string is read as a decimal or "p/q"."""
    if value is None or value == "":
        return Fraction(0)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return Fraction(value)


def fixed(value: Number | str | None, places: int) -> Decimal:
    """`value` rounded half up (away from zero) to `places` decimals, exactly."""
    scaled = exact(value) * 10**places
    magnitude = math.floor(abs(scaled) + Fraction(1, 2))
    return Decimal(-magnitude if scaled < 0 else magnitude).scaleb(-places)


def quotient(numerator: Number, denominator: Number) -> Fraction | None:
    """numerator / denominator exactly; None when the denominator is exactly zero."""
    denominator = exact(denominator)
    if denominator == 0:
        return None
    return exact(numerator) / denominator


def money(value: Number | str | None) -> str:
    """Money (and any two-decimal figure): "1234.50"."""
    return str(fixed(value, MONEY_PLACES))


def decimal(value: Number | str | None, places: int = MONEY_PLACES) -> str:
    """Any other figure to `places` decimals (customers, median days): "0.33"."""
    return str(fixed(value, places))


def ratio(numerator: Number, denominator: Number) -> str | None:
    """A ratio to four decimals ("1.5000"); None where the denominator is zero."""
    value = quotient(numerator, denominator)
    return None if value is None else str(fixed(value, RATIO_PLACES))


def per(numerator: Number, denominator: Number) -> str | None:
    """A per-unit amount to cents (cost per lead, CAC); None where the denominator is zero."""
    value = quotient(numerator, denominator)
    return None if value is None else str(fixed(value, MONEY_PLACES))
