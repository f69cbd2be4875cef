"""Backups, as docs/deploy.md says to make and restore them, on the machine's PostgreSQL.

A throwaway database (unique name, dropped at the end) is migrated and given a small business
through the services; `bin/backup` dumps it (pg_dump -Fc), `createdb` makes another throwaway
database and `bin/restore` restores the archive into it (pg_restore, migrate, verify_reports).
The restored database has the same rows and the same report figures.

The data (March 2026, UTC): "Spring pins" on Pinterest costs 400.00 (5 March) and owns coupon
PIN10; Ada follows it on 2 March, becomes a lead on 3 March and buys for 100.00 with PIN10 on
20 March; a walk-in buys for 50.00 with PIN10 on 15 March (entering as a customer, so a lead
too). Revenue 150.00, cost 400.00, ROI (150 - 400) / 400 = -0.6250, leads 2, customers 2.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent

WRITE = """
import datetime as dt
from decimal import Decimal
from campaigns.models import Campaign, Channel
from campaigns.services import campaign_create, cost_create, coupon_save
from leads.models import Via
from leads.services import contact_create, contact_move_stage, purchase_record

UTC = dt.UTC
pins = campaign_create(
    name="Spring pins", channel=Channel.objects.get(slug="pinterest"),
    objective=Campaign.Objective.SALES, starts_on=dt.date(2026, 2, 1), budget=Decimal("1000.00"),
)
cost_create(campaign=pins, incurred_on=dt.date(2026, 3, 5), amount=Decimal("400.00"))
coupon_save(code="PIN10", campaign=pins)
ada = contact_create(
    email="ada@example.com", source_campaign=pins,
    entered_at=dt.datetime(2026, 3, 2, 10, tzinfo=UTC), via=Via.API,
)
contact_move_stage(contact=ada, stage="lead", at=dt.datetime(2026, 3, 3, 10, tzinfo=UTC), via=Via.API)
purchase_record(
    contact=ada, amount="100.00", coupon="pin10",
    occurred_at=dt.datetime(2026, 3, 20, 12, tzinfo=UTC), via=Via.API,
)
purchase_record(
    email="walkin@example.com", amount="50.00", coupon="PIN10",
    occurred_at=dt.datetime(2026, 3, 15, 9, tzinfo=UTC), via=Via.API,
)
"""

READ = """
import datetime as dt, json
from campaigns.models import Campaign, Cost, Coupon
from leads.models import Contact, Purchase, StageChange, Touchpoint
from reports.models import AttributedDay
from reports.metrics import roi_report

report = roi_report(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), attribution="linear")
print(json.dumps({
    "counts": {model.__name__: model.objects.count() for model in
               (Campaign, Cost, Coupon, Contact, Purchase, StageChange, Touchpoint, AttributedDay)},
    "totals": {key: str(report["totals"][key]) for key in ("revenue", "cost", "roi", "leads", "customers")},
}))
"""


def server_url(database: str) -> str:
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{database}"
    )


@pytest.fixture
def throwaway_names() -> Iterator[tuple[str, str]]:
    """Two database names no one else uses; both dropped at the end, whatever happened."""
    token = secrets.token_hex(4)
    names = (f"social_roi_backup_{token}", f"social_roi_restored_{token}")
    yield names
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        for name in names:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 - the project's scripts and PostgreSQL's tools
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_backup_and_restore_as_documented(throwaway_names, tmp_path):
    source_name, restored_name = throwaway_names
    source, restored = server_url(source_name), server_url(restored_name)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "DATA_DIR"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATA_DIR=str(tmp_path / "data"),
        PYTHON=sys.executable,
    )
    source_env = {**env, "DATABASE_URL": source}
    manage = [sys.executable, "manage.py"]

    run(["createdb", "--maintenance-db", server_url("postgres"), source_name], env)
    run([*manage, "migrate", "--noinput"], source_env)
    run([*manage, "shell", "--no-imports", "--command", WRITE], source_env)
    # The day caches go into the archive too; verify_reports checks them after the restore.
    run([*manage, "warm_attribution", "--days", "400"], source_env)
    before = json.loads(run([*manage, "shell", "--no-imports", "--command", READ], source_env))
    assert before["totals"] == {
        "revenue": "150.00",
        "cost": "400.00",
        "roi": "-0.6250",
        "leads": "2",
        "customers": "2.00",
    }
    assert before["counts"]["AttributedDay"] > 0

    archive = tmp_path / "social_roi.dump"
    assert run([str(ROOT / "bin" / "backup"), str(archive)], source_env).strip() == str(archive)
    assert archive.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format

    run(["createdb", "--maintenance-db", server_url("postgres"), restored_name], env)
    # bin/restore fails (and run() with it) when verify_reports finds a cached figure that
    # disagrees with the restored data.
    restore = run([str(ROOT / "bin" / "restore"), str(archive), restored], env)
    assert "MISMATCH" not in restore
    assert "cached figures agree with its data" in restore

    after = json.loads(
        run(
            [*manage, "shell", "--no-imports", "--command", READ], {**env, "DATABASE_URL": restored}
        )
    )
    assert after == before


def test_restore_refuses_a_database_that_has_tables(throwaway_names, tmp_path):
    source_name, _ = throwaway_names
    source = server_url(source_name)
    env = {**os.environ, "PYTHON": sys.executable}
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(source_name)))
    with psycopg.connect(source, autocommit=True) as target:
        target.execute("CREATE TABLE live_data (id int)")
    archive = tmp_path / "any.dump"
    archive.write_bytes(b"not reached")
    result = subprocess.run(  # noqa: S603 - the project's script
        [str(ROOT / "bin" / "restore"), str(archive), source],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "refusing" in result.stderr
    with psycopg.connect(source) as target:
        assert target.execute("SELECT count(*) FROM live_data").fetchone() == (0,)
