"""Channel resolution, coupon look-up and the engagement upsert."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models.functions import Lower

from campaigns.errors import InvalidInput
from campaigns.models import (
    Campaign,
    Channel,
    ChannelAlias,
    Coupon,
    EngagementStat,
    normalize_phone,
)

ENGAGEMENT_FIELDS = (
    "impressions",
    "reach",
    "reactions",
    "comments",
    "shares",
    "clicks",
    "followers_gained",
)


def normalize_source(source: str | None) -> str:
    """Lower-case a utm_source or referrer, reduced to its host when it is a URL."""
    value = (source or "").strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    elif "/" in value:
        value = value.split("/", 1)[0]
    return value


def channel_resolve(*, source: str | None) -> Channel:
    """The channel a source names: a slug, a known alias, else `referral` (or `direct` if empty).

    The caller keeps the verbatim source on the touchpoint, so an unknown source is never lost.
    """
    key = normalize_source(source)
    if not key:
        return Channel.objects.get(slug="direct")
    channel = Channel.objects.filter(slug=key).first()
    if channel is None:
        alias = ChannelAlias.objects.select_related("channel").filter(alias=key).first()
        channel = alias.channel if alias else Channel.objects.get(slug="referral")
    return channel


def channel_by_slug(slug: str, *, field: str = "channel") -> Channel:
    channel = Channel.objects.filter(slug=(slug or "").strip().lower()).first()
    if channel is None:
        raise InvalidInput(f"Unknown channel {slug!r}.", field=field)
    return channel


def coupon_by_code(code: str, *, field: str = "coupon", lock: bool = False) -> Coupon:
    """The coupon whose code matches case-insensitively (`link10` finds `LINK10`)."""
    queryset = Coupon.objects.select_related("campaign__channel").annotate(code_lower=Lower("code"))
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    coupon = queryset.filter(code_lower=(code or "").strip().lower()).first()
    if coupon is None:
        raise InvalidInput(f"Unknown coupon code {code!r}.", field=field)
    return coupon


def campaign_by_tracking_phone(phone: str, *, field: str = "tracking_phone") -> Campaign:
    campaign = (
        Campaign.objects.select_related("channel")
        .filter(tracking_phone=normalize_phone(phone) or None)
        .first()
    )
    if campaign is None:
        raise InvalidInput(f"No campaign uses the tracking phone {phone!r}.", field=field)
    return campaign


def campaign_by_utm(*, utm_campaign: str, channel: Channel | None) -> Campaign | None:
    """The campaign tagged with this utm_campaign, preferring one on the given channel."""
    value = (utm_campaign or "").strip()
    if not value:
        return None
    candidates = Campaign.objects.select_related("channel").filter(utm_campaign__iexact=value)
    if channel is not None:
        on_channel = candidates.filter(channel=channel).order_by("-starts_on", "-id").first()
        if on_channel is not None:
            return on_channel
    return candidates.order_by("-starts_on", "-id").first()


def engagement_upsert(*, campaign: Campaign, date: dt.date, **figures: int) -> EngagementStat:
    """Write one campaign-day of engagement; a second write for the same day replaces the first.

    One INSERT .. ON CONFLICT DO UPDATE, so two writers for the same day cannot both insert.
    """
    unknown = set(figures) - set(ENGAGEMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown engagement figures: {', '.join(sorted(unknown))}.")
    values = {name: int(figures.get(name) or 0) for name in ENGAGEMENT_FIELDS}
    for name, value in values.items():
        if value < 0:
            raise InvalidInput("Must not be negative.", field=name)
    from reports.services import mark_stale_for  # reports build on campaigns, not the reverse

    with transaction.atomic():
        EngagementStat.objects.bulk_create(
            [EngagementStat(campaign=campaign, date=date, **values)],
            update_conflicts=True,
            unique_fields=["campaign", "date"],
            update_fields=list(ENGAGEMENT_FIELDS),
        )
        row = EngagementStat.objects.get(campaign=campaign, date=date)
    mark_stale_for(date)
    return row
