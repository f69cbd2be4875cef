"""Time of the cohort payback report (`reports.payback.payback_report`) on a seeded database.

"computed" bypasses every cache (every cohort month read from contacts and purchases, the
entrants counted); "first read" starts with no kept month, computes and keeps the closed ones;
"kept" reads them back (only the open months' revenue computed). The entrants come from the
contact counts' day cache and month roll-ups as the database holds them (filled by the first
read where missing, inside the transaction); the shared database's caches are not emptied. By channel and by campaign, best of three runs each (the first read: one).
Everything runs in one transaction that is rolled back, the `CohortMonth` table included when
the database has not been migrated to it yet: the database is left as it was.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench \\
        .venv/bin/python bench/payback.py --months 12
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

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from reports.daycache import bypassed  # noqa: E402
from reports.models import CohortMonth  # noqa: E402
from reports.payback import payback_report  # noqa: E402


class RolledBack(Exception):
    pass


def timed(runs: int, **params) -> tuple[float, int, int]:
    """Best time, its queries and the report's rows."""
    best, queries, rows = float("inf"), 0, 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            report = payback_report(**params)
            elapsed = time.perf_counter() - started
        best, queries, rows = min(best, elapsed), len(captured), len(report["rows"])
    return best, queries, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None)
    args = parser.parse_args()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM leads_contact")
        contacts = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM leads_purchase")
        purchases = cursor.fetchone()[0]
    print(f"{contacts:,} contacts, {purchases:,} purchases; the last {args.months} cohort months")
    params = {"months": args.months, "today": args.today}
    try:
        with transaction.atomic():
            if CohortMonth._meta.db_table not in connection.introspection.table_names():
                with connection.schema_editor() as editor:
                    editor.create_model(CohortMonth)
            CohortMonth.objects.all().delete()
            for group_by in ("channel", "campaign"):
                with bypassed():
                    seconds, queries, rows = timed(3, group_by=group_by, **params)
                print(
                    f"{group_by:8} computed    {seconds * 1000:8.0f} ms {queries:3} queries {rows} rows"
                )
                CohortMonth.objects.all().delete()
                seconds, queries, rows = timed(1, group_by=group_by, **params)
                print(f"{group_by:8} first read  {seconds * 1000:8.0f} ms {queries:3} queries")
                seconds, queries, rows = timed(3, group_by=group_by, **params)
                kept = CohortMonth.objects.count()
                print(
                    f"{group_by:8} kept        {seconds * 1000:8.0f} ms {queries:3} queries"
                    f" ({kept} closed months kept)"
                )
            raise RolledBack
    except RolledBack:
        pass


if __name__ == "__main__":
    main()
