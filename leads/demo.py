"""A deterministic year of a small business, for the demo and the benchmarks.

It writes rows with `bulk_create` in chunks instead of calling the services one contact at a
time: a million contacts through the services would take hours. In exchange it must produce
exactly what the services would have stored, and the tests check that it does: stamps set for
every stage reached and monotone, one entry StageChange plus one per forward move, the first
touchpoint at `entered_at` on the source, a coupon touchpoint at every coupon purchase, the
customer stamp at the first purchase, coupon redemption counters equal to their purchases and
within their caps, one engagement row per campaign and day, refunds never before their
purchase and never more than it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from campaigns.changes import declare_changed
from campaigns.models import Campaign, Channel, Cost, Coupon, EngagementStat
from leads.bulk import BatchRefs
from leads.models import (
    STAGE_ORDER,
    Contact,
    ContactMerge,
    Purchase,
    Refund,
    Stage,
    StageChange,
    Touchpoint,
    Via,
)
from leads.rules import heard_channel_for, phone_e164

CENT = Decimal("0.01")
DAY = 86_400


@dataclass(frozen=True)
class ChannelProfile:
    """How a channel's contacts behave: conversion odds per step, delays, basket sizes."""

    weight: float  # share of new contacts sourced here
    to_lead: float
    to_qualified: float
    to_customer: float
    days_to_lead: float
    days_to_customer: float
    order: tuple[int, int]  # min, max order value
    repeat: float  # chance of each further purchase
    impressions: tuple[int, int]  # daily range, for the engagement stats
    engagement_rate: float


PROFILES: dict[str, ChannelProfile] = {
    # Pinterest sells (e-commerce), LinkedIn brings fewer, bigger B2B deals, slowly; X is talk.
    "pinterest": ChannelProfile(0.24, 0.30, 0.60, 0.75, 4, 9, (35, 120), 0.45, (3000, 9000), 0.035),
    "linkedin": ChannelProfile(
        0.10, 0.22, 0.55, 0.40, 9, 35, (400, 2400), 0.25, (1500, 5000), 0.020
    ),
    "x": ChannelProfile(0.25, 0.05, 0.30, 0.30, 6, 20, (25, 80), 0.15, (15000, 45000), 0.060),
    "instagram": ChannelProfile(
        0.15, 0.15, 0.50, 0.50, 5, 12, (30, 110), 0.35, (5000, 15000), 0.045
    ),
    "facebook": ChannelProfile(
        0.14, 0.15, 0.50, 0.55, 5, 14, (30, 130), 0.35, (4000, 12000), 0.030
    ),
    "email": ChannelProfile(0.12, 0.30, 0.50, 0.50, 3, 8, (30, 150), 0.45, (0, 0), 0.0),
}

