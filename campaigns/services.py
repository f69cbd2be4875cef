"""The marketers' side: channel resolution, the catalogue (channels, aliases, campaigns,
coupons), costs and engagement. Every write of them goes through here, whatever the door (API,
admin, imports), and declares what it changed (`campaigns.changes`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Model, ProtectedError

from campaigns.changes import declare_changed
from campaigns.errors import Conflict, InvalidInput
from campaigns.models import (
    DEFAULT_CHANNEL_SLUGS,
    Campaign,
    CampaignAlias,
    Channel,
    ChannelAlias,
    Cost,
    Coupon,
    EngagementStat,
    is_future,
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


def campaign_by_tracking_phone(phone: str, *, field: str = "tracking_phone") -> Campaign:
    campaign = (
        Campaign.objects.select_related("channel")
        .filter(tracking_phone=normalize_phone(phone) or None)
        .first()
    )
    if campaign is None:
        raise InvalidInput(f"No campaign uses the tracking phone {phone!r}.", field=field)
    return campaign


def not_after_today(day: dt.date, *, field: str) -> dt.date:
    """A cost or an engagement day is today at the latest (`is_future`)."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidInput("Must be a date.", field=field)
    if is_future(day):
        raise InvalidInput("Must not be in the future.", field=field)
    return day


def _assign(instance: Model, fields: dict[str, Any]) -> set[str]:
    """Set `fields` on `instance`; returns the names whose value changed."""
    changed = set()
    for name, value in fields.items():
        if getattr(instance, name) != value:
            changed.add(name)
        setattr(instance, name, value)
    return changed


def _delete(instance: Model, refusal: str) -> None:
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError:
        raise Conflict(refusal) from None


# --- channels and aliases ---------------------------------------------------------------------

# What the report rows show of a channel and of a campaign (labels, grouping, targets).
CHANNEL_SHOWN = {"slug", "name"}
CAMPAIGN_SHOWN = {"name", "channel", "target_leads", "target_cost_per_lead"}


def channel_save(*, channel: Channel | None = None, **fields: Any) -> Channel:
    """Create a channel, or change one; a new name or slug changes what reports show. A default
    channel keeps its slug (integrations send it); its name and kind may change."""
    with transaction.atomic():
        if channel is None:
            channel = Channel(**fields)
            channel.save()
            return channel
        stored = Channel.objects.select_for_update().get(pk=channel.pk)
        if stored.slug in DEFAULT_CHANNEL_SLUGS and fields.get("slug", stored.slug) != stored.slug:
            raise InvalidInput(
                f"{stored.slug} is a default channel: integrations send its slug, so it cannot "
                "change (its name can).",
                field="slug",
            )
        _assign(channel, fields)
        channel.save()
        declare_changed(
            catalogue=any(getattr(stored, n) != getattr(channel, n) for n in CHANNEL_SHOWN)
        )
    return channel


def channel_delete(*, channel: Channel) -> None:
    """A channel with campaigns, contacts or touches cannot go (it has figures), nor can a
    default channel (integrations send its slug, and unknown sources fall to two of them)."""
    if Channel.objects.filter(pk=channel.pk, slug__in=DEFAULT_CHANNEL_SLUGS).exists():
        raise Conflict(f"{channel.slug} is a default channel; it cannot be deleted.")
    _delete(channel, f"Channel {channel.slug} has campaigns, contacts or touches; it stays.")


def alias_save(*, alias: ChannelAlias | None = None, **fields: Any) -> ChannelAlias:
    """An alias only steers sources that arrive from now on: no reported figure changes."""
    if alias is None:
        alias = ChannelAlias(**fields)
    else:
        _assign(alias, fields)
    with transaction.atomic():
        alias.save()
    return alias


def campaign_names_keep(*, platform: str, names: Iterable[str]) -> None:
    """Keep an ad platform's campaign names that matched none of ours, unmapped, for a user to
    map once in the admin; names already kept are left as they are. Names steer later imports
    only: no reported figure changes."""
    CampaignAlias.objects.bulk_create(
        [
            CampaignAlias(platform=platform, name=name.strip(), name_key=name.strip().lower())
            for name in {n.strip().lower(): n for n in names if n.strip()}.values()
        ],
        ignore_conflicts=True,
    )


def campaign_name_save(*, alias: CampaignAlias | None = None, **fields: Any) -> CampaignAlias:
    """Map (or add) an ad platform's campaign name: later imports of that platform take it as
    the campaign; costs imported before stay where they were put."""
    if alias is None:
        alias = CampaignAlias(**fields)
    else:
        _assign(alias, fields)
    alias.name = alias.name.strip()
    alias.name_key = alias.name.lower()
    with transaction.atomic():
        alias.save()
    return alias


def campaign_name_delete(*, alias: CampaignAlias) -> None:
    with transaction.atomic():
        alias.delete()


def alias_delete(*, alias: ChannelAlias) -> None:
    with transaction.atomic():
        alias.delete()


# --- campaigns and coupons --------------------------------------------------------------------


