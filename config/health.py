"""Health endpoints for the proxy and the orchestrator: unauthenticated JSON, never cached.

- ``/health/live/``: the process answers. It touches no dependency, so a database outage never
  makes an orchestrator restart healthy web processes (which would not bring the database back).
- ``/health/ready/``: can this process serve traffic? The database and Redis are checked
  separately, each with its status and latency. The database down is 503 (no page works without
  it). Redis down is 200 with ``"status": "degraded"``: Redis is optional at run time (the page
  cache and the API throttle fail open, writes still succeed; report jobs wait for it), so a
  proxy must keep sending traffic to this process. Without ``REDIS_URL`` Redis is reported as
  ``"disabled"``.

Errors are reported by exception class only: an exception's message can carry a host name,
a user name or a DSN, and these endpoints answer anyone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# A readiness probe must answer within the orchestrator's timeout (often 1-5 s) even when
# Redis hangs; the database has no such knob here (see docs/deploy.md "Health endpoints").
REDIS_TIMEOUT_SECONDS = 1.0


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # every failure is a finding to report, not a crash
        outcome: dict[str, Any] = {"status": "fail", "error": type(exc).__name__}
    else:
        outcome = {"status": "ok"}
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return outcome


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis() -> None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process is up and serving requests; no dependency is touched."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 503 when the database fails, 200 otherwise ("degraded" when Redis fails)."""
    checks = {"database": _timed(_database)}
    if settings.REDIS_URL:
        checks["redis"] = _timed(_redis)
    else:
        checks["redis"] = {"status": "disabled"}
    if checks["database"]["status"] != "ok":
        status, http_status = "fail", 503
    elif checks["redis"]["status"] == "fail":
        status, http_status = "degraded", 200
    else:
        status, http_status = "ok", 200
    return JsonResponse({"status": status, "checks": checks}, status=http_status)
