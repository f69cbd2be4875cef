"""Every report figure against an independent implementation of SPEC §3 (tests/reports/oracle.py).

Hypothesis writes small random data sets: a few campaigns on two channels (two campaigns on one
of them), 1-8 contacts with stage stamps, touches of every kind (with and without a campaign,
coupon touches at their purchases' instants, touches at equal instants, on the lookback's edge
to the second), purchases of 0.01 and odd cents with and without coupons and discounts, costs
(zero ones too) and engagement, refunds (none, a cent, half, all of it in one or two
refunds, made at the purchase's instant or weeks later), around the US daylight-saving changes of November 2025 and
March 2026. For a random period (one day to a year), lookback (7, 30, 90) and time zone (UTC,
America/New_York) it compares every ROI figure of every model in both groupings, and the funnel
in both groupings, with the oracle: cold (empty day caches) and then from the day caches.

Under time decay, customers and the cost per customer are sums of double-precision shares: where
the exact value sits within 1e-9 of a rounding half, either neighbour is accepted (the order of
a float sum may decide it); everything else must match digit for digit.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from campaigns.models import Campaign, Cost, Coupon, EngagementStat
from leads.models import Contact, Purchase, Refund, Stage, StageChange, Touchpoint
from reports.metrics import funnel_report, roi_matrix, roi_report
from reports.models import (
    AttributedDay,
    ContactDay,
    DayChange,
    DurationDay,
    MonthRollup,
    PathDay,
)
from tests.factories import channel
from tests.reports import oracle

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MODELS = list(oracle.MODELS)
GROUPINGS = ["channel", "campaign"]
# Derandomized (the same examples every run, for a stable CI); ORACLE_EXAMPLES=1000
# ORACLE_RANDOM=1 explores further. A failing example is reported as found (its data and every
# differing figure); ORACLE_SHRINK=1 shrinks it first, which takes minutes at this cost per
# example.
EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "80"))
RANDOM = os.environ.get("ORACLE_RANDOM", "") not in ("", "0")
SHRINK = os.environ.get("ORACLE_SHRINK", "") not in ("", "0")
# Instants that matter: New York's midnights and the hours that repeat or vanish at the
# daylight-saving changes (2 November 2025 01:00-02:00 twice; 8 March 2026 02:00-03:00 never),
# UTC midnight, and a plain afternoon.
ANCHORS = [
    dt.datetime(2025, 11, 2, 4, 0, tzinfo=UTC),  # 00:00 EDT
    dt.datetime(2025, 11, 2, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first one
    dt.datetime(2025, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST, the second one
    dt.datetime(2025, 11, 3, 5, 0, tzinfo=UTC),  # 00:00 EST
    dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC),  # 00:00 EST
    dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 EST
    dt.datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),  # 01:59:59 EST
    dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # 03:00 EDT
    dt.datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 EDT
    dt.datetime(2026, 2, 14, 15, 45, 30, tzinfo=UTC),
]
SECOND, HOUR, DAY = dt.timedelta(seconds=1), dt.timedelta(hours=1), dt.timedelta(days=1)
# Offsets from an anchor: the same instant, a second, an hour, a day or a week apart, or any.
NUDGES = st.one_of(
    st.sampled_from([dt.timedelta(0), SECOND, -SECOND, HOUR, -HOUR, DAY, -DAY, 7 * DAY, -7 * DAY]),
    st.integers(-120 * 86400, 120 * 86400).map(lambda s: dt.timedelta(seconds=s)),
)
# How long before a purchase a touch comes: at its instant, on the lookback edges (to the
# second), or anywhere up to eight months before.
BEFORE = st.one_of(
    st.sampled_from(
        [dt.timedelta(0), SECOND]
        + [d * DAY + extra for d in (7, 30, 90) for extra in (dt.timedelta(0), SECOND, -SECOND)]
    ),
    st.integers(0, 240 * 86400).map(lambda s: dt.timedelta(seconds=s)),
)
AFTER = st.one_of(
    st.sampled_from([dt.timedelta(0), SECOND, DAY, 8 * DAY, 31 * DAY, 91 * DAY, 100 * DAY]),
    st.integers(0, 200 * 86400).map(lambda s: dt.timedelta(seconds=s)),
)
CENTS = st.one_of(st.sampled_from([1, 2, 3, 7, 100, 999, 10_001]), st.integers(1, 500_000))
KINDS = ["follow", "like", "comment", "share", "click", "visit", "form", "call", "email"]
# Groups a touch or a source may belong to: (channel slug, campaign index or None).
GROUPS = [("pinterest", 0), ("pinterest", 1), ("linkedin", 2), ("pinterest", None), ("x", None)]


@st.composite
def instants(draw) -> dt.datetime:
    return draw(st.sampled_from(ANCHORS)) + draw(NUDGES)


@dataclass
class TouchSpec:
    group: int  # index in GROUPS
    kind: str
    when: dt.datetime | int  # an instant, or the index of a purchase it precedes
    before: dt.timedelta


@dataclass
class PurchaseSpec:
    when: dt.datetime
    cents: int
    coupon: int | None  # campaign index of the coupon
    discount_cents: int
    refunds: list[tuple[int, dt.timedelta]]  # (cents, after the purchase); at most its cents


# How much of a purchase is refunded: nothing (most often), a cent, half, all of it at once,
# or all of it in two refunds.
REFUND_SHAPES = ["none", "none", "none", "cent", "half", "full", "full in two"]
REFUND_AFTER = st.sampled_from([dt.timedelta(0), SECOND, HOUR, DAY, 40 * DAY])


@st.composite
def refunds_of(draw, cents: int) -> list[tuple[int, dt.timedelta]]:
    shape = draw(st.sampled_from(REFUND_SHAPES))
    if shape == "none":
        return []
    if shape == "cent":
        parts = [1]
    elif shape == "half":
        parts = [max(cents // 2, 1)]
    elif shape == "full" or cents == 1:
        parts = [cents]
    else:
        parts = [max(cents // 3, 1), cents - max(cents // 3, 1)]
    return [(part, draw(REFUND_AFTER)) for part in parts]


@dataclass
class ContactSpec:
    source: int  # index in GROUPS
    entered: dt.datetime
    stamps: tuple[dt.timedelta | None, ...]  # lead, qualified, customer: after the previous
    first_touch: bool  # a touch on the source at entry, as the services record it
    purchases_first: bool  # purchases (and their coupon touches) written before the touches
    purchases: list[PurchaseSpec]
    touches: list[TouchSpec]


@dataclass
class Scenario:
    contacts: list[ContactSpec]
    costs: list[tuple[int, dt.date, int]]  # campaign index, day, cents
    engagement: dict[tuple[int, dt.date], tuple[int, int, int]]  # impressions, clicks, gained
    targets: tuple[int | None, int | None]  # campaign 0's target leads and cost per lead (cents)
    start: dt.date
    days: int
    lookback: int
    zone: str


@st.composite
def scenarios(draw) -> Scenario:
    contacts = []
    for _ in range(draw(st.integers(1, 8))):
        purchases = []
        for _ in range(draw(st.integers(0, 3))):
            # A repeat purchase comes at the same instant, soon after, or past the lookback.
            when = draw(instants()) if not purchases else purchases[-1].when + draw(AFTER)
            cents = draw(CENTS)
            purchases.append(
                PurchaseSpec(
                    when=when,
                    cents=cents,
                    coupon=draw(st.one_of(st.none(), st.integers(0, 2))),
                    discount_cents=draw(st.sampled_from([0, 0, 1, 500, 1234])),
                    refunds=draw(refunds_of(cents)),
                )
            )
        touches = []
        for _ in range(draw(st.integers(0, 5))):
            relative = purchases and draw(st.booleans())
            touches.append(
                TouchSpec(
                    group=draw(st.integers(0, len(GROUPS) - 1)),
                    kind=draw(st.sampled_from(KINDS)),
                    when=draw(st.integers(0, len(purchases) - 1)) if relative else draw(instants()),
                    before=draw(BEFORE) if relative else dt.timedelta(0),
                )
            )
        gaps = st.one_of(
            st.none(), st.sampled_from([dt.timedelta(0), dt.timedelta(seconds=432), DAY, 3 * DAY])
        )
        # A walk-in enters at its first purchase, which is written first (its coupon touch has
        # the lowest id); touches recorded later may share its instant.
        walk_in = bool(purchases) and draw(st.booleans())
        contacts.append(
            ContactSpec(
                source=draw(st.integers(0, len(GROUPS) - 1)),
                entered=purchases[0].when if walk_in else draw(instants()),
                stamps=(draw(gaps), draw(gaps), draw(gaps)),
                first_touch=draw(st.booleans()),
                purchases_first=walk_in or draw(st.booleans()),
                purchases=purchases,
                touches=touches,
            )
        )
    day = st.dates(dt.date(2025, 9, 1), dt.date(2026, 7, 31))
    costs = draw(
        st.lists(st.tuples(st.integers(0, 2), day, st.sampled_from([0, 1, 333, 10_000, 99_999])))
    )
    engagement = draw(
        st.dictionaries(
            st.tuples(st.integers(0, 2), day),
            st.tuples(st.integers(0, 5000), st.integers(0, 300), st.integers(0, 50)),
            max_size=4,
        )
    )
    return Scenario(
        contacts=contacts,
        costs=costs,
        engagement=engagement,
        targets=(draw(st.sampled_from([None, 1, 3])), draw(st.sampled_from([None, 1, 1250]))),
        start=draw(periods_around([p.when for c in contacts for p in c.purchases])),
        days=draw(st.one_of(st.sampled_from([1, 2, 7, 31, 92, 365]), st.integers(1, 366))),
        lookback=draw(st.sampled_from([7, 30, 90])),
        zone=draw(st.sampled_from(["UTC", "America/New_York"])),
    )


def periods_around(moments: list[dt.datetime]) -> st.SearchStrategy[dt.date]:
    """Mostly a period starting on a purchase's day or a few days before; sometimes anywhere."""
    anywhere = st.dates(dt.date(2025, 10, 1), dt.date(2026, 4, 30))
    if not moments:
        return anywhere
    near = st.tuples(st.sampled_from(moments), st.integers(-3, 0)).map(
        lambda m: m[0].date() + dt.timedelta(days=m[1])
    )
    return st.one_of(near, near, near, anywhere)


