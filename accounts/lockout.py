"""What django-axes needs from the project: the client's address, and the lockout page."""

from __future__ import annotations

import ipaddress
import math

from axes.helpers import get_client_username, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

TEMPLATE = "accounts/locked_out.html"


def client_ip(request: HttpRequest) -> str | None:
    """The address a login attempt is counted against.

    Behind the proxy (DJANGO_BEHIND_PROXY) REMOTE_ADDR is the proxy's for everyone, so a lock
    on it would lock every user at once; the proxy appends the address it saw to
    X-Forwarded-For, and the right-most entry is that one (the entries before it come from the
    client and may be forged). Anything that is not an address falls back to REMOTE_ADDR.
    """
    if settings.BEHIND_PROXY:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if hops and hops[-1]:
            try:
                return str(ipaddress.ip_address(hops[-1]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR")


def cooloff_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page a locked (username, address) pair gets, 429."""
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": cooloff_minutes(),
    }
    response = render(request, TEMPLATE, context, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
