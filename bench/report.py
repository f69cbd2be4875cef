"""The full-year ROI report by campaign, per attribution model, beside a hand-written statement.

For each model: roi_report() (every figure family: credited revenue and customers with exact
cent rounding, assists, costs, contacts, engagement, discounts, totals) against one hand-written
PostgreSQL statement that computes only the model's revenue per campaign, net of refunds (no
rounding, no other figure), best of three runs each, in the same process. roi_report is timed
cold (the model's attribution day cache, the contact counts and durations caches and every
month roll-up emptied before each run: every day computed and stored) and cached (every closed
day read from the cache). Writes only to the cache tables.

Each model's cold report must take at most TARGET (1.5) times its hand-written statement,
measured in the same run: a PASS or FAIL per model. Exits with 1 if any run raised (the error
is printed and the other models still run), with 2 if every run worked but a model missed the
target, else 0.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=1 \\
        .venv/bin/python bench/report.py --end 2026-11-22
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from reports.metrics import roi_report  # noqa: E402
from reports.models import (  # noqa: E402
    DATA_DRIVEN,
    AttributedDay,
    Attribution,
    ContactDay,
    DurationDay,
    MonthRollup,
)
from reports.periods import period_bounds  # noqa: E402

TARGET = 1.5

# The stage-aware models' exact weights (SPEC §3 and docs/metrics.md), over pos and n and the
# milestones: lp, the last touch at or before the lead stamp (the first touch if none), qp, the
# last at or before the qualified stamp (never before lp). Each milestone a touch is takes the
# model's units (of 0.5%); the other m touches share 20 units, or with none the milestones are
# the whole (180 units).
LP = "GREATEST(lead_k, 1)"
QP = f"GREATEST(qual_k, {LP})"


def stage_weight(units: int, milestones: list[str]) -> str:
    u = f"{units} * (" + " + ".join(f"(pos = {x})::int" for x in milestones) + ")"
    distinct = " + ".join(
        ["1"]
        + [
            "(" + " AND ".join(f"{x} <> {y}" for y in milestones[:i]) + ")::int"
            for i, x in enumerate(milestones)
            if i
        ]
    )
    m = f"(n - ({distinct}))"
    return (
        f"CASE WHEN {m} > 0 THEN ({u} * {m} + CASE WHEN {u} = 0 THEN 20 ELSE 0 END)::numeric"
        f" / (200 * {m}) ELSE ({u}) / 180.0 END"
    )


WEIGHTS = {
    "first_touch": "CASE WHEN pos = 1 THEN 1.0 ELSE 0 END",
    "last_touch": "CASE WHEN pos = n THEN 1.0 ELSE 0 END",
    "linear": "1.0 / n",
    "position_based": "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 WHEN pos IN (1, n) THEN 0.4 ELSE 0.2 / (n - 2) END",
    "time_decay": "POWER(2.0::float8, -age / 7) / SUM(POWER(2.0::float8, -age / 7)) OVER (PARTITION BY pid)",
    "w_shaped": stage_weight(60, ["1", LP, QP]),
    "full_path": stage_weight(45, ["1", LP, QP, "n"]),
}
# The stage-aware models also read the contact's stamps: how many of the purchase's touches
# are at or before each.
STAGES = """,
               COUNT(*) FILTER (WHERE t.occurred_at <= c.became_lead_at)
                   OVER (PARTITION BY p.id) AS lead_k,
               COUNT(*) FILTER (WHERE t.occurred_at <= c.became_qualified_at)
                   OVER (PARTITION BY p.id) AS qual_k"""
STAGES_JOIN = "JOIN leads_contact c ON c.id = p.contact_id"

HAND_WRITTEN = """
SELECT campaign_id, SUM(amount * weight) FROM (
    SELECT pid, amount, campaign_id, {weight} AS weight FROM (
        SELECT p.id AS pid, p.amount - COALESCE(r.refunded, 0) AS amount, t.campaign_id, t.age,
               COUNT(*) OVER (PARTITION BY p.id) AS n,
               ROW_NUMBER() OVER (PARTITION BY p.id ORDER BY t.occurred_at, t.is_coupon, t.id) AS pos{stages}
        FROM leads_purchase p {stages_join}
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


# The data-driven models' baseline: the period's journeys written by hand, each distinct path
# with its count, converting (first purchases, SPEC §3 touches) and not converting (contacts who
# were not customers by the end and touched a channel in the period, their touches from the
# lookback before it). The report also fits the model and its 200-draw bootstrap.
JOURNEYS = """
WITH conv AS (
    SELECT p.id, string_agg(t.channel_id::text, '>' ORDER BY t.occurred_at, t.is_coupon, t.id) AS path
    FROM leads_purchase p
    CROSS JOIN LATERAL (
        SELECT x.* FROM (
            SELECT t.id, t.occurred_at, t.channel_id, (t.kind = 'coupon')::int AS is_coupon,
                   ROW_NUMBER() OVER (ORDER BY t.occurred_at, t.kind = 'coupon', t.id) AS nth
            FROM leads_touchpoint t
            WHERE t.contact_id = p.contact_id AND t.occurred_at <= p.occurred_at
        ) x WHERE x.nth = 1 OR x.occurred_at >= p.occurred_at - interval '90 days'
    ) t
    WHERE p.occurred_at >= %(lo)s AND p.occurred_at < %(hi)s
      AND NOT EXISTS (SELECT 1 FROM leads_purchase q WHERE q.contact_id = p.contact_id
                      AND (q.occurred_at, q.id) < (p.occurred_at, p.id))
    GROUP BY p.id
),
waiting AS (
    SELECT t.contact_id,
           string_agg(t.channel_id::text, '>' ORDER BY t.occurred_at, t.kind = 'coupon', t.id) AS path
    FROM leads_touchpoint t JOIN leads_contact c ON c.id = t.contact_id
    WHERE t.occurred_at >= %(lo)s - interval '90 days' AND t.occurred_at < %(hi)s
      AND (c.became_customer_at IS NULL OR c.became_customer_at >= %(hi)s)
    GROUP BY t.contact_id HAVING MAX(t.occurred_at) >= %(lo)s
)
SELECT path, TRUE, COUNT(*) FROM conv GROUP BY path
UNION ALL
SELECT path, FALSE, COUNT(*) FROM waiting GROUP BY path
"""


def hand_written(model: str) -> str:
    """The hand-written statement of `model`."""
    if model in DATA_DRIVEN:
        return JOURNEYS
    staged = model in ("w_shaped", "full_path")
    return (
        HAND_WRITTEN.replace("{weight}", WEIGHTS[model])
        .replace("{stages}", STAGES if staged else "")
        .replace("{stages_join}", STAGES_JOIN if staged else "")
    )


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
    print(
        f"{'model':<16}{'cold s':>8}{'ratio':>7}{'cached s':>10}{'ratio':>7}{'hand SQL s':>12}"
        f"  target {TARGET}x cold"
    )

    def hand(model: str) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(hand_written(model), {"lo": lo, "hi": hi})
            cursor.fetchall()

    def report(model: str, *, cold: bool) -> None:
        if cold:
            AttributedDay.objects.filter(model=model).delete()
            ContactDay.objects.all().delete()
            DurationDay.objects.all().delete()
            MonthRollup.objects.all().delete()
        roi_report(start=start, end=args.end, group_by="campaign", attribution=model)

    failed, missed = [], []
    # The data-driven models (markov, shapley) stand beside the hand-written journeys statement;
    # they have no day cache, so "cached" is a second computation.
    for model in Attribution.values:
        if model not in WEIGHTS and model not in DATA_DRIVEN:
            print(f"{model:<16}ERROR: no hand-written statement (add it to WEIGHTS)")
            failed.append(model)
            continue
        try:
            cold = best_of(args.runs, lambda m=model: report(m, cold=True))
            cached = best_of(args.runs, lambda m=model: report(m, cold=False))
            theirs = best_of(args.runs, lambda m=model: hand(m))
        except Exception:  # printed, counted, and the exit status says so
            print(f"{model:<16}ERROR")
            traceback.print_exc()
            failed.append(model)
            continue
        verdict = "PASS" if cold / theirs <= TARGET else "FAIL"
        if verdict == "FAIL":
            missed.append(model)
        print(
            f"{model:<16}{cold:>8.3f}{cold / theirs:>7.2f}"
            f"{cached:>10.3f}{cached / theirs:>7.2f}{theirs:>12.3f}  {verdict}",
            flush=True,
        )
    if failed:
        print(f"ERROR in {len(failed)} model(s): {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)
    if missed:
        print(
            f"FAIL: {len(missed)} model(s) above {TARGET}x cold: {', '.join(missed)}",
            file=sys.stderr,
        )
        sys.exit(2)
    print(f"PASS: every model's cold report within {TARGET}x its hand-written statement.")


if __name__ == "__main__":
    main()
