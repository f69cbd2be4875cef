"""An independent, straightforward implementation of SPEC §3, for checking the reports.

It reads the rows (channels, campaigns, coupons, contacts, touchpoints, purchases, costs,
engagement) and computes every ROI and funnel figure in plain Python, one purchase and one
touch at a time: exact fractions for money and the integer models' weights, `math.pow` floats
for time decay. It shares no code with `reports/` (its own period bounds, rounding and keys),
so a figure on which both agree was computed twice, two different ways.

SPEC §3 in short, as applied here:
- A period is the local days start..end (both inclusive) in the time zone given.
- A purchase P's touches: the contact's touchpoints at or before P within the lookback
  (P - lookback days <= t <= P), plus its first touchpoint ever when at or before P. Touches
  are ordered by time, a coupon touch last at its instant, then by id; "first" and "last" are
  the ends of that order.
- Shares of P's cents: each floored, the remainder cents to the largest exact share (the
  earliest on a tie). No touch: all to the unattributed row.
- Customers: a contact whose first purchase ever (by time, then id) is in the period counts
  once, split by that purchase's exact weights.
- Assists: a group with a touch of P that is not the group of P's last touch; the totals count
  each purchase with any assisting group once.
- followers / leads / qualified (and the funnel's customers): contacts by the stamp, to their
  source group (contact.source_channel / source_campaign; no channel: unattributed).
- Discounts: to the coupon's campaign; without a coupon, unattributed.
- Refunds: a purchase's cents are its amount less all its refunds (whenever made); that net
  is what its shares split and what its assists count. A fully refunded first purchase still
  makes a customer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from campaigns.models import Campaign, Channel, Cost, Coupon, EngagementStat
from leads.models import Contact, Purchase, Refund, Touchpoint

MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "position_based",
    "time_decay",
    "w_shaped",
    "full_path",
)
# The stage-aware models: each milestone's share (first touch, last touch at or before the lead
# stamp, at or before the qualified stamp, and under full path the last touch), and the rest's.
MILESTONE_SHARES = {"w_shaped": Fraction(3, 10), "full_path": Fraction(9, 40)}
REST_SHARE = Fraction(1, 10)
UNATTRIBUTED = "unattributed"
HALF_LIFE_DAYS = 7
# A float share this close below a whole cent is that cent (time decay only): the exact share of
# equal weights (three touches at one instant, 3 cents) is whole, its float a hair below.
FLOAT_SLACK = 1e-9


# --- rounding: half up (away from zero), from the exact value --------------------------------


def rounded(value: Fraction | int, places: int) -> str:
    value = Fraction(value)
    scaled = abs(value) * 10**places
    whole = int(scaled)
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    text = str(whole).rjust(places + 1, "0")
    text = f"{text[:-places]}.{text[-places:]}" if places else text
    return f"-{text}" if value < 0 and whole else text


def money_text(value: Fraction | int) -> str:
    return rounded(value, 2)


def divided(numerator: Fraction | int, denominator: Fraction | int, places: int) -> str | None:
    if denominator == 0:
        return None
    return rounded(Fraction(numerator) / Fraction(denominator), places)


# --- the rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Touch:
    id: int
    at: dt.datetime
    is_coupon: bool
    channel_id: int
    campaign_id: int | None

    @property
    def order(self) -> tuple:
        return (self.at, self.is_coupon, self.id)


@dataclass
class Rows:
    slugs: dict[int, str]
    channel_names: dict[int, str]
    campaigns: dict[int, Campaign]
    coupon_campaign: dict[int, int]
    contacts: list[Contact]
    touches: dict[int, list[Touch]]
    purchases: list[Purchase]
    refunded_cents: dict[int, int]  # purchase id: what its refunds come to
    costs: list[Cost]
    engagement: list[EngagementStat]


def refunded_cents() -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for refund in Refund.objects.all():
        out[refund.purchase_id] += int(refund.amount * 100)
    return out


def load() -> Rows:
    touches: dict[int, list[Touch]] = defaultdict(list)
    for t in Touchpoint.objects.all():
        touches[t.contact_id].append(
            Touch(t.id, t.occurred_at, t.kind == "coupon", t.channel_id, t.campaign_id)
        )
    for contact_touches in touches.values():
        contact_touches.sort(key=lambda t: t.order)
    channels = list(Channel.objects.all())
    return Rows(
        slugs={c.id: c.slug for c in channels},
        channel_names={c.id: c.name for c in channels},
        campaigns={c.id: c for c in Campaign.objects.all()},
        coupon_campaign=dict(Coupon.objects.values_list("id", "campaign_id")),
        contacts=list(Contact.objects.all()),
        touches=touches,
        purchases=list(Purchase.objects.all()),
        refunded_cents=refunded_cents(),
        costs=list(Cost.objects.all()),
        engagement=list(EngagementStat.objects.all()),
    )


# --- the figures -------------------------------------------------------------------------------


@dataclass
class Group:
    cost: Fraction = Fraction(0)
    cents: int = 0
    customers: Fraction = Fraction(0)
    followers: int = 0
    leads: int = 0
    qualified: int = 0
    customers_stamped: int = 0  # the funnel's customers: became_customer_at in the period
    assists: int = 0
    assisted_cents: int = 0
    impressions: int = 0
    interactions: int = 0
    followers_gained: int = 0
    discounts: Fraction = Fraction(0)
    cohort: list[Contact] = field(default_factory=list)


def bounds(start: dt.date, end: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    tz = ZoneInfo(zone)
    return (
        dt.datetime.combine(start, dt.time(0), tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=tz),
    )


def weights(
    model: str, touches: list[Touch], at: dt.datetime, contact: Contact | None = None
) -> list:
    """Each touch's exact share of the purchase: Fractions, or floats under time decay."""
    n = len(touches)
    if model in MILESTONE_SHARES:
        return stage_weights(model, touches, contact)
    if model == "first_touch":
        return [Fraction(1 if i == 0 else 0) for i in range(n)]
    if model == "last_touch":
        return [Fraction(1 if i == n - 1 else 0) for i in range(n)]
    if model == "linear":
        return [Fraction(1, n)] * n
    if model == "position_based":
        if n <= 2:
            return [Fraction(1, n)] * n
        return [Fraction(2, 5) if i in (0, n - 1) else Fraction(1, 5 * (n - 2)) for i in range(n)]
    decayed = [
        math.pow(2.0, -((at - t.at).total_seconds() / 86400) / HALF_LIFE_DAYS) for t in touches
    ]
    total = sum(decayed)
    return [w / total for w in decayed]


