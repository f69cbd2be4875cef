"""What any input must be before a rule or the database sees it: written once for every door.

The API's serializers, its filters, the report pages' forms and the admin's forms take their
text, money and calendar fields from here, and `leads.rules` parses amounts with `plain_decimal`,
so the single endpoints, the batch endpoint, the admin and the importers refuse the same values
with the same messages:

- text: no NUL character (PostgreSQL cannot store one) and no lone surrogate (no UTF-8 encoding
  exists for it; JSON's `"\\ud800"` escape delivers one);
- amounts: ASCII digits with an optional sign, point and exponent; Python's `Decimal` also takes
  `1_000` and digits of other scripts, which no shop means as an amount;
- days and moments: from 1900-01-01 to 2999-12-31. Business data lives there, and the margins
  keep date arithmetic (a lookback window, the previous period, the next day) away from Python's
  and the databases' limits at years 1 and 9999.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

NUL_MESSAGE = "Must not contain NUL characters."
SURROGATE_MESSAGE = "Must not contain unpaired surrogate characters."
SURROGATE = re.compile("[\ud800-\udfff]")

FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)
FIRST_MOMENT = dt.datetime.combine(FIRST_DAY, dt.time.min, tzinfo=dt.UTC)
LAST_MOMENT = dt.datetime.combine(LAST_DAY, dt.time.max, tzinfo=dt.UTC)
DAY_MESSAGE = f"Must be a day from {FIRST_DAY} to {LAST_DAY}."
MOMENT_MESSAGE = f"Must be a time from {FIRST_DAY} to {LAST_DAY} (UTC)."

PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DECIMAL_MESSAGE = (
    "Must be a plain decimal amount such as 1000.00 (digits, one point, no separators)."
)
MAX_NESTING = 32


# --- text -----------------------------------------------------------------------------------------


def unstorable(text: str) -> str | None:
    """Why this text cannot be stored, or None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def unstorable_in(value: Any) -> str | None:
    """The first reason any string inside `value` (keys included, at any depth) cannot be stored."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if message := unstorable(item):
                return message
        elif isinstance(item, Mapping):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
    return None


def storable(text: str) -> bool:
    return unstorable(text) is None


class StorableCharField(serializers.CharField):
    """A CharField whose text the database can store."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if message := unstorable(value):
            raise serializers.ValidationError(message)
        return value


class StrictInput(serializers.Serializer):
    """Input serializers refuse unstorable text in any field they are sent (nested values and
    keys included), with the field's name, before any field looks a row up by it: a lookup by
    such a string is what PostgreSQL refuses with a 500."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = {}
            for key, value in data.items():
                if message := unstorable_in([key, value]):
                    errors[str(key).replace("\x00", "\\x00")] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


# --- amounts --------------------------------------------------------------------------------------


def plain_decimal(value: Any) -> Decimal:
    """`value` as a Decimal when it is written as a plain decimal number (a JSON number, an int,
    or a string of ASCII digits); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(DECIMAL_MESSAGE)
    if isinstance(value, Decimal | int | float):
        value = str(value)
    if not isinstance(value, str) or not PLAIN_DECIMAL.fullmatch(value.strip()):
        raise ValueError(DECIMAL_MESSAGE)
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(DECIMAL_MESSAGE) from None


class MoneyField(serializers.DecimalField):
    """Every amount of the API: plain decimals only, two places, at most 12 digits before the
    point."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            plain_decimal(data)
        except ValueError:
            raise serializers.ValidationError(DECIMAL_MESSAGE, code="invalid") from None
        return super().to_internal_value(data)


class MoneyFormField(forms.DecimalField):
    """The admin's amounts: the same plain decimals as the API's."""

    def to_python(self, value: Any) -> Decimal | None:
        if value not in self.empty_values:
            try:
                plain_decimal(value)
            except ValueError:
                raise DjangoValidationError(DECIMAL_MESSAGE, code="invalid") from None
        return super().to_python(value)


# --- days and moments -----------------------------------------------------------------------------


def day_refused(day: dt.date) -> str | None:
    if isinstance(day, dt.datetime):
        day = day.date()
    return None if FIRST_DAY <= day <= LAST_DAY else DAY_MESSAGE


def moment_refused(moment: dt.datetime) -> str | None:
    try:
        inside = FIRST_MOMENT <= moment <= LAST_MOMENT
    except (OverflowError, TypeError):
        inside = False
    if moment.tzinfo is None:
        inside = FIRST_DAY <= moment.date() <= LAST_DAY
    return None if inside else MOMENT_MESSAGE


class DayField(serializers.DateField):
    def to_internal_value(self, value: Any) -> dt.date:
        day = super().to_internal_value(value)
        if message := day_refused(day):
            raise serializers.ValidationError(message)
        return day


class MomentField(serializers.DateTimeField):
    def to_internal_value(self, value: Any) -> dt.datetime:
        moment = super().to_internal_value(value)
        if message := moment_refused(moment):
            raise serializers.ValidationError(message)
        return moment


class DayFormField(forms.DateField):
    """A day of the pages' and filters' forms, within the calendar the product handles."""

    def to_python(self, value: Any) -> dt.date | None:
        day = super().to_python(value)
        if day is not None and (message := day_refused(day)):
            raise DjangoValidationError(message, code="invalid")
        return day


class DayFilter(django_filters.DateFilter):
    field_class = DayFormField


def strict_field(field_class: type, kwargs: dict) -> tuple[type, dict]:
    """The strict counterpart of a field a ModelSerializer built for a model field."""
    replacements = {
        serializers.CharField: StorableCharField,
        serializers.DecimalField: MoneyField,
        serializers.DateField: DayField,
        serializers.DateTimeField: MomentField,
    }
    return replacements.get(field_class, field_class), kwargs
