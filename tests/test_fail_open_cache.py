"""The shared cache while Redis is away (nothing listens on the port): every call answers like an
empty cache at once, one warning is logged for the outage, and the API throttle still limits,
per process."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from rest_framework.throttling import UserRateThrottle

from config import cache as fail_open
from tests.api.conftest import token_client
from tests.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_away(settings, monkeypatch):
    """The cache pointed at a port nobody listens on, with a fresh health record."""
    monkeypatch.setattr(fail_open, "health", fail_open.RedisHealth())
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_every_call_answers_like_an_empty_cache(redis_away, caplog):
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        assert cache.get("figures", "miss") == "miss"
        cache.set("figures", 1)  # dropped, no error
        assert cache.add("figures", 1) is False
        assert cache.get_many(["a", "b"]) == {}
        assert cache.set_many({"a": 1}) == ["a"]
        assert cache.delete("figures") is False
        cache.delete_many(["a"])
        assert cache.has_key("figures") is False
        assert cache.get_or_set("figures", 7) == 7
        with pytest.raises(ValueError, match="not found"):
            cache.incr("counter")
        cache.clear()
    assert time.monotonic() - started < 2
    assert not cache.available  # the next calls do not even try for a few seconds
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis cache unreachable" in warnings[0].getMessage()


def test_redis_is_tried_again_after_a_pause(redis_away, monkeypatch):
    assert cache.get("figures") is None
    assert not cache.available
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + fail_open.RETRY_AFTER + 1)
    assert cache.available


def test_the_throttle_still_limits_while_redis_is_away(redis_away, superuser, monkeypatch):
    from config import api

    api._LOCAL_THROTTLE_CACHE.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/hour"})
    client = token_client(superuser)
    codes = [client.get("/api/v1/channels/").status_code for _ in range(5)]
    # Limited all the same: at most one request goes uncounted, the one whose call found
    # Redis away.
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    api._LOCAL_THROTTLE_CACHE.clear()