def stage_weights(model: str, touches: list[Touch], contact: Contact) -> list[Fraction]:
    """A share to each milestone touch (a touch that is two milestones takes both), the rest's
    share split equally among the other touches (dropped when there are none), normalised."""

    def last_at_or_before(stamp: dt.datetime | None) -> int:
        found = [i for i, t in enumerate(touches) if stamp is not None and t.at <= stamp]
        return found[-1] if found else 0

    lead = last_at_or_before(contact.became_lead_at)
    qualified = max(last_at_or_before(contact.became_qualified_at), lead)
    milestones = [0, lead, qualified] + ([len(touches) - 1] if model == "full_path" else [])
    shares = [Fraction(0)] * len(touches)
    for i in milestones:
        shares[i] += MILESTONE_SHARES[model]
    rest = [i for i in range(len(touches)) if i not in milestones]
    for i in rest:
        shares[i] += REST_SHARE / len(rest)
    total = sum(shares)
    return [share / total for share in shares]


def cents_shares(model: str, cents: int, shares: list) -> list[int]:
    """Each share floored to the cent; the remainder to the largest exact share, the earliest
    on a tie."""
    if model == "time_decay":
        floors = [math.floor(cents * s + FLOAT_SLACK) for s in shares]
    else:
        floors = [math.floor(cents * s) for s in shares]
    largest = max(range(len(shares)), key=lambda i: (shares[i], -i))
    floors[largest] += cents - sum(floors)
    return floors