def catalogue() -> list[Campaign]:
    """Three campaigns: two on pinterest (one channel, two campaigns), one on linkedin; each
    with its coupon. Kept across examples (only their targets change)."""
    campaigns = []
    for i, (slug, _) in enumerate(GROUPS[:3]):
        campaign, _ = Campaign.objects.get_or_create(
            name=f"Oracle {i}",
            defaults={"channel": channel(slug), "starts_on": dt.date(2025, 1, 1)},
        )
        Coupon.objects.get_or_create(code=f"ORACLE{i}", defaults={"campaign": campaign})
        campaigns.append(campaign)
    return campaigns


def write(scenario: Scenario) -> None:
    """The scenario's rows, written directly (the services' rules are respected by
    construction: monotone stamps, a coupon touch at each coupon purchase's instant)."""
    for model in (
        Refund,
        Purchase,
        Touchpoint,
        StageChange,
        Contact,
        Cost,
        EngagementStat,
        AttributedDay,
        ContactDay,
        PathDay,
        DurationDay,
        MonthRollup,
        DayChange,
    ):
        model.objects.all().delete()
    campaigns = catalogue()
    target_leads, target_cpl = scenario.targets
    Campaign.objects.filter(pk=campaigns[0].pk).update(
        target_leads=target_leads,
        target_cost_per_lead=None if target_cpl is None else Decimal(target_cpl) / 100,
    )
    coupons = {c.campaign_id: c for c in Coupon.objects.filter(campaign__in=campaigns)}

    def group(index: int) -> tuple:
        slug, campaign = GROUPS[index]
        return channel(slug), None if campaign is None else campaigns[campaign]

    for n, spec in enumerate(scenario.contacts):
        stamps, at = [], spec.entered
        for gap in spec.stamps:
            if gap is None:
                break
            at += gap
            stamps.append(at)
        stamps += [None] * (3 - len(stamps))
        stage = [Stage.FOLLOWER, Stage.LEAD, Stage.QUALIFIED, Stage.CUSTOMER][
            sum(s is not None for s in stamps)
        ]
        source_channel, source_campaign = group(spec.source)
        contact = Contact.objects.create(
            email=f"oracle{n}@example.com",
            source_channel=source_channel,
            source_campaign=source_campaign,
            stage=stage,
            entered_at=spec.entered,
            became_lead_at=stamps[0],
            became_qualified_at=stamps[1],
            became_customer_at=stamps[2],
        )
        touches = []
        if spec.first_touch:
            touches.append(
                Touchpoint(
                    contact=contact,
                    channel=source_channel,
                    campaign=source_campaign,
                    kind="follow",
                    occurred_at=spec.entered,
                )
            )
        for touch in spec.touches:
            when = (
                spec.purchases[touch.when].when - touch.before
                if isinstance(touch.when, int)
                else touch.when
            )
            touch_channel, touch_campaign = group(touch.group)
            touches.append(
                Touchpoint(
                    contact=contact,
                    channel=touch_channel,
                    campaign=touch_campaign,
                    kind=touch.kind,
                    occurred_at=when,
                )
            )
        # Ids decide ties at one instant: the coupon touches come before or after the others.
        if not spec.purchases_first:
            Touchpoint.objects.bulk_create(touches)
        for purchase in spec.purchases:
            coupon = None if purchase.coupon is None else coupons[campaigns[purchase.coupon].pk]
            row = Purchase.objects.create(
                contact=contact,
                amount=Decimal(purchase.cents) / 100,
                discount=Decimal(purchase.discount_cents) / 100,
                occurred_at=purchase.when,
                coupon=coupon,
            )
            for cents, after in purchase.refunds:  # never before the purchase, as the rule says
                Refund.objects.create(
                    purchase=row, amount=Decimal(cents) / 100, occurred_at=purchase.when + after
                )
            if coupon is not None:  # the purchase service's coupon touch, at its instant
                Touchpoint.objects.create(
                    contact=contact,
                    channel_id=coupon.campaign.channel_id,
                    campaign=coupon.campaign,
                    kind="coupon",
                    occurred_at=purchase.when,
                )
        if spec.purchases_first:
            Touchpoint.objects.bulk_create(touches)
    for index, day, cents in scenario.costs:
        Cost.objects.create(campaign=campaigns[index], incurred_on=day, amount=Decimal(cents) / 100)
    for (index, day), (impressions, clicks, gained) in scenario.engagement.items():
        EngagementStat.objects.create(
            campaign=campaigns[index],
            date=day,
            impressions=impressions,
            reactions=clicks // 2,
            comments=clicks % 7,
            shares=1,
            clicks=clicks,
            followers_gained=gained,
        )


