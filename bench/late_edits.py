"""verify_reports on a big database: after a bulk load, then after a day of random late edits.

On the database DATABASE_URL names (PostgreSQL, seeded with `manage.py seed_demo`; it is written
to), in order:
1. warm the day caches for the year (`warm_attribution`) and make the saved reports a year of
   beat runs would have made (monthly and weekly, by channel and by campaign, last touch);
2. `verify_reports` over everything: its time and mismatches;
3. a day of late edits through the services, as the API, the admin and the integrations make
   them: touches and purchases dated in the past year, forward stage moves, costs added, moved
   to another day and deleted, engagement rewritten, purchases and touches deleted; each edit
   in its own transaction, with the saved reports it marks queued (to a broker nobody reads,
   as if the workers were busy) and the caches it voids dropped;
4. the workers catching up: every pending report generated; pages and reports read again, so
   the caches fill around the edited days;
5. `verify_reports` over everything again.
Counts the edits refused by a rule (expected: a coupon at its cap, a backward move) apart from
errors; exits 1 on any error or any mismatch.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=1 \\
        .venv/bin/python bench/late_edits.py --end 2026-11-22 --edits 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + uuid.uuid4().hex)
# Regenerations are queued to a broker nobody reads during the edits (busy workers), then
# generated in step 4.
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
os.environ.pop("REDIS_URL", None)

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns.errors import DomainError  # noqa: E402
from campaigns.models import Campaign, Cost  # noqa: E402
from campaigns.services import (  # noqa: E402
    cost_create,
    cost_delete,
    cost_update,
    engagement_upsert,
)
from leads.models import Contact, Purchase, Touchpoint, Via  # noqa: E402
from leads.services import (  # noqa: E402
    contact_move_stage,
    purchase_delete,
    purchase_record,
    touchpoint_delete,
    touchpoint_record,
)
from reports.metrics import roi_report  # noqa: E402
from reports.models import Granularity, GroupBy, Report  # noqa: E402
from reports.periods import last_iso_week, last_month  # noqa: E402
from reports.services import attribution_warm, report_generate, report_request  # noqa: E402
from reports.verify import caches_verify  # noqa: E402


def saved_reports(end: dt.date) -> list[Report]:
    """A year of monthly and weekly reports, as the beat entries make them."""
    periods = []
    day = end + dt.timedelta(days=1)
    for _ in range(12):
        start, stop = last_month(day)
        periods.append((Granularity.MONTHLY, start, stop))
        day = start
    day = end + dt.timedelta(days=1)
    for _ in range(52):
        start, stop = last_iso_week(day)
        periods.append((Granularity.WEEKLY, start, stop))
        day = start
    reports = []
    for granularity, start, stop in periods:  # 12 months and 52 weeks, two groupings each
        for group_by in (GroupBy.CHANNEL, GroupBy.CAMPAIGN):
            reports.append(
                report_request(
                    start=start,
                    end=stop,
                    group_by=group_by,
                    granularity=granularity,
                    enqueue=False,
                )
            )
    return reports


def generate_pending() -> int:
    done = 0
    for report_id in Report.objects.filter(status=Report.Status.PENDING).values_list(
        "id", flat=True
    ):
        report = report_generate(report_id=report_id)
        done += report is not None and report.status == Report.Status.DONE
    return done


def verify(label: str) -> int:
    result = caches_verify()
    for mismatch in result.mismatches[:20]:
        print(f"  MISMATCH {mismatch}")
    print(f"{label}: {result.summary()}")
    return len(result.mismatches)


class Edits:
    """Random late edits through the services, on the year's data."""

    def __init__(self, rng: random.Random, start: dt.datetime, end: dt.datetime) -> None:
        self.rng, self.start, self.end = rng, start, end
        ids = Contact.objects.aggregate(lo=Min("id"), hi=Max("id"))
        self.lo, self.hi = ids["lo"], ids["hi"]
        self.campaigns = list(Campaign.objects.all())
        self.counts: Counter[str] = Counter()

    def moment(self) -> dt.datetime:
        span = (self.end - self.start).total_seconds()
        return self.start + dt.timedelta(seconds=int(self.rng.random() * span))

    def day(self) -> dt.date:
        return timezone.localdate(self.moment())

    def contact(self) -> Contact:
        while True:
            found = Contact.objects.filter(pk__gte=self.rng.randint(self.lo, self.hi)).first()
            if found is not None:
                return found

    def one(self) -> str:
        kind = self.rng.choices(
            [
                "touch",
                "purchase",
                "move",
                "cost_add",
                "cost_move",
                "cost_delete",
                "engagement",
                "purchase_delete",
                "touch_delete",
            ],
            weights=[40, 15, 15, 6, 6, 3, 8, 3, 4],
        )[0]
        rng = self.rng
        if kind == "touch":
            contact = self.contact()
            touchpoint_record(
                contact=contact,
                campaign=rng.choice(self.campaigns),
                kind="click",
                occurred_at=max(self.moment(), contact.entered_at),
            )
        elif kind == "purchase":
            contact = self.contact()
            purchase_record(
                contact=contact,
                amount=Decimal(rng.randint(100, 30000)) / 100,
                occurred_at=max(self.moment(), contact.entered_at),
                via=Via.API,
            )
        elif kind == "move":
            contact = self.contact()
            contact_move_stage(
                contact=contact,
                stage=rng.choice(["lead", "qualified", "customer"]),
                at=max(self.moment(), contact.entered_at),
                via=Via.ADMIN,
            )
        elif kind == "cost_add":
            cost_create(
                campaign=rng.choice(self.campaigns),
                incurred_on=self.day(),
                amount=Decimal(rng.randint(1, 50000)) / 100,
                category="ad_spend",
            )
        elif kind == "cost_move":
            cost = Cost.objects.order_by("?").first()
            cost_update(cost=cost, incurred_on=self.day())
        elif kind == "cost_delete":
            cost_delete(cost=Cost.objects.order_by("?").first())
        elif kind == "engagement":
            engagement_upsert(
                campaign=rng.choice(self.campaigns),
                date=self.day(),
                impressions=rng.randint(0, 20000),
                clicks=rng.randint(0, 300),
            )
        elif kind == "purchase_delete":
            purchase = Purchase.objects.filter(pk__gte=rng.randint(1, self.max_purchase())).first()
            if purchase is not None:
                purchase_delete(purchase=purchase)
        else:
            touch = (
                Touchpoint.objects.exclude(kind="coupon")
                .filter(pk__gte=rng.randint(1, self.max_touch()))
                .first()
            )
            if touch is not None:
                touchpoint_delete(touch=touch)
        return kind

    def max_purchase(self) -> int:
        return Purchase.objects.aggregate(m=Max("id"))["m"] or 1

    def max_touch(self) -> int:
        return Touchpoint.objects.aggregate(m=Max("id"))["m"] or 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True, help="seed_demo --end")
    parser.add_argument("--edits", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("Run against PostgreSQL (DATABASE_URL).", file=sys.stderr)
        return 2
    errors = 0
    start = args.end - dt.timedelta(days=364)

    began = time.monotonic()
    attribution_warm(start=start, end=args.end)
    reports = saved_reports(args.end)
    made = generate_pending()
    print(
        f"Warmed a year of day caches and made {made} of {len(reports)} saved reports "
        f"in {time.monotonic() - began:.0f} s."
    )
    mismatches = verify("After the bulk load")

    tz = timezone.get_current_timezone()
    edits = Edits(
        random.Random(args.seed),
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        min(dt.datetime.combine(args.end, dt.time(23, 59), tzinfo=tz), timezone.now()),
    )
    began = time.monotonic()
    refused: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for _ in range(args.edits):
        try:
            done[edits.one()] += 1
        except DomainError as exc:
            refused[type(exc).__name__] += 1
        except Exception as exc:  # counted and printed: the bench fails on any
            errors += 1
            print(f"  ERROR {type(exc).__name__}: {exc}")
    seconds = time.monotonic() - began
    print(
        f"{sum(done.values())} late edits in {seconds:.0f} s "
        f"({sum(done.values()) / seconds:.1f}/s): {dict(done)}; refused by a rule: "
        f"{dict(refused)}; errors: {errors}"
    )
    stale = Report.objects.filter(status=Report.Status.PENDING).count()
    began = time.monotonic()
    regenerated = generate_pending()
    for _ in range(20):  # the pages and API read reports around the edited days again
        day = edits.day()
        roi_report(start=day - dt.timedelta(days=6), end=day, attribution="linear")
    print(
        f"{stale} saved reports marked stale; regenerated {regenerated} and read 20 weeks "
        f"in {time.monotonic() - began:.0f} s."
    )
    mismatches += verify("After the late edits")
    return 1 if errors or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
