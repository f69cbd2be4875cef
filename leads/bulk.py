"""Bulk ingestion of contact, touch and purchase events: the rules of `leads.services`, per batch.

`contact_create`, `touchpoint_record` and `purchase_record` make a handful of queries per call;
a batch of 1,000 events through them spends its time on round trips. These functions apply the
same rules to many events at once: references (channels and aliases, campaigns, coupons,
contacts, external ids, emails in use) are looked up once per batch and rows go in with
`bulk_create`. Events that need more (a contact with a coupon, an owner or a referral, a touch
by tracking phone, a purchase by a walk-in customer) take the per-event path instead.

Each returns, per input index, (status, id, code, errors) with status "created", "unchanged" or
"error", as the per-event path does, or "defer" for an event the per-event path must take.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

from campaigns.changes import declare_changed
from campaigns.errors import CouponRefused, IdempotencyConflict
from campaigns.models import Campaign, Channel, ChannelAlias, Coupon, is_future
from campaigns.services import normalize_source
from leads.models import Contact, Purchase, Stage, StageChange, Touchpoint, Via
from leads.serializers import ContactInput, PurchaseInput, TouchpointInput
from leads.services import (
    STAMP_NAMES,
    _check_coupon_valid,
    _same_purchase,
    _stamp_up_to,
    _stamps,
    contact_replay,
    purchases_affected,
)

Result = tuple[str, int | None, int, dict[str, list[str]] | None]


class GivenFieldsOnly(serializers.Serializer):
    """Validates only the fields an event gives, plus the required ones and those with a
    default. DRF walks every declared field and raises SkipField for each absent optional one;
    over a thousand events that is a good part of a batch's time, and it changes nothing."""

    def to_internal_value(self, data):
        self._given = data.keys() if isinstance(data, dict) else None
        return super().to_internal_value(data)

    @property
    def _writable_fields(self):
        given = getattr(self, "_given", None)
        for field in self.fields.values():
            if field.read_only:
                continue
            wanted = given is None or field.field_name in given or field.required
            if wanted or field.default is not empty:
                yield field


class BulkContactInput(GivenFieldsOnly, ContactInput):
    """ContactInput whose references are plain values, resolved once per batch."""

    source_channel = serializers.CharField(required=False, max_length=50)
    source_campaign = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1
    )


class BulkTouchInput(GivenFieldsOnly, TouchpointInput):
    contact = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    channel = serializers.CharField(required=False, max_length=50)
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("contact") and not attrs.get("email"):
            raise serializers.ValidationError({"contact": ["Give a contact id or an email."]})
        return attrs


class BulkPurchaseInput(GivenFieldsOnly, PurchaseInput):
    """PurchaseInput whose contact and coupon are plain values, resolved once per batch."""

    contact = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate_coupon(self, value: str) -> str:
        return value.strip()

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("contact") and not attrs.get("email"):
            raise serializers.ValidationError({"contact": ["Give a contact id or an email."]})
        return attrs


def takes_contact(event: dict[str, Any]) -> bool:
    return not any(event.get(k) for k in ("coupon", "owner", "referred_by"))


def takes_touch(event: dict[str, Any]) -> bool:
    return not event.get("tracking_phone")


def takes_purchase(event: dict[str, Any]) -> bool:
    return True  # walk-ins are found out once emails are looked up: answered "defer"


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
        if is_future(entered_at):
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
            source_channel=channel or (refs.resolve(source) if has_source else None),
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
            declare_changed(moments=_stamps(*(c for _, c, _, _, _ in new)))
        for index, contact, _, _, _ in new:
            results[index] = ("created", contact.pk, 201, None)
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
        if is_future(occurred_at):
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
            moments = [t.occurred_at for _, t in new]
            purchases_affected({t.contact_id for _, t in new}, min(moments), *moments)
        for index, touch in new:
            results[index] = ("created", touch.pk, 201, None)
    for index, previous in repeats:
        results[index] = ("unchanged", previous.pk, 200, None)
    return results


