"""The full-year ROI report by campaign, per attribution model, beside a hand-written statement.

For each model: roi_report() (every figure family: credited revenue and customers with exact
cent rounding, assists, costs, contacts, engagement, discounts, totals) against one hand-written
PostgreSQL statement that computes only the model's revenue per campaign, net of refunds (no
rounding, no other figure), best of three runs each, in the same process. roi_report is timed
cold (the model's attribution day cache and the contact counts cache emptied before each run:
every day computed and stored) and cached (every closed day read from the cache). Writes only
to the cache table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=1 \\
        .venv/bin/python bench/report.py --end 2026-11-22
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

from reports.metrics import roi_report  # noqa: E402
from reports.models import AttributedDay, ContactDay, DurationDay, MonthRollup  # noqa: E402
from reports.periods import period_bounds  # noqa: E402

WEIGHTS = {
    "first_touch": "CASE WHEN pos = 1 THEN 1.0 ELSE 0 END",
    "last_touch": "CASE WHEN pos = n THEN 1.0 ELSE 0 END",
    "linear": "1.0 / n",
    "position_based": "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 WHEN pos IN (1, n) THEN 0.4 ELSE 0.2 / (n - 2) END",
    "time_decay": "POWER(2.0::float8, -age / 7) / SUM(POWER(2.0::float8, -age / 7)) OVER (PARTITION BY pid)",
}

HAND_WRITTEN = """
SELECT campaign_id, SUM(amount * weight) FROM (
    SELECT pid, amount, campaign_id, {weight} AS weight FROM (
        SELECT p.id AS pid, p.amount - COALESCE(r.refunded, 0) AS amount, t.campaign_id, t.age,
               COUNT(*) OVER (PARTITION BY p.id) AS n,
               ROW_NUMBER() OVER (PARTITION BY p.id ORDER BY t.occurred_at, t.is_coupon, t.id) AS pos
        FROM leads_purchase p
        -- Revenue is net of refunds: the same work the report does.
        LEFT JOIN (
            SELECT purchase_id, SUM(amount) AS refunded FROM leads_refund
            WHERE occurred_at >= %(lo)s GROUP BY purchase_id
        ) r ON r.purchase_id = p.id
        CROSS JOIN LATERAL (
            SELECT x.* FROM (
                SELECT t.id, t.occurred_at, t.campaign_id, (t.kind = 'coupon')::int AS is_coupon,
                       EXTRACT(EPOCH FROM (p.occurred_at - t.occurred_at))::float8 / 86400 AS age,
                       ROW_NUMBER() OVER (ORDER BY t.occurred_at, t.kind = 'coupon', t.id) AS nth
                FROM leads_touchpoint t
                WHERE t.contact_id = p.contact_id AND t.occurred_at <= p.occurred_at
            ) x WHERE x.nth = 1 OR x.occurred_at >= p.occurred_at - interval '90 days'
        ) t
        WHERE p.occurred_at >= %(lo)s AND p.occurred_at < %(hi)s
    ) ranked
) weighted GROUP BY campaign_id
"""


def best_of(runs: int, work) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date.today())  # noqa: DTZ011
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")
    start = args.end - dt.timedelta(days=364)
    lo, hi = period_bounds(start, args.end)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM leads_contact), (SELECT count(*) FROM leads_touchpoint),"
            " (SELECT count(*) FROM leads_purchase WHERE occurred_at >= %s AND occurred_at < %s)",
            [lo, hi],
        )
        contacts, touches, purchases = cursor.fetchone()
    print(
        f"{contacts:,} contacts, {touches:,} touchpoints, {purchases:,} purchases in {start}..{args.end}"
    )
    print(f"{'model':<16}{'cold s':>8}{'ratio':>7}{'cached s':>10}{'ratio':>7}{'hand SQL s':>12}")

    def hand(model: str) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(HAND_WRITTEN.format(weight=WEIGHTS[model]), {"lo": lo, "hi": hi})
            cursor.fetchall()

    def report(model: str, *, cold: bool) -> None:
        if cold:
            AttributedDay.objects.filter(model=model).delete()
            ContactDay.objects.all().delete()
            DurationDay.objects.all().delete()
            MonthRollup.objects.all().delete()
        roi_report(start=start, end=args.end, group_by="campaign", attribution=model)

    for model in WEIGHTS:
        cold = best_of(args.runs, lambda m=model: report(m, cold=True))
        cached = best_of(args.runs, lambda m=model: report(m, cold=False))
        theirs = best_of(args.runs, lambda m=model: hand(m))
        print(
            f"{model:<16}{cold:>8.3f}{cold / theirs:>7.2f}"
            f"{cached:>10.3f}{cached / theirs:>7.2f}{theirs:>12.3f}"
        )


if __name__ == "__main__":
    main()