class Oracle:
    """Every figure of a period, for one time zone and lookback."""

    def __init__(self, rows: Rows, *, start: dt.date, end: dt.date, zone: str, lookback: int):
        self.rows, self.start, self.end, self.lookback = rows, start, end, lookback
        self.lo, self.hi = bounds(start, end, zone)
        self.contacts = {c.id: c for c in rows.contacts}

    def inside(self, moment: dt.datetime | None) -> bool:
        return moment is not None and self.lo <= moment < self.hi

    # keys

    def key(self, group_by: str, channel_id: int | None, campaign_id: int | None) -> str:
        if channel_id is None:
            return UNATTRIBUTED
        if group_by == "channel":
            return self.rows.slugs[channel_id]
        if campaign_id is None:
            return f"none:{self.rows.slugs[channel_id]}"
        return str(campaign_id)

    def describe(self, group_by: str, key: str) -> dict:
        if key == UNATTRIBUTED:
            return {"label": "Unattributed", "channel": None}
        if group_by == "channel":
            channel_id = next(i for i, s in self.rows.slugs.items() if s == key)
            return {"label": self.rows.channel_names[channel_id], "channel": key}
        if key.startswith("none:"):
            channel_id = next(i for i, s in self.rows.slugs.items() if s == key[5:])
            return {
                "label": f"{self.rows.channel_names[channel_id]} (no campaign)",
                "channel": key[5:],
            }
        campaign = self.rows.campaigns[int(key)]
        return {"label": campaign.name, "channel": self.rows.slugs[campaign.channel_id]}

    # attribution

    def purchase_touches(self, purchase: Purchase) -> list[Touch]:
        everything = self.rows.touches.get(purchase.contact_id, [])
        first = everything[0] if everything and everything[0].at <= purchase.occurred_at else None
        edge = purchase.occurred_at - dt.timedelta(days=self.lookback)
        return [
            t for t in everything if t.at <= purchase.occurred_at and (t.at >= edge or t is first)
        ]

    def first_purchases(self) -> set[int]:
        first: dict[int, Purchase] = {}
        for p in self.rows.purchases:
            known = first.get(p.contact_id)
            if known is None or (p.occurred_at, p.id) < (known.occurred_at, known.id):
                first[p.contact_id] = p
        return {p.id for p in first.values()}

    def roi(self, model: str, group_by: str) -> dict:
        """{"rows": {key: figures}, "totals": figures, "exact": {key: customers}}."""
        groups: dict[str, Group] = defaultdict(Group)
        total = Group()
        firsts = self.first_purchases()
        for p in self.rows.purchases:
            if not self.inside(p.occurred_at):
                continue
            cents = int(p.amount * 100) - self.rows.refunded_cents.get(p.id, 0)
            total.cents += cents
            total.discounts += Fraction(p.discount)
            if p.discount:
                coupon_campaign = self.rows.coupon_campaign.get(p.coupon_id)
                channel = self.rows.campaigns[coupon_campaign].channel_id if p.coupon_id else None
                groups[self.key(group_by, channel, coupon_campaign)].discounts += Fraction(
                    p.discount
                )
            is_first = p.id in firsts
            total.customers += 1 if is_first else 0
            touches = self.purchase_touches(p)
            if not touches:
                groups[UNATTRIBUTED].cents += cents
                groups[UNATTRIBUTED].customers += 1 if is_first else 0
                continue
            shares = weights(model, touches, p.occurred_at, self.contacts[p.contact_id])
            for touch, share, credit in zip(
                touches, shares, cents_shares(model, cents, shares), strict=True
            ):
                group = groups[self.key(group_by, touch.channel_id, touch.campaign_id)]
                group.cents += credit
                if is_first:
                    group.customers += Fraction(share)
            last = touches[-1]
            closer = self.key(group_by, last.channel_id, last.campaign_id)
            assisting = {self.key(group_by, t.channel_id, t.campaign_id) for t in touches}
            assisting.discard(closer)
            for key in assisting:
                groups[key].assists += 1
                groups[key].assisted_cents += cents
            if assisting:
                total.assists += 1
                total.assisted_cents += cents
        self._catalogue_figures(group_by, groups, total)
        # Every new customer is credited whole, however it is split (floats: to a hair).
        credited = sum((g.customers for g in groups.values()), Fraction(0))
        assert abs(credited - total.customers) < Fraction(1, 10**9), (credited, total.customers)
        return {
            "rows": {
                key: {**self.describe(group_by, key), **self._roi_figures(g), **self._targets(key)}
                for key, g in groups.items()
            },
            "totals": {
                **self._roi_figures(total),
                "target_leads": None,
                "target_cost_per_lead": None,
            },
            "exact": {key: (g.customers, g.cost) for key, g in groups.items()},
        }

    def _catalogue_figures(self, group_by: str, groups: dict, total: Group) -> None:
        for cost in self.rows.costs:
            if self.start <= cost.incurred_on <= self.end:
                campaign = self.rows.campaigns[cost.campaign_id]
                groups[self.key(group_by, campaign.channel_id, campaign.id)].cost += Fraction(
                    cost.amount
                )
                total.cost += Fraction(cost.amount)
        for stat in self.rows.engagement:
            if self.start <= stat.date <= self.end:
                campaign = self.rows.campaigns[stat.campaign_id]
                for target in (groups[self.key(group_by, campaign.channel_id, campaign.id)], total):
                    target.impressions += stat.impressions
                    target.interactions += (
                        stat.reactions + stat.comments + stat.shares + stat.clicks
                    )
                    target.followers_gained += stat.followers_gained
        for contact in self.rows.contacts:
            key = self.key(group_by, contact.source_channel_id, contact.source_campaign_id)
            for target in (groups[key], total):
                target.followers += self.inside(contact.entered_at)
                target.leads += self.inside(contact.became_lead_at)
                target.qualified += self.inside(contact.became_qualified_at)

    def _targets(self, key: str) -> dict:
        campaign = self.rows.campaigns.get(int(key)) if key.isdigit() else None
        if campaign is None:
            return {"target_leads": None, "target_cost_per_lead": None}
        target = campaign.target_cost_per_lead
        return {
            "target_leads": campaign.target_leads,
            "target_cost_per_lead": None if target is None else money_text(Fraction(target)),
        }

    @staticmethod
    def _roi_figures(g: Group) -> dict:
        revenue = Fraction(g.cents, 100)
        return {
            "cost": money_text(g.cost),
            "revenue": money_text(revenue),
            "roi": divided(revenue - g.cost, g.cost, 4),
            "roas": divided(revenue, g.cost, 4),
            "followers": g.followers,
            "leads": g.leads,
            "qualified": g.qualified,
            "customers": rounded(g.customers, 2),
            "cost_per_lead": divided(g.cost, g.leads, 2),
            "cost_per_customer": divided(g.cost, g.customers, 2),
            "assisted_conversions": g.assists,
            "assisted_revenue": money_text(Fraction(g.assisted_cents, 100)),
            "impressions": g.impressions,
            "interactions": g.interactions,
            "engagement_rate": divided(g.interactions, g.impressions, 4),
            "followers_gained": g.followers_gained,
            "discounts": money_text(g.discounts),
        }

    # funnel

    def funnel(self, group_by: str) -> dict:
        groups: dict[str, Group] = defaultdict(Group)
        total = Group()
        for contact in self.rows.contacts:
            key = self.key(group_by, contact.source_channel_id, contact.source_campaign_id)
            for target in (groups[key], total):
                target.followers += self.inside(contact.entered_at)
                target.leads += self.inside(contact.became_lead_at)
                target.qualified += self.inside(contact.became_qualified_at)
                target.customers_stamped += self.inside(contact.became_customer_at)
                if self.inside(contact.entered_at):
                    target.cohort.append(contact)
        return {
            "rows": {
                key: {**self.describe(group_by, key), **self._funnel_figures(g)}
                for key, g in groups.items()
                if g.followers or g.leads or g.qualified or g.customers_stamped
            },
            "totals": self._funnel_figures(total),
        }

    @staticmethod
    def _funnel_figures(g: Group) -> dict:
        size = len(g.cohort)
        lead = [c for c in g.cohort if c.became_lead_at is not None]
        customer = [c for c in g.cohort if c.became_customer_at is not None]
        return {
            "followers": g.followers,
            "leads": g.leads,
            "qualified": g.qualified,
            "customers": g.customers_stamped,
            "cohort_size": size,
            "reached_lead_share": divided(len(lead), size, 4),
            "reached_customer_share": divided(len(customer), size, 4),
            "median_days_to_lead": median_days([c.became_lead_at - c.entered_at for c in lead]),
            "median_days_to_customer": median_days(
                [c.became_customer_at - c.entered_at for c in customer]
            ),
        }


def median_days(durations: list[dt.timedelta]) -> str | None:
    if not durations:
        return None
    days = sorted(Fraction(d // dt.timedelta(microseconds=1), 86_400_000_000) for d in durations)
    middle = len(days) // 2
    value = days[middle] if len(days) % 2 else (days[middle - 1] + days[middle]) / 2
    return rounded(value, 2)


def near_a_half(value: Fraction, places: int, slack: Fraction = Fraction(1, 10**9)) -> bool:
    """Whether `value` lies within `slack` (relative) of a rounding boundary at `places`: a
    double-precision sum summed in another order may round to the other side there."""
    scaled = abs(value) * 10**places
    distance = abs(scaled - math.floor(scaled) - Fraction(1, 2))
    return distance <= slack * max(scaled, Fraction(1))


def as_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
