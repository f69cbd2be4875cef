"""Bulk ingestion of contact and touch events: the rules of `leads.services`, per batch.

`contact_create` and `touchpoint_record` make a handful of queries per call; a batch of 1,000
events through them spends its time on round trips. These functions apply the same rules to
many events at once: references (channels and aliases, campaigns, contacts, external ids,
emails in use) are looked up once per batch and rows go in with `bulk_create`. Events that need
more (a coupon, an owner, a referral, a tracking phone) take the per-event path instead.

Both return, per input index, (status, id, code, errors) with status "created", "unchanged" or
"error", as the per-event path does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers

from campaigns.errors import IdempotencyConflict
from campaigns.models import Campaign, Channel, ChannelAlias
from campaigns.services import normalize_source
from leads.models import Contact, Stage, StageChange, Touchpoint, Via
from leads.serializers import ContactInput, TouchpointInput
from leads.services import FUTURE_TOLERANCE, _stamp_up_to, contact_replay
from reports.services import mark_stale_for

Result = tuple[str, int | None, int, dict[str, list[str]] | None]


class BulkContactInput(ContactInput):
    """ContactInput whose references are plain values, resolved once per batch."""

    source_channel = serializers.CharField(required=False, max_length=50)
    source_campaign = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )


class BulkTouchInput(TouchpointInput):
    contact = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    channel = serializers.CharField(required=False, max_length=50)
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("contact") and not attrs.get("email"):
            raise serializers.ValidationError({"contact": ["Give a contact id or an email."]})
        return attrs


def takes_contact(event: dict[str, Any]) -> bool:
    return not any(event.get(k) for k in ("coupon", "owner", "referred_by"))


def takes_touch(event: dict[str, Any]) -> bool:
    return not event.get("tracking_phone")


class References:
    """Channels by slug, alias and id (loaded once), campaigns by id and utm_campaign."""

    def __init__(self, campaign_ids: set[int], utm_values: set[str]) -> None:
        channels = list(Channel.objects.all())
        self.by_slug = {c.slug: c for c in channels}
        self.by_id = {c.pk: c for c in channels}
        self.by_alias = {a.alias: self.by_id[a.channel_id] for a in ChannelAlias.objects.all()}
        self.campaigns = (
            {c.pk: c for c in Campaign.objects.filter(pk__in=campaign_ids)} if campaign_ids else {}
        )
        self.by_utm: dict[str, list[Campaign]] = {}
        if utm_values:
            found = Campaign.objects.annotate(utm=Lower("utm_campaign")).filter(utm__in=utm_values)
            for campaign in found.order_by("-starts_on", "-id"):
                self.by_utm.setdefault(campaign.utm, []).append(campaign)

    def resolve(self, source: str) -> Channel:
        key = normalize_source(source)
        if not key:
            return self.by_slug["direct"]
        return self.by_slug.get(key) or self.by_alias.get(key) or self.by_slug["referral"]


def _error(field: str, message: str, code: int = 400) -> Result:
    return ("error", None, code, {field: [message]})


def _in_future(at: dt.datetime) -> bool:
    return at > timezone.now() + FUTURE_TOLERANCE


def contacts_create_bulk(
    items: list[tuple[int, dict]], *, by, via: str = Via.API
) -> dict[int, Result]:
    """New contacts from validated `BulkContactInput` data, with `contact_create`'s rules.

    The source is the campaign, else the channel, else utm_source through the aliases; stamps go
    up to the entry stage; each gets its entry StageChange and, when a source was given, its first
    touchpoint; an email in use (whatever its case) is a conflict; an external_id already stored
    is answered as a replay (or a conflict when its identity differs).
    """
    results: dict[int, Result] = {}
    refs = References({d["source_campaign"] for _, d in items if d.get("source_campaign")}, set())
    external_ids = [d["external_id"] for _, d in items if d.get("external_id")]
    stored = (
        {c.external_id: c for c in Contact.objects.filter(external_id__in=external_ids)}
        if external_ids
        else {}
    )
    emails = {d["email"].lower() for _, d in items if d.get("email")}
    in_use = (
        set(
            Contact.objects.exclude(email="")
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .values_list("email_lower", flat=True)
        )
        if emails
        else set()
    )

    new: list[
        tuple[int, Contact, Stage, str | None, str]
    ] = []  # index, contact, stage, touch kind, source
    seen_ids: set[str] = set()
    for index, data in items:
        external_id = data.get("external_id") or None
        channel = refs.by_slug.get(data["source_channel"]) if data.get("source_channel") else None
        if data.get("source_channel") and channel is None:
            results[index] = _error(
                "source_channel", f"Unknown channel {data['source_channel']!r}."
            )
            continue
        if external_id in stored:
            try:
                replay = dict(data, source_channel=channel)
                results[index] = (
                    "unchanged",
                    contact_replay(stored[external_id], replay).pk,
                    200,
                    None,
                )
            except IdempotencyConflict as exc:
                results[index] = ("error", None, 409, exc.as_dict())
            continue
        if external_id in seen_ids:
            results[index] = _error("external_id", "Sent twice in this batch.", 409)
            continue
        email = (data.get("email") or "").strip()
        if email and email.lower() in in_use:
            results[index] = _error(
                "email", f"A contact with the email {email!r} already exists.", 409
            )
            continue
        entered_at = data.get("entered_at") or timezone.now()
        if _in_future(entered_at):
            results[index] = _error("entered_at", "Must not be in the future.")
            continue
        campaign = None
        if data.get("source_campaign"):
            campaign = refs.campaigns.get(data["source_campaign"])
            if campaign is None:
                results[index] = _error(
                    "source_campaign", f"Unknown campaign {data['source_campaign']}."
                )
                continue
            if channel is not None and channel.pk != campaign.channel_id:
                results[index] = _error(
                    "source_channel", f"Campaign {campaign.name!r} runs on another channel."
                )
                continue
            channel = refs.by_id[campaign.channel_id]
        source = data.get("utm_source") or ""
        has_source = channel is not None or bool(source.strip())
        stage = Stage(data.get("stage") or Stage.FOLLOWER)
        contact = Contact(
            email=email,
            phone=data.get("phone", ""),
            handle=data.get("handle", ""),
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            company=data.get("company", ""),
            notes=data.get("notes", ""),
            source_channel=channel or refs.resolve(source),
            source_campaign=campaign,
            external_id=external_id,
            stage=stage,
            entered_at=entered_at,
        )
        _stamp_up_to(contact, stage, entered_at)
        if email:
            in_use.add(email.lower())
        if external_id:
            seen_ids.add(external_id)
        kind = (data.get("touch_kind") or Touchpoint.Kind.FOLLOW) if has_source else None
        new.append((index, contact, stage, kind, source))

    if new:
        with transaction.atomic():
            Contact.objects.bulk_create([c for _, c, _, _, _ in new])
            StageChange.objects.bulk_create(
                [
                    StageChange(
                        contact=c,
                        from_stage="",
                        to_stage=stage,
                        at=c.entered_at,
                        changed_by=by,
                        via=via,
                    )
                    for _, c, stage, _, _ in new
                ]
            )
            Touchpoint.objects.bulk_create(
                [
                    Touchpoint(
                        contact=c,
                        channel=c.source_channel,
                        campaign=c.source_campaign,
                        kind=kind,
                        occurred_at=c.entered_at,
                        source=source[:200],
                    )
                    for _, c, _, kind, source in new
                    if kind
                ]
            )
        for index, contact, _, _, _ in new:
            results[index] = ("created", contact.pk, 201, None)
        for day in {timezone.localdate(c.entered_at) for _, c, _, kind, _ in new if kind}:
            mark_stale_for(day)
    return results


def touchpoints_record_bulk(items: list[tuple[int, dict]]) -> dict[int, Result]:
    """Touches from validated `BulkTouchInput` data, with `touchpoint_record`'s rules.

    `contact` is an id or `email` (a contact made earlier in the same batch counts); the
    channel comes from the campaign (by id or utm_campaign), else the slug, else utm_source.
    """
    results: dict[int, Result] = {}
    refs = References(
        {d["campaign"] for _, d in items if d.get("campaign")},
        {d["utm_campaign"].lower() for _, d in items if d.get("utm_campaign")},
    )
    emails = {d["email"].lower() for _, d in items if d.get("email") and not d.get("contact")}
    ids = {d["contact"] for _, d in items if d.get("contact")}
    by_email = (
        dict(
            Contact.objects.exclude(email="")
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .values_list("email_lower", "id")
        )
        if emails
        else {}
    )
    known_ids = (
        set(Contact.objects.filter(pk__in=ids).values_list("id", flat=True)) if ids else set()
    )
    external_ids = [d["external_id"] for _, d in items if d.get("external_id")]
    stored = (
        {t.external_id: t for t in Touchpoint.objects.filter(external_id__in=external_ids)}
        if external_ids
        else {}
    )

    new: list[tuple[int, Touchpoint]] = []
    repeats: list[tuple[int, Touchpoint]] = []  # same event twice in the batch: the first one's id
    pending: dict[str, Touchpoint] = {}
    for index, data in items:
        if data.get("contact"):
            contact_id = data["contact"] if data["contact"] in known_ids else None
            missing = ("contact", f"Unknown contact {data['contact']}.")
        else:
            contact_id = by_email.get((data.get("email") or "").lower())
            missing = ("email", "No contact has this email; create it first.")
        if contact_id is None:
            results[index] = _error(*missing)
            continue
        occurred_at = data.get("occurred_at") or timezone.now()
        if _in_future(occurred_at):
            results[index] = _error("occurred_at", "Must not be in the future.")
            continue
        channel = refs.by_slug.get(data["channel"]) if data.get("channel") else None
        if data.get("channel") and channel is None:
            results[index] = _error("channel", f"Unknown channel {data['channel']!r}.")
            continue
        source = data.get("utm_source") or ""
        campaign = refs.campaigns.get(data["campaign"]) if data.get("campaign") else None
        if data.get("campaign") and campaign is None:
            results[index] = _error("campaign", f"Unknown campaign {data['campaign']}.")
            continue
        if campaign is None and data.get("utm_campaign"):
            candidates = refs.by_utm.get(data["utm_campaign"].lower(), [])
            wanted = channel or (refs.resolve(source) if source else None)
            on_channel = [c for c in candidates if wanted is not None and c.channel_id == wanted.pk]
            campaign = (on_channel or candidates or [None])[0]
        if campaign is not None and channel is not None and channel.pk != campaign.channel_id:
            results[index] = _error(
                "channel", f"Campaign {campaign.name!r} runs on another channel."
            )
            continue
        channel_id = campaign.channel_id if campaign else (channel or refs.resolve(source)).pk
        touch = Touchpoint(
            contact_id=contact_id,
            channel_id=channel_id,
            campaign_id=campaign.pk if campaign else None,
            kind=data.get("kind") or Touchpoint.Kind.VISIT,
            occurred_at=occurred_at,
            source=source[:200],
            external_id=data.get("external_id") or None,
            metadata=data.get("metadata") or {},
        )
        previous = (
            (stored.get(touch.external_id) or pending.get(touch.external_id))
            if touch.external_id
            else None
        )
        if previous is not None:
            fields = ("contact_id", "channel_id", "campaign_id", "kind", "occurred_at")
            if any(getattr(previous, f) != getattr(touch, f) for f in fields):
                results[index] = _error(
                    "external_id",
                    f"external_id {touch.external_id!r} was already used with different content.",
                    409,
                )
            else:
                repeats.append((index, previous))
            continue
        if touch.external_id:
            pending[touch.external_id] = touch
        new.append((index, touch))

    if new:
        with transaction.atomic():
            Touchpoint.objects.bulk_create([t for _, t in new])
        for index, touch in new:
            results[index] = ("created", touch.pk, 201, None)
        for day in {timezone.localdate(t.occurred_at) for _, t in new}:
            mark_stale_for(day)
    for index, previous in repeats:
        results[index] = ("unchanged", previous.pk, 200, None)
    return results