def purchases_record_bulk(
    items: list[tuple[int, dict]], *, by, via: str = Via.API
) -> dict[int, Result]:
    """Purchases from validated `BulkPurchaseInput` data, with `purchase_record`'s rules.

    The contact is an id or an email (a contact made earlier in the batch counts); an email no
    contact has is a walk-in customer, answered "defer" for the per-event path. Coupons must be
    valid at the purchase time; each coupon's redemptions are taken with one conditional UPDATE
    for the whole batch, and when its cap cannot cover them all its purchases are deferred, so
    the per-event path grants redemptions one by one up to the cap. Every buyer becomes a
    customer (one StageChange, at its first purchase of the batch); the earliest purchase wins
    the customer stamp; the first coupon a contact uses becomes its coupon.
    """
    results: dict[int, Result] = {}
    ids = {d["contact"] for _, d in items if d.get("contact")}
    emails = {d["email"].lower() for _, d in items if d.get("email") and not d.get("contact")}
    email_of = (
        dict(
            Contact.objects.filter(pk__in=ids)
            .annotate(email_lower=Lower("email"))
            .values_list("id", "email_lower")
        )
        if ids
        else {}
    )
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
    codes = {d["coupon"].lower() for _, d in items if d.get("coupon")}
    coupons = (
        {
            c.code_lower: c
            for c in Coupon.objects.select_related("campaign")
            .annotate(code_lower=Lower("code"))
            .filter(code_lower__in=codes)
        }
        if codes
        else {}
    )
    external_ids = [d["external_id"] for _, d in items if d.get("external_id")]
    stored = (
        {
            p.external_id: p
            for p in Purchase.objects.select_related("contact").filter(external_id__in=external_ids)
        }
        if external_ids
        else {}
    )

    new: list[tuple[int, Purchase]] = []
    repeats: list[tuple[int, str]] = []  # same order twice in the batch: the first one's answer
    pending: dict[str, Purchase] = {}
    for index, data in items:
        email = (data.get("email") or "").lower()
        if data.get("contact"):
            contact_id = data["contact"]
            if contact_id not in email_of:
                results[index] = _error("contact", f"Unknown contact {contact_id}.")
                continue
            if email and email_of[contact_id] != email:
                results[index] = _error("email", "Does not match the contact's email.")
                continue
        else:
            contact_id = by_email.get(email)
            if contact_id is None:
                results[index] = ("defer", None, 0, None)
                continue
        coupon = None
        if data.get("coupon"):
            coupon = coupons.get(data["coupon"].lower())
            if coupon is None:
                results[index] = _error("coupon", f"Unknown coupon code {data['coupon']!r}.")
                continue
        occurred_at = data.get("occurred_at") or timezone.now()
        if is_future(occurred_at):
            results[index] = _error("occurred_at", "Must not be in the future.")
            continue
        purchase = Purchase(
            contact_id=contact_id,
            amount=data["amount"].quantize(Decimal("0.01")),
            discount=(data.get("discount") or Decimal(0)).quantize(Decimal("0.01")),
            occurred_at=occurred_at,
            coupon=coupon,
            external_id=data.get("external_id") or None,
            note=(data.get("note") or "")[:300],
        )
        external_id = purchase.external_id
        earlier = (stored.get(external_id) or pending.get(external_id)) if external_id else None
        try:
            if earlier is not None:
                values = (purchase.amount, purchase.discount, occurred_at, coupon)
                _same_purchase(earlier, Contact(pk=contact_id), email, *values)
                if external_id in stored:
                    results[index] = ("unchanged", earlier.pk, 200, None)
                else:  # sent twice in this batch: the first one's answer, once it has one
                    repeats.append((index, external_id))
                continue
            if coupon is not None:
                _check_coupon_valid(coupon, occurred_at)
        except (IdempotencyConflict, CouponRefused) as exc:
            results[index] = ("error", None, exc.status_code, exc.as_dict())
            continue
        if purchase.external_id:
            pending[purchase.external_id] = purchase
        new.append((index, purchase))

    with transaction.atomic():
        new = _redeem_bulk(new, results)
        if new:
            stamp_days = _purchases_insert([p for _, p in new], by=by, via=via)
            contact_ids = {p.contact_id for _, p in new}
            purchases_affected(contact_ids, min(p.occurred_at for _, p in new), *stamp_days)
    for index, purchase in new:
        results[index] = ("created", purchase.pk, 201, None)
    for index, external_id in repeats:
        first = pending[external_id]
        results[index] = (
            ("unchanged", first.pk, 200, None) if first.pk else ("defer", None, 0, None)
        )
    return results