CAMPAIGNS = [
    # name, channel, objective, start month offset, months, budget, coupon, tracking phone, targets
    ("Spring pins", "pinterest", "sales", 2, 4, 6000, ("PIN15", 15, None), None, (900, "12.00")),
    ("Holiday boards", "pinterest", "sales", 9, 3, 7000, ("HOLIDAY20", 20, 2500), None, None),
    (
        "B2B thought leadership",
        "linkedin",
        "leads",
        0,
        12,
        9000,
        ("LINKEDIN10", 10, None),
        None,
        (400, "35.00"),
    ),
    ("Webinar series", "linkedin", "leads", 4, 6, 4000, None, "+1 555 0100 200", (150, "40.00")),
    ("X conversations", "x", "engagement", 0, 12, 3000, ("XTALK5", 5, 300), None, None),
    ("Reels launch", "instagram", "awareness", 3, 5, 5000, ("INSTA10", 10, None), None, None),
    ("Retargeting", "facebook", "sales", 1, 10, 6500, ("FB12", 12, None), None, None),
    ("Monthly newsletter", "email", "sales", 0, 12, 1200, ("NEWS10", 10, None), None, None),
]

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Maria",
    "Ivan",
    "Noor",
    "Sofia",
    "Omar",
    "Lena",
    "Kai",
    "Yuki",
    "Chloe",
    "Mateo",
    "Aisha",
    "Elena",
    "Jonas",
    "Priya",
    "Diego",
    "Hana",
    "Leo",
    "Mia",
    "Tariq",
    "Zoe",
    "Nina",
    "Sam",
    "Ravi",
    "Iris",
    "Hugo",
    "Lara",
    "Felix",
    "Emma",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Garcia",
    "Petrov",
    "Haddad",
    "Rossi",
    "Khan",
    "Berg",
    "Tanaka",
    "Martin",
    "Lopez",
    "Novak",
    "Silva",
    "Meyer",
    "Okafor",
    "Dubois",
    "Nguyen",
    "Kowalski",
    "Larsen",
    "Costa",
    "Fischer",
    "Moreau",
    "Sato",
    "Ali",
    "Weber",
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Dunder",
    "Pied",
    "Piper",
    "Aperture",
    "Gringotts",
    "Oceanic",
    "Tyrell",
    "Monarch",
    "Nakatomi",
]
DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
EXTRA_KINDS = (
    "like",
    "comment",
    "share",
    "click",
    "visit",
    "visit",
    "click",
    "form",
    "message",
    "email",
)
TOUCHES_PER_CONTACT = 2.0  # extra touches beyond the first one, on average


@dataclass
class World:
    rng: random.Random
    start: dt.datetime
    end: dt.datetime
    channels: dict[str, Channel]
    campaigns: list[Campaign] = field(default_factory=list)
    coupons: dict[int, Coupon] = field(default_factory=dict)  # by campaign id
    coupon_pct: dict[int, int] = field(default_factory=dict)  # by coupon id
    redemptions: dict[int, int] = field(default_factory=dict)
    by_channel: dict[str, list[Campaign]] = field(default_factory=dict)
    # "How did you hear about us": drawn from a generator of their own, so the rest of the
    # data set is what it was before people were asked.
    heard_rng: random.Random = field(default_factory=random.Random)
    heard_refs: BatchRefs = field(default_factory=lambda: BatchRefs([]))


def _month_start(day: dt.date, offset: int) -> dt.date:
    month = day.month - 1 + offset
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 2))).quantize(CENT)