def describe(scenario: Scenario) -> str:
    """The scenario as a reader would write it down (printed with a falsifying example)."""
    lines = [
        f"period {scenario.start} + {scenario.days} days in {scenario.zone}, "
        f"lookback {scenario.lookback}, campaign 0 targets {scenario.targets}"
    ]
    for n, c in enumerate(scenario.contacts):
        lines.append(
            f"contact {n}: source {GROUPS[c.source]}, entered {c.entered.isoformat()}, "
            f"stamp gaps {c.stamps}, first touch {c.first_touch}, "
            f"purchases written first {c.purchases_first}"
        )
        for i, p in enumerate(c.purchases):
            lines.append(
                f"  purchase {i}: {p.when.isoformat()} {p.cents} cents, coupon of campaign "
                f"{p.coupon}, discount {p.discount_cents} cents, refunds {p.refunds}"
            )
        for t in c.touches:
            when = (
                f"{t.before} before purchase {t.when}"
                if isinstance(t.when, int)
                else t.when.isoformat()
            )
            lines.append(f"  touch {t.kind} on {GROUPS[t.group]} at {when}")
    lines += [f"cost: campaign {i} on {d}: {c} cents" for i, d, c in scenario.costs]
    lines += [f"engagement: campaign {i} on {d}: {v}" for (i, d), v in scenario.engagement.items()]
    return "\n".join(lines)