def campaign_create(**fields: Any) -> Campaign:
    """A new campaign has no figures yet: nothing reported changes."""
    campaign = Campaign(**fields)
    with transaction.atomic():
        campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, **fields: Any) -> Campaign:
    """Change a campaign. Its channel may change only while no touch or contact is on it (they
    carry their channel), since its figures would split over two channels; a new name, channel
    or target changes what every report shows."""
    with transaction.atomic():
        stored = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _assign(campaign, fields)
        if campaign.channel_id != stored.channel_id and (
            campaign.touchpoints.exists() or campaign.contacts.exists()
        ):
            raise Conflict(
                f"Campaign {stored.name!r} has touches or contacts on {stored.channel.slug}; "
                "its channel cannot change.",
                field="channel",
            )
        campaign.save()
        shown = {n for n in CAMPAIGN_SHOWN if getattr(stored, n) != getattr(campaign, n)}
        declare_changed(catalogue=bool(shown))
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign with no contacts, touches or coupons; its costs and engagement go too."""
    with transaction.atomic():
        days = [
            *campaign.costs.values_list("incurred_on", flat=True),
            *campaign.engagement.values_list("date", flat=True),
        ]
        _delete(
            campaign,
            f"Campaign {campaign.name!r} has contacts, touchpoints or coupons; "
            "it cannot be deleted.",
        )
        declare_changed(moments=days, catalogue=True)


def coupon_save(*, coupon: Coupon | None = None, **fields: Any) -> Coupon:
    """Create or change a coupon. Once used, its campaign is fixed: the discounts it gave and
    the coupon touches it recorded belong to that campaign. No reported figure changes."""
    with transaction.atomic():
        if coupon is None:
            coupon = Coupon(**fields)
        else:
            stored = Coupon.objects.select_for_update().get(pk=coupon.pk)
            _assign(coupon, fields)
            if coupon.campaign_id != stored.campaign_id and (
                stored.redemptions or coupon.purchases.exists() or coupon.contacts.exists()
            ):
                raise Conflict(
                    f"Coupon {stored.code} was used; its campaign cannot change.",
                    field="campaign",
                )
        coupon.save()
    return coupon


def coupon_delete(*, coupon: Coupon) -> None:
    _delete(coupon, "The coupon was used; deactivate it instead of deleting it.")


# --- costs ------------------------------------------------------------------------------------


def _cost_checked(cost: Cost) -> Cost:
    not_after_today(cost.incurred_on, field="incurred_on")
    if cost.amount is None or Decimal(cost.amount) < 0:
        raise InvalidInput("Must not be negative.", field="amount")
    return cost


def cost_create(**fields: Any) -> Cost:
    """Record what a campaign cost on a day (a past day's cost is late data for its reports)."""
    cost = _cost_checked(Cost(**fields))
    with transaction.atomic():
        cost.save()
        declare_changed(moments=[cost.incurred_on])
    return cost


def cost_update(*, cost: Cost, **fields: Any) -> Cost:
    """Change a cost: the day it left and the day it moved to both change."""
    with transaction.atomic():
        stored = Cost.objects.select_for_update().get(pk=cost.pk)
        _assign(cost, fields)
        _cost_checked(cost)
        cost.save()
        declare_changed(moments=[stored.incurred_on, cost.incurred_on])
    return cost


def cost_delete(*, cost: Cost) -> None:
    with transaction.atomic():
        day = Cost.objects.filter(pk=cost.pk).values_list("incurred_on", flat=True).first()
        cost.delete()
        declare_changed(moments=[day])


# --- engagement -------------------------------------------------------------------------------


def _engagement_values(figures: dict[str, Any]) -> dict[str, int]:
    unknown = set(figures) - set(ENGAGEMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown engagement figures: {', '.join(sorted(unknown))}.")
    values = {name: int(figures.get(name) or 0) for name in ENGAGEMENT_FIELDS}
    for name, value in values.items():
        if value < 0:
            raise InvalidInput("Must not be negative.", field=name)
    return values


def engagement_upsert(*, campaign: Campaign, date: dt.date, **figures: int) -> EngagementStat:
    """Write one campaign-day of engagement; a second write for the same day replaces the first.

    One INSERT .. ON CONFLICT DO UPDATE, so two writers for the same day cannot both insert.
    """
    values = _engagement_values(figures)
    not_after_today(date, field="date")
    with transaction.atomic():
        EngagementStat.objects.bulk_create(
            [EngagementStat(campaign=campaign, date=date, **values)],
            update_conflicts=True,
            unique_fields=["campaign", "date"],
            update_fields=list(ENGAGEMENT_FIELDS),
        )
        row = EngagementStat.objects.get(campaign=campaign, date=date)
        declare_changed(moments=[date])
    return row


def engagement_update(*, stat: EngagementStat, **fields: Any) -> EngagementStat:
    """Change a stored engagement row (the admin's form), its day or campaign included."""
    figures = {k: v for k, v in fields.items() if k in ENGAGEMENT_FIELDS}
    _engagement_values(figures)
    with transaction.atomic():
        stored = EngagementStat.objects.select_for_update().get(pk=stat.pk)
        _assign(stat, fields)
        not_after_today(stat.date, field="date")
        stat.save()
        declare_changed(moments=[stored.date, stat.date])
    return stat


def engagement_delete(*, stat: EngagementStat) -> None:
    with transaction.atomic():
        day = EngagementStat.objects.filter(pk=stat.pk).values_list("date", flat=True).first()
        stat.delete()
        declare_changed(moments=[day])
