"""Health endpoints: what the proxy and the orchestrator see, in each state of the services."""

from __future__ import annotations

import socket
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import override_settings
from django.urls import reverse

LIVE = "/health/live/"
READY = "/health/ready/"


def closed_port() -> int:
    """A local port with nothing listening: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_paths_are_the_documented_ones():
    assert reverse("health-live") == LIVE
    assert reverse("health-ready") == READY


def test_liveness_touches_no_dependency(client):
    # No database access is allowed in this test (no `db` fixture): any query would raise.
    response = client.get(LIVE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", [LIVE, READY])
def test_unauthenticated_json_and_never_cached(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate", "private"} <= cache_control
    # Neither a session nor a CSRF cookie: a probe every few seconds must not make sessions.
    assert not response.cookies


@pytest.mark.parametrize("path", [LIVE, READY])
def test_only_safe_methods(client, db, path):
    assert client.post(path).status_code == 405
    assert client.head(path).status_code == 200


@override_settings(REDIS_URL=None)
def test_ready_without_redis_configured(client, db):
    response = client.get(READY)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["redis"] == {"status": "disabled"}


def test_ready_with_redis_down_is_degraded_but_serving(client, db):
    # Redis is optional at run time: the proxy must keep sending traffic (200), and say why.
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get(READY)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["redis"]["latency_ms"] < 2000  # the probe's timeout, not TCP's


def test_ready_with_the_database_down_is_503_and_names_no_secret(client, db):
    secret = "could not connect to server db.internal as user roi password hunter2"
    with mock.patch.object(connection, "cursor", side_effect=OperationalError(secret)):
        response = client.get(READY)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "fail"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert "hunter2" not in response.content.decode()
    assert "db.internal" not in response.content.decode()


@pytest.mark.redis
def test_ready_with_redis_up(client, db):
    response = client.get(READY)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["redis"]["latency_ms"] >= 0


@override_settings(SECURE_SSL_REDIRECT=True)
def test_ssl_redirect_spares_the_probes_only(client, db):
    # The orchestrator probes gunicorn over plain HTTP; everything else still goes to HTTPS.
    assert client.get(LIVE).status_code == 200
    assert client.get(READY).status_code == 200
    login = client.get(reverse("login"))
    assert login.status_code == 301
    assert login["Location"].startswith("https://")
