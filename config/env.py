"""Strict readers for settings that come from the environment.

Every setting is read here, once, when the settings module loads; a value that cannot be
parsed stops the process with a message naming the variable instead of running half-configured.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate written like DRF's throttle rates ("20/min", "600/hour") as (requests, seconds)."""
    value = os.environ.get(name)
    text = (default if value is None or value.strip() == "" else value).strip().lower()
    count, _, period = text.partition("/")
    try:
        requests, seconds = int(count), _PERIODS[period.strip()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"{name} must be a rate like 20/min or 600/hour (s, min, hour, day), got {text!r}"
        ) from None
    if requests < 1:
        raise ImproperlyConfigured(f"{name} must allow at least one request, got {text!r}")
    return requests, seconds
