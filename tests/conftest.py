"""Personas per role, and the rules for tests that need a real service."""

from __future__ import annotations

import importlib
import os

import pytest
from django.db import connection

from tests.factories import UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def sales_user(db):
    return UserFactory(username="sally", groups=["Sales"])


@pytest.fixture
def marketing_user(db):
    return UserFactory(username="mark", groups=["Marketing"])


@pytest.fixture
def integration_user(db):
    return UserFactory(username="shopbot", groups=["Integration"], is_staff=False)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


def require_postgres() -> None:
    """Fail in CI (skip only on a developer's machine) when the suite is not on PostgreSQL."""
    if connection.vendor != "postgresql":
        message = "needs PostgreSQL: run with DATABASE_URL=postgres://..."
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def require_redis() -> None:
    """Fail in CI (skip elsewhere) without a Redis broker to run a real worker against."""
    from django.conf import settings

    message = "needs Redis: run with REDIS_URL=redis://127.0.0.1:6379/15"
    try:
        import redis

        if not settings.REDIS_URL:
            raise ConnectionError("REDIS_URL is not set")
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"{message} ({exc})")
        pytest.skip(message)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Service checks before any fixture: a transactional test skipped after its database
    fixture was set up would restore its serialized rows on top of the existing ones."""
    if item.get_closest_marker("postgres"):
        require_postgres()
    if item.get_closest_marker("redis"):
        require_redis()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached page figures of one test's data must not answer another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def reference_data(db):
    """The channels and role groups the data migrations made, back after a flush.

    Transactional tests (live server, races) end with a flush of every table; this puts the
    migrations' rows back the way the migrations made them, for the tests that need them.
    """
    from django.contrib.auth.models import Group
    from django.db.migrations.loader import MigrationLoader
    from django_celery_beat.models import PeriodicTask

    from campaigns.models import Channel

    if Channel.objects.exists() and Group.objects.exists() and PeriodicTask.objects.exists():
        return
    state = MigrationLoader(connection).project_state()
    for migration in ("0002_default_channels", "0011_search_channels"):
        importlib.import_module(f"campaigns.migrations.{migration}").create_channels(
            state.apps, None
        )
    importlib.import_module("leads.migrations.0002_role_groups").create_groups(state.apps, None)
    for migration in (
        "0002_beat_schedules",
        "0008_sweep_schedule",
        "0009_verify_schedule",
        "0010_sweep_every_minute",
        "0022_verdict_schedule",
    ):
        importlib.import_module(f"reports.migrations.{migration}").create_schedules(
            state.apps, None
        )
    importlib.import_module("connectors.migrations.0002_schedules_and_group").forward(
        state.apps, None
    )
    # The permissions later migrations granted to the role groups.
    for migration in (
        "reports.migrations.0012_marketing_may_delete_reports",
        "campaigns.migrations.0006_marketing_maps_campaign_names",
        "campaigns.migrations.0008_marketing_keeps_staff_time",
        "campaigns.migrations.0010_import_job_permissions",
        "leads.migrations.0014_refund_permissions",
    ):
        importlib.import_module(migration).grant(state.apps, None)


# One Chromium per session for every browser test (tests/reports, tests/campaigns): a fixture
# imported into each module or app's conftest would be a separate "session" fixture each, and
# Playwright refuses a second instance while the first one's event loop runs.
from tests.reports.browser import chromium  # noqa: E402, F401  (fixture)