def _moment(rng: random.Random, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
    span = max((hi - lo).total_seconds(), 1)
    return (lo + dt.timedelta(seconds=int(rng.random() * span))).replace(microsecond=0)


def seed(
    *,
    contacts: int,
    seed_value: int,
    end: dt.date,
    batch_size: int = 5000,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, int]:
    """Write the demo data set; returns rows written per table."""
    rng = random.Random(seed_value)
    tz = timezone.get_current_timezone()
    if end > timezone.localdate():
        raise ValueError("The demo year must not end in the future.")
    year_start = dt.datetime.combine(end - dt.timedelta(days=364), dt.time.min, tzinfo=tz)
    # Nothing is dated in the future: a year that ends today ends now.
    year_end = min(
        dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=tz),
        timezone.now().replace(microsecond=0) - dt.timedelta(seconds=1),
    )
    world = World(
        rng=rng,
        start=year_start,
        end=year_end,
        channels={c.slug: c for c in Channel.objects.all()},
        heard_rng=random.Random(f"heard-{seed_value}"),
    )
    counts = {
        "campaigns": 0,
        "costs": 0,
        "coupons": 0,
        "engagement": 0,
        "contacts": 0,
        "touchpoints": 0,
        "purchases": 0,
        "refunds": 0,
        "stage_changes": 0,
    }
    with transaction.atomic():
        _campaigns(world, counts)
    done = 0
    while done < contacts:
        size = min(batch_size, contacts - done)
        with transaction.atomic():
            _contacts_batch(world, done, size, counts)
        done += size
        progress(f"{done:,} / {contacts:,} contacts")
    with transaction.atomic():
        coupons = list(world.coupons.values())
        for coupon in coupons:
            coupon.redemptions = world.redemptions.get(coupon.pk, 0)
        Coupon.objects.bulk_update(coupons, ["redemptions"])
        # Written in bulk rather than through the services: the whole year changed at once.
        declare_changed(moments=_days(year_start.date(), year_end.date()), catalogue=True)
    return counts


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def flush() -> None:
    """Delete every contact and campaign with what hangs on them (channels, aliases and users
    stay), children before parents, one DELETE per table, and declare the days they covered.

    `QuerySet.delete()` would first load every contact to cascade in Python (a million rows
    at benchmark size); deleting the dependants first leaves nothing to cascade, so the raw
    delete is safe, and a table we do not know about would still fail loudly on its FK.
    """
    with transaction.atomic():
        spans = [
            Contact.objects.aggregate(
                first=Min("entered_at"),
                last=Max("entered_at"),
                lead=Max("became_lead_at"),
                qualified=Max("became_qualified_at"),
                customer=Max("became_customer_at"),
            ),
            Touchpoint.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at")),
            Purchase.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at")),
            Cost.objects.aggregate(first=Min("incurred_on"), last=Max("incurred_on")),
            EngagementStat.objects.aggregate(first=Min("date"), last=Max("date")),
        ]
        ends = [
            timezone.localdate(v) if isinstance(v, dt.datetime) else v
            for span in spans
            for v in span.values()
            if v is not None
        ]
        for model in (ContactMerge, StageChange, Touchpoint, Refund, Purchase):
            model.objects.all()._raw_delete(connection.alias)
        Contact.objects.update(referred_by=None)
        for model in (Contact, EngagementStat, Cost, Coupon, Campaign):
            model.objects.all()._raw_delete(connection.alias)
        days = _days(min(ends), max(ends)) if ends else []
        declare_changed(moments=days, catalogue=True)


def _campaigns(world: World, counts: dict[str, int]) -> None:
    rng, first_day = world.rng, world.start.date()
    for name, slug, objective, offset, months, budget, coupon, phone, targets in CAMPAIGNS:
        starts_on = _month_start(first_day, offset)
        ends_on = min(
            _month_start(first_day, offset + months) - dt.timedelta(days=1), world.end.date()
        )
        campaign = Campaign.objects.create(
            name=name,
            channel=world.channels[slug],
            objective=objective,
            starts_on=starts_on,
            ends_on=ends_on,
            budget=Decimal(budget),
            tracking_phone=phone,
            utm_campaign=name.lower().replace(" ", "-"),
            target_leads=targets[0] if targets else None,
            target_cost_per_lead=Decimal(targets[1]) if targets else None,
        )
        world.campaigns.append(campaign)
        world.by_channel.setdefault(slug, []).append(campaign)
        counts["campaigns"] += 1
        if coupon:
            code, pct, cap = coupon
            valid_until = dt.datetime.combine(
                ends_on, dt.time(23, 59, 59), tzinfo=world.start.tzinfo
            )
            created = Coupon.objects.create(
                code=code,
                campaign=campaign,
                max_redemptions=cap,
                valid_from=dt.datetime.combine(starts_on, dt.time.min, tzinfo=world.start.tzinfo),
                valid_until=valid_until + dt.timedelta(days=30),
            )
            world.coupons[campaign.pk] = created
            world.coupon_pct[created.pk] = pct
            counts["coupons"] += 1
        costs, stats = [], []
        weekly = float(budget) / max((ends_on - starts_on).days / 7, 1) * 0.7
        day = starts_on
        while day <= ends_on:
            if day.weekday() == 0:
                costs.append(
                    Cost(
                        campaign=campaign,
                        incurred_on=day,
                        category=Cost.Category.AD_SPEND,
                        amount=_money(rng, weekly * 0.7, weekly * 1.3),
                        note="Weekly ad spend",
                    )
                )
            if day.day == 1:
                costs.append(
                    Cost(
                        campaign=campaign,
                        incurred_on=day,
                        category=Cost.Category.STAFF_TIME,
                        amount=_money(rng, 300, 900),
                        note="Social media manager, hours",
                    )
                )
                costs.append(
                    Cost(
                        campaign=campaign,
                        incurred_on=day,
                        category=Cost.Category.TOOLS,
                        amount=Decimal("49.00"),
                        note="Scheduling tool",
                    )
                )
            if day.day == 15 and rng.random() < 0.5:
                costs.append(
                    Cost(
                        campaign=campaign,
                        incurred_on=day,
                        category=Cost.Category.CONTENT,
                        amount=_money(rng, 150, 700),
                        note="Photo and video content",
                    )
                )
            profile = PROFILES[slug]
            if profile.impressions[1]:
                impressions = rng.randint(*profile.impressions)
                interactions = int(impressions * profile.engagement_rate * rng.uniform(0.6, 1.4))
                reactions = int(interactions * 0.6)
                comments = int(interactions * 0.1)
                shares = int(interactions * 0.1)
                stats.append(
                    EngagementStat(
                        campaign=campaign,
                        date=day,
                        impressions=impressions,
                        reach=int(impressions * rng.uniform(0.5, 0.8)),
                        reactions=reactions,
                        comments=comments,
                        shares=shares,
                        clicks=interactions - reactions - comments - shares,
                        followers_gained=int(interactions * rng.uniform(0.01, 0.05)),
                    )
                )
            day += dt.timedelta(days=1)
        Cost.objects.bulk_create(costs)
        EngagementStat.objects.bulk_create(stats)
        counts["costs"] += len(costs)
        counts["engagement"] += len(stats)


