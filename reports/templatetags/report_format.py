"""Formatting of report figures for the pages: money, ratios, shares and counts.

Every figure is rounded by `campaigns.numbers` (half up, once, from the value given) and only
then laid out with thousands separators, so a page never shows other digits than the API.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings

from campaigns.numbers import fixed
from reports.glossary import definition

register = template.Library()


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@register.filter
def fmt(value: object, kind: str) -> str:
    """Format a figure for reading: 1,234.50 USD, 1.50x, 4.0%, 12.5 (days), 1,200; an em dash
    when empty."""
    number = _decimal(value)
    if number is None:
        return "—"
    if kind == "money":
        return f"{fixed(number, 2):,.2f} {settings.DEFAULT_CURRENCY}"
    if kind == "ratio":
        return f"{fixed(number, 2):,.2f}"
    if kind == "days":
        return f"{fixed(number, 1):,.1f}"
    if kind == "percent":
        return f"{fixed(number * 100, 1):,.1f}%"
    if kind == "decimal":
        number = fixed(number, 2)
        return f"{number:,.2f}".rstrip("0").rstrip(".") if number % 1 else f"{number:,.0f}"
    return f"{fixed(number, 0):,.0f}"


@register.filter
def sort_value(value: object) -> str:
    """The raw number for client-side sorting (empty sorts last)."""
    number = _decimal(value)
    return "" if number is None else str(number)


@register.filter
def get(mapping: dict, key: str) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def signed_percent(value: object) -> str:
    number = _decimal(value)
    if number is None:
        return "no previous figure"
    return f"{fixed(number * 100, 1):+,.1f}%"


@register.filter
def signed_points(value: object) -> str:
    """A change of a ratio (ROI), in percentage points: 0.052 reads "+5.2 pp". A relative
    change of a ratio that can be negative says nothing (from -0.53 to -0.36 is "-32%")."""
    number = _decimal(value)
    if number is None:
        return "no previous figure"
    return f"{fixed(number * 100, 1):+,.1f} pp"


@register.filter
def change(value: object, kind: str) -> str:
    """A change between two figures, signed: "+1,234.50 USD" (money), "-0.33" (decimal),
    "+12.5%" (percent, of a ratio), "+5.2 pp" (points, of a ratio); "0.00 USD" unsigned when
    nothing moved; an em dash when the change is not defined."""
    number = _decimal(value)
    if number is None:
        return "—"
    if kind in ("percent", "points"):
        rounded, unit = fixed(number * 100, 1), "%" if kind == "percent" else " pp"
        text = f"{abs(rounded):,.1f}{unit}"
    else:
        rounded = fixed(number, 2)
        text = f"{abs(rounded):,.2f}"
        if kind == "money":
            text += f" {settings.DEFAULT_CURRENCY}"
    if rounded == 0:
        return text
    return ("+" if rounded > 0 else "-") + text


@register.filter
def define(key: str, table: str = "") -> str:
    """The glossary's definition of a figure (`table` "funnel" for the funnel's own words)."""
    return definition(key, table or "roi")