ZERO_ROW = {
    "cost": "0.00",
    "revenue": "0.00",
    "roi": None,
    "roas": None,
    "followers": 0,
    "leads": 0,
    "qualified": 0,
    "customers": "0.00",
    "cost_per_lead": None,
    "cost_per_customer": None,
    "assisted_conversions": 0,
    "assisted_revenue": "0.00",
    "impressions": 0,
    "interactions": 0,
    "engagement_rate": None,
    "followers_gained": 0,
    "discounts": "0.00",
}
ADDITIVE = [
    "cost",
    "revenue",
    "followers",
    "leads",
    "qualified",
    "impressions",
    "interactions",
    "followers_gained",
    "discounts",
]


def _tolerated(model: str, name: str, got: object, want: object, exact: tuple | None) -> bool:
    """Time decay's customers and cost per customer at a rounding half: either side."""
    if model != "time_decay" or name not in ("customers", "cost_per_customer") or not exact:
        return False
    if got is None or want is None:
        return False
    customers, cost = exact
    value = customers if name == "customers" else (cost / customers if customers else None)
    return (
        value is not None
        and oracle.near_a_half(value, 2)
        and abs(Decimal(got) - Decimal(want)) == Decimal("0.01")
    )


def compare_roi(report: dict, expected: dict, model: str, group_by: str, where: str) -> list[str]:
    """Every figure of every row and of the totals; a row missing on one side is all zeros."""
    differences = []
    rows = {r["key"]: r for r in report["rows"]}
    for key in sorted(set(rows) | set(expected["rows"])):
        got, want = rows.get(key), expected["rows"].get(key)
        names = list(ZERO_ROW)
        if got is not None and want is not None:
            names += ["label", "channel", "target_leads", "target_cost_per_lead"]
        for name in names:
            a = (got or ZERO_ROW)[name]
            b = (want or ZERO_ROW)[name]
            if a != b and not _tolerated(model, name, a, b, expected["exact"].get(key)):
                differences.append(f"{where} {model}/{group_by} row {key} {name}: {a!r} != {b!r}")
    for name, b in expected["totals"].items():
        if report["totals"][name] != b:
            differences.append(
                f"{where} {model}/{group_by} totals {name}: {report['totals'][name]!r} != {b!r}"
            )
    # The rows add up to the totals for every additive figure.
    for name in ADDITIVE:
        total = sum(Decimal(str(r[name])) for r in report["rows"])
        if total != Decimal(str(report["totals"][name])):
            differences.append(f"{where} {model}/{group_by} sum of rows {name}: {total}")
    return differences