def _redeem_bulk(
    new: list[tuple[int, Purchase]], results: dict[int, Result]
) -> list[tuple[int, Purchase]]:
    """Take each coupon's redemptions for the batch in one conditional UPDATE; a coupon whose
    cap cannot cover them all sends its purchases to the per-event path ("defer")."""
    wanted: dict[int, int] = {}
    for _, purchase in new:
        if purchase.coupon_id:
            wanted[purchase.coupon_id] = wanted.get(purchase.coupon_id, 0) + 1
    refused = set()
    for coupon_id, count in sorted(wanted.items()):
        updated = (
            Coupon.objects.filter(pk=coupon_id, active=True)
            .filter(
                Q(max_redemptions__isnull=True) | Q(redemptions__lte=F("max_redemptions") - count)
            )
            .update(redemptions=F("redemptions") + count)
        )
        if updated != 1:
            refused.add(coupon_id)
    for index, purchase in new:
        if purchase.coupon_id in refused:
            results[index] = ("defer", None, 0, None)
    return [(i, p) for i, p in new if p.coupon_id not in refused]


def _purchases_insert(purchases: list[Purchase], *, by, via: str) -> list[dt.datetime]:
    """Insert the purchases with their coupon touches, and make every buyer a customer;
    returns the stamps set or moved, whose days' funnel counts and cohorts changed (as with
    contact_move_stage)."""
    Purchase.objects.bulk_create(purchases)
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                contact_id=p.contact_id,
                channel_id=p.coupon.campaign.channel_id,
                campaign_id=p.coupon.campaign_id,
                kind=Touchpoint.Kind.COUPON,
                occurred_at=p.occurred_at,
                source=p.coupon.code,
                metadata={"purchase_id": p.pk},
            )
            for p in purchases
            if p.coupon_id
        ]
    )
    by_contact: dict[int, list[Purchase]] = {}
    for purchase in purchases:
        by_contact.setdefault(purchase.contact_id, []).append(purchase)
    contacts = Contact.objects.select_for_update().filter(pk__in=by_contact).order_by("pk")
    now = timezone.now()
    changes, changed, stamp_days = [], [], []
    for contact in contacts:
        bought = by_contact[contact.pk]
        before = (contact.stage, contact.coupon_id, *(getattr(contact, n) for n in STAMP_NAMES))
        if contact.stage != Stage.CUSTOMER:
            changes.append(
                StageChange(
                    contact=contact,
                    from_stage=contact.stage,
                    to_stage=Stage.CUSTOMER,
                    at=bought[0].occurred_at,
                    changed_by=by,
                    via=via,
                )
            )
            contact.stage = Stage.CUSTOMER
        for purchase in bought:
            _stamp_up_to(contact, Stage.CUSTOMER, purchase.occurred_at)
        if contact.coupon_id is None:
            contact.coupon_id = next((p.coupon_id for p in bought if p.coupon_id), None)
        if before != (
            contact.stage,
            contact.coupon_id,
            *(getattr(contact, n) for n in STAMP_NAMES),
        ):
            contact.updated_at = now
            changed.append(contact)
            stamp_days += [d for d in before[2:] if d] + [getattr(contact, n) for n in STAMP_NAMES]
    _contacts_save_stages(changed)
    StageChange.objects.bulk_create(changes)
    return [d for d in stamp_days if d]


def _contacts_save_stages(contacts: list[Contact]) -> None:
    """Write the stage, stamps, coupon and updated_at of these contacts: on PostgreSQL one
    UPDATE joined to a VALUES list (Django's bulk_update builds a CASE per row and field, which
    costs more in Python than the query itself); elsewhere bulk_update."""
    if not contacts:
        return
    fields = ["stage", "coupon_id", *STAMP_NAMES, "updated_at"]
    if connection.vendor != "postgresql":
        Contact.objects.bulk_update(contacts, ["stage", "coupon", *STAMP_NAMES, "updated_at"])
        return
    types = {"stage": "varchar", "coupon_id": "bigint"}
    types |= dict.fromkeys([*STAMP_NAMES, "updated_at"], "timestamptz")
    row = "(%s::bigint, " + ", ".join(f"%s::{types[f]}" for f in fields) + ")"
    params = [v for c in contacts for v in (c.pk, *(getattr(c, f) for f in fields))]
    table = Contact._meta.db_table
    sets = ", ".join(f"{f} = v.{f}" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET {sets} "  # noqa: S608 - names from the model, values bound
            f"FROM (VALUES {', '.join([row] * len(contacts))}) AS v(id, {', '.join(fields)}) "
            "WHERE c.id = v.id",
            params,
        )