def _pick_source(world: World) -> tuple[str, Campaign | None]:
    rng = world.rng
    slug = rng.choices(list(PROFILES), weights=[p.weight for p in PROFILES.values()])[0]
    campaigns = world.by_channel.get(slug, [])
    if campaigns and rng.random() < 0.8:
        return slug, rng.choice(campaigns)
    return slug, None


def _window(world: World, campaign: Campaign | None) -> tuple[dt.datetime, dt.datetime]:
    if campaign is None:
        return world.start, world.end
    tz = world.start.tzinfo
    lo = dt.datetime.combine(campaign.starts_on, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(campaign.ends_on or world.end.date(), dt.time(23, 59, 59), tzinfo=tz)
    return max(lo, world.start), min(hi, world.end)


def _campaign_at(world: World, slug: str, at: dt.datetime) -> Campaign | None:
    """One of the channel's campaigns running at `at` (picked at random when they overlap)."""
    running = []
    for campaign in world.by_channel.get(slug, []):
        lo, hi = _window(world, campaign)
        if lo <= at <= hi:
            running.append(campaign)
    if len(running) > 1:
        return world.rng.choice(running)
    return running[0] if running else None


# What people answer to "how did you hear about us", per channel they name: mostly the channel
# that brought them (their first touch), sometimes another, or words that name none.
HEARD = {
    "facebook": ["Facebook", "saw an ad on facebook", "FB group"],
    "instagram": ["Instagram", "insta", "saw you on IG", "an Instagram reel"],
    "linkedin": ["LinkedIn", "a LinkedIn post"],
    "pinterest": ["Pinterest", "a pin"],
    "tiktok": ["TikTok", "a TikTok video"],
    "youtube": ["YouTube", "a YouTube review"],
    "email": ["your newsletter", "an email"],
}
HEARD_NONE = ["a friend", "word of mouth", "Google", "walked past the shop", "a podcast"]


def _heard(world: World, slug: str) -> str:
    """A contact's answer: two in five say nothing; of the rest, three in five name the channel
    they came from, the others another channel or words that name none."""
    rng = world.heard_rng
    roll = rng.random()
    if roll < 0.4:
        return ""
    if roll < 0.76 and slug in HEARD:
        return rng.choice(HEARD[slug])
    if roll < 0.88:
        return rng.choice(HEARD[rng.choice(list(HEARD))])
    return rng.choice(HEARD_NONE)


def _contacts_batch(world: World, offset: int, size: int, counts: dict[str, int]) -> None:
    rng = world.rng
    contacts: list[Contact] = []
    plans = []
    for i in range(offset, offset + size):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        walk_in = rng.random() < 0.006
        if walk_in:
            slug, campaign = "direct", None
            lo, hi = world.start, world.end
        else:
            slug, campaign = _pick_source(world)
            lo, hi = _window(world, campaign)
        entered = _moment(rng, lo, hi)
        stamps = {Stage.FOLLOWER: entered}
        stage = Stage.FOLLOWER
        if walk_in:
            stage = Stage.CUSTOMER
            stamps.update({Stage.LEAD: entered, Stage.QUALIFIED: entered, Stage.CUSTOMER: entered})
        else:
            profile = PROFILES[slug]
            at = entered
            for target, odds, mean_days in (
                (Stage.LEAD, profile.to_lead, profile.days_to_lead),
                (Stage.QUALIFIED, profile.to_qualified, profile.days_to_lead),
                (Stage.CUSTOMER, profile.to_customer, profile.days_to_customer),
            ):
                if rng.random() >= odds:
                    break
                at = (
                    at + dt.timedelta(seconds=int(rng.expovariate(1 / (mean_days * DAY))))
                ).replace(microsecond=0)
                if at > world.end:
                    break
                stage, stamps[target] = target, at
        b2b = slug == "linkedin"
        heard = _heard(world, slug)
        phone = f"+1555{i:07d}" if rng.random() < 0.3 else ""
        contacts.append(
            Contact(
                email=f"{first}.{last}.{i}@{rng.choice(DOMAINS)}".lower(),
                first_name=first,
                last_name=last,
                handle=f"@{first.lower()}{last.lower()}{i}" if rng.random() < 0.6 else "",
                company=f"{rng.choice(COMPANIES)} {'Ltd' if b2b else 'Shop'}"
                if b2b or rng.random() < 0.1
                else "",
                phone=phone,
                phone_e164=phone_e164(phone),
                stage=stage,
                source_channel=None if walk_in else world.channels[slug],
                source_campaign=campaign,
                coupon=None,
                entered_at=entered,
                became_lead_at=stamps.get(Stage.LEAD),
                became_qualified_at=stamps.get(Stage.QUALIFIED),
                became_customer_at=stamps.get(Stage.CUSTOMER),
                heard_about=heard,
                heard_channel=heard_channel_for(heard, world.heard_refs),
            )
        )
        plans.append((slug, campaign, walk_in, stamps))
    Contact.objects.bulk_create(contacts, batch_size=2000)
    counts["contacts"] += len(contacts)

    touches: list[Touchpoint] = []
    changes: list[StageChange] = []
    purchases: list[Purchase] = []
    tagged: list[Contact] = []
    for contact, (slug, campaign, walk_in, stamps) in zip(contacts, plans, strict=True):
        reached = [s for s in STAGE_ORDER if s in stamps]
        changes.append(
            StageChange(
                contact=contact,
                from_stage="",
                to_stage=reached[0] if not walk_in else Stage.CUSTOMER,
                at=contact.entered_at,
                via=Via.IMPORT,
            )
        )
        if not walk_in:
            for before, after in itertools.pairwise(reached):
                changes.append(
                    StageChange(
                        contact=contact,
                        from_stage=before,
                        to_stage=after,
                        at=stamps[after],
                        via=Via.IMPORT,
                    )
                )
            touches.append(
                Touchpoint(
                    contact=contact,
                    channel=world.channels[slug],
                    campaign=campaign,
                    kind=Touchpoint.Kind.FOLLOW,
                    occurred_at=contact.entered_at,
                    source=slug,
                )
            )
            last = stamps.get(Stage.CUSTOMER) or world.end
            for _ in range(_poisson(rng, TOUCHES_PER_CONTACT)):
                other = slug if rng.random() < 0.5 else rng.choice(list(PROFILES))
                at = _moment(rng, contact.entered_at, last)
                on = _campaign_at(world, other, at)
                kind = rng.choice(EXTRA_KINDS)
                if on is not None and on.tracking_phone and rng.random() < 0.3:
                    kind = Touchpoint.Kind.CALL
                touches.append(
                    Touchpoint(
                        contact=contact,
                        channel=world.channels[other],
                        campaign=on,
                        kind=kind,
                        occurred_at=at,
                        source=other,
                    )
                )
        if Stage.CUSTOMER in stamps:
            at = stamps[Stage.CUSTOMER]
            profile = PROFILES.get(slug)
            low, high = profile.order if profile else (20, 90)
            while at <= world.end:
                purchase = Purchase(contact=contact, amount=_money(rng, low, high), occurred_at=at)
                coupon = world.coupons.get(campaign.pk) if campaign else None
                if coupon is not None and rng.random() < 0.5 and _coupon_ok(world, coupon, at):
                    pct = world.coupon_pct[coupon.pk]
                    gross = purchase.amount
                    purchase.discount = (gross * pct / 100).quantize(CENT)
                    purchase.amount = gross - purchase.discount
                    purchase.coupon = coupon
                    world.redemptions[coupon.pk] = world.redemptions.get(coupon.pk, 0) + 1
                    touches.append(
                        Touchpoint(
                            contact=contact,
                            channel_id=coupon.campaign.channel_id,
                            campaign=coupon.campaign,
                            kind=Touchpoint.Kind.COUPON,
                            occurred_at=at,
                            source=coupon.code,
                        )
                    )
                    if contact.coupon_id is None:
                        contact.coupon = coupon
                        tagged.append(contact)
                purchases.append(purchase)
                if rng.random() >= profile_repeat(profile):
                    break
                at = (at + dt.timedelta(seconds=int(rng.expovariate(1 / (30 * DAY))))).replace(
                    microsecond=0
                )
    Touchpoint.objects.bulk_create(touches, batch_size=5000)
    StageChange.objects.bulk_create(changes, batch_size=5000)
    Purchase.objects.bulk_create(purchases, batch_size=5000)
    refunds = _refunds(world, offset, purchases)
    Refund.objects.bulk_create(refunds, batch_size=5000)
    counts["refunds"] += len(refunds)
    if tagged:
        Contact.objects.bulk_update(tagged, ["coupon"], batch_size=2000)
    counts["touchpoints"] += len(touches)
    counts["stage_changes"] += len(changes)
    counts["purchases"] += len(purchases)


# About one order in 25 is given back: half of those in full, the others in part, within
# three weeks of the purchase (never after the demo year's end, so never in the future).
REFUND_RATE = 0.04


def _refunds(world: World, offset: int, purchases: list[Purchase]) -> list[Refund]:
    """Refunds of some of a batch's purchases (saved, so with their ids). Their own random
    sequence, seeded by the batch, so the rest of the data set is the same with or without
    them."""
    rng = random.Random(f"refunds-{offset}-{len(purchases)}")
    refunds = []
    for purchase in purchases:
        if rng.random() >= REFUND_RATE:
            continue
        share = Decimal(1) if rng.random() < 0.5 else Decimal(rng.choice(("0.25", "0.5")))
        amount = (purchase.amount * share).quantize(CENT)
        if amount <= 0:
            continue
        delay = dt.timedelta(seconds=int(rng.random() * 21 * DAY))
        at = min(purchase.occurred_at + delay, world.end)
        refunds.append(Refund(purchase=purchase, amount=amount, occurred_at=at, via="system"))
    return refunds


def profile_repeat(profile: ChannelProfile | None) -> float:
    return profile.repeat if profile else 0.2


def _coupon_ok(world: World, coupon: Coupon, at: dt.datetime) -> bool:
    if coupon.valid_from and at < coupon.valid_from:
        return False
    if coupon.valid_until and at > coupon.valid_until:
        return False
    used = world.redemptions.get(coupon.pk, 0)
    return coupon.max_redemptions is None or used < coupon.max_redemptions


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; small means only.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
