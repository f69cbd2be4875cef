"""Server time and queries of the marketers' pages, cold and cached, on a seeded database.

Renders each page in-process with Django's test client (no network, no browser): the time is
the server's, from the request to the rendered response. "cold" empties the day caches
(attribution, contact counts, paths and their month roll-ups) and the page cache first, so
every day is computed (and stored); "days cached" keeps the day caches (what a page costs
after late data voided its cached figures); "page cached" keeps both (the same request
again). Best of three runs each (cold: one, `--cold-runs`). Writes only to the cache table and the
cache (locmem here: this process).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=1 \\
        .venv/bin/python bench/pages.py --end 2026-11-22
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from campaigns.models import Campaign  # noqa: E402
from reports.changes import caches_cleared  # noqa: E402


def timed(client: Client, url: str, runs: int, *, days: bool, page: bool) -> tuple[float, int]:
    """Best time and its query count; `days` / `page` keep the attribution day cache / the
    page cache from the previous run, else empty it first."""
    best, queries = float("inf"), 0
    for _ in range(runs):
        if not days:
            caches_cleared()
        if not page:
            cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
        best, queries = min(best, elapsed), len(captured.captured_queries)
    return best, queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date.today())  # noqa: DTZ011
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=1, help="cold is slow: once by default")
    parser.add_argument("--only", default="", help="only the pages whose name contains this")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")
    user, _ = User.objects.get_or_create(
        username="bench-pages", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    year = f"start={args.end - dt.timedelta(days=364)}&end={args.end}"
    month_end = args.end.replace(day=1) - dt.timedelta(days=1)
    month = f"start={month_end.replace(day=1)}&end={month_end}"
    campaign = Campaign.objects.order_by("pk").first()
    pages = [
        ("Dashboard, full year", f"/reports/?preset=custom&{year}"),
        ("Dashboard, last month", f"/reports/?preset=custom&{month}"),
        ("Attribution, full year", f"/reports/attribution/?preset=custom&{year}"),
        (
            "Attribution by campaign",
            f"/reports/attribution/?preset=custom&{month}&group_by=campaign",
        ),
        ("Campaign list, full year", f"/reports/campaigns/?preset=custom&{year}"),
        ("Campaign page, last month", f"/reports/campaigns/{campaign.pk}/?preset=custom&{month}"),
        ("Conversion paths, month", f"/reports/paths/?preset=custom&{month}"),
        ("Conversion paths, year", f"/reports/paths/?preset=custom&{year}"),
        ("CSV, campaigns, full year", f"/reports/export/campaigns.csv?preset=custom&{year}"),
    ]
    print(f"{'page':<28}{'queries':>8}{'cold s':>9}{'days cached s':>15}{'page cached s':>15}")
    for label, url in pages:
        if args.only.lower() not in label.lower():
            continue
        cold, queries = timed(client, url, args.cold_runs, days=False, page=False)
        days, _ = timed(client, url, args.runs, days=True, page=False)
        page, _ = timed(client, url, args.runs, days=True, page=True)
        print(f"{label:<28}{queries:>8}{cold:>9.3f}{days:>15.3f}{page:>15.3f}")


if __name__ == "__main__":
    main()