def compare_funnel(report: dict, expected: dict, group_by: str, where: str) -> list[str]:
    differences = []
    rows = {r["key"]: r for r in report["rows"]}
    if set(rows) != set(expected["rows"]):
        differences.append(
            f"{where} funnel/{group_by} rows: {sorted(rows)} != {sorted(expected['rows'])}"
        )
    for key in set(rows) & set(expected["rows"]):
        for name, b in expected["rows"][key].items():
            if rows[key][name] != b:
                differences.append(
                    f"{where} funnel/{group_by} row {key} {name}: {rows[key][name]!r} != {b!r}"
                )
    for name, b in expected["totals"].items():
        if report["totals"][name] != b:
            differences.append(
                f"{where} funnel/{group_by} totals {name}: {report['totals'][name]!r} != {b!r}"
            )
    return differences


@pytest.mark.timeout(1800)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    phases=[p for p in Phase if SHRINK or p not in (Phase.shrink, Phase.explain)],
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios(), pick=st.tuples(st.sampled_from(MODELS), st.sampled_from(GROUPINGS)))
def test_every_figure_matches_the_oracle(reference_data, scenario, pick):
    note(describe(scenario))
    write(scenario)
    start = scenario.start
    end = start + dt.timedelta(days=scenario.days - 1)
    period = {"start": start, "end": end, "lookback_days": scenario.lookback}
    note(f"period {start}..{end} in {scenario.zone}, lookback {scenario.lookback}")
    with override_settings(TIME_ZONE=scenario.zone), timezone.override(scenario.zone):
        truth = oracle.Oracle(
            oracle.load(), start=start, end=end, zone=scenario.zone, lookback=scenario.lookback
        )
        bought = [p for p in truth.rows.purchases if truth.inside(p.occurred_at)]
        event(f"purchases in the period: {min(len(bought), 5)}{'+' if len(bought) >= 5 else ''}")
        event(
            f"most touches of a purchase: {max((len(truth.purchase_touches(p)) for p in bought), default=0)}"
        )
        differences = []
        for where in ("cold", "cached"):
            matrix = roi_matrix(**period, group_bys=GROUPINGS, attributions=MODELS)
            for model in MODELS:
                for group_by in GROUPINGS:
                    differences += compare_roi(
                        matrix[model][group_by], truth.roi(model, group_by), model, group_by, where
                    )
            for group_by in GROUPINGS:
                funnel = funnel_report(**period, group_by=group_by)
                differences += compare_funnel(funnel, truth.funnel(group_by), group_by, where)
            if where == "cold":
                assert AttributedDay.objects.exists() or end >= timezone.localdate()
        # roi_report is roi_matrix's one-model, one-grouping case.
        model, group_by = pick
        assert roi_report(**period, attribution=model, group_by=group_by) == matrix[model][group_by]
    assert not differences, "\n".join(differences[:40])
