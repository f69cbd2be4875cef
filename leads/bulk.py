"""The batch door of POST /api/v1/events/: the rules of `leads.rules`, at batch speed.

`contact_create`, `touchpoint_record` and `purchase_record` make a handful of queries per call;
a batch of 1,000 events through them spends its time on round trips. These functions take a
phase of a batch (its contacts, its touches or its purchases) at once and decide every event
with the same `leads.rules` functions, in the same order, as the per-event door; what they add
is speed only: references are looked up once per phase (`BatchRefs`), rows go in with
`bulk_create`, each coupon's redemptions for the batch are taken by one conditional UPDATE, and
buyers' stages are written by one UPDATE.

An event the batch door does not take (a contact with an owner or a referral, a touch by
tracking phone) is answered "defer": the per-event door takes
it after the phase's bulk write. So does every later event of the phase that shares a key with
it (its external_id, its email or contact, its coupon), so that two events that could see each
other's writes are applied in input order, as calls one by one would apply them; events that
share no key cannot tell which went first.

Each returns, per input index, (status, id, code, errors) with status "created", "unchanged" or
"error", as the per-event door answers, or "defer".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

from campaigns.changes import declare_changed
from campaigns.errors import DomainError
from campaigns.inputs import storable
from campaigns.models import Campaign, Channel, ChannelAlias, Coupon
from leads import rules
from leads.models import Contact, ContactEmail, Purchase, Stage, StageChange, Touchpoint, Via
from leads.serializers import (
    ContactInput,
    PurchaseInput,
    TouchpointInput,
    contact_arguments,
    id_key,
    purchase_arguments,
    touch_arguments,
)
from leads.services import lock_emails, purchases_affected

Result = tuple[str, int | None, int, dict[str, list[str]] | None]
DEFER: Result = ("defer", None, 0, None)


class BatchRaced(Exception):
    """A concurrent writer took what the batch counted on (a coupon's last redemptions, an
    email): the phase is rolled back and goes through the per-event door."""


def _lock_new_emails(contacts: list[Contact]) -> None:
    """Lock the emails of the contacts about to be inserted (`lock_emails`, one statement for
    the batch) and check again that none is stored: the batch looked them up when it started,
    before the lock. One taken since means another writer raced the batch (`BatchRaced`).
    Two queries whatever the batch's size, on PostgreSQL only (SQLite writes one at a time)."""
    keys = {rules.email_key(c.email) for c in contacts} - {""}
    if not lock_emails(keys):
        return
    primary = rules.contacts_by_email(Contact.objects.order_by(), keys).values("email_lower")
    secondary = (
        ContactEmail.objects.order_by()
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=keys)
        .values("email_lower")
    )
    if primary.union(secondary)[:1]:
        raise BatchRaced("email")


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
    pass


class BulkTouchInput(GivenFieldsOnly, TouchpointInput):
    pass


class BulkPurchaseInput(GivenFieldsOnly, PurchaseInput):
    pass


class BatchRefs(rules.Refs):
    """The look-ups of one phase of a batch, answered from rows preloaded once: the campaigns,
    coupons and contacts its events name (by id, code, email or utm_campaign), and all channels
    and aliases when first asked. A key that was not preloaded is looked up one by one, as the
    per-event door does, so the answers never depend on what was preloaded, only the speed."""

    def __init__(self, payloads: Iterable[dict]) -> None:
        campaign_ids, contact_ids, codes, emails, tags = set(), set(), set(), set(), set()
        for payload in payloads:
            campaign_ids |= {id_key(payload.get(n)) for n in ("source_campaign", "campaign")}
            contact_ids |= {id_key(payload.get(n)) for n in ("contact", "referred_by")}
            for name, keys, key in (
                ("coupon", codes, rules.code_key),
                ("email", emails, rules.email_key),
                ("utm_campaign", tags, rules.code_key),
            ):
                # Unstorable text is refused by validation; as a key it would reach the query.
                value = payload.get(name)
                if isinstance(value, str) and storable(value) and key(value):
                    keys.add(key(payload[name]))
        campaign_ids = {k for k in campaign_ids if k is not None and 0 < k <= rules.MAX_ID}
        contact_ids = {k for k in contact_ids if k is not None and 0 < k <= rules.MAX_ID}
        self._campaigns: dict[int, Campaign | None] = dict.fromkeys(campaign_ids)
        if campaign_ids:
            campaigns = Campaign.objects.select_related("channel").filter(pk__in=campaign_ids)
            self._campaigns.update({c.pk: c for c in campaigns})
        self._tagged: dict[str, list[Campaign]] = {tag: [] for tag in tags}
        if tags:
            tagged = (
                Campaign.objects.select_related("channel")
                .annotate(utm=Lower("utm_campaign"))
                .filter(utm__in=tags)
                .order_by("-starts_on", "-id")
            )
            for campaign in tagged:
                self._tagged[campaign.utm].append(campaign)
        self._coupons: dict[str, Coupon | None] = dict.fromkeys(codes)
        if codes:
            coupons = (
                Coupon.objects.select_related("campaign__channel")
                .annotate(code_lower=Lower("code"))
                .filter(code_lower__in=codes)
            )
            self._coupons.update({c.code_lower: c for c in coupons})
        # Contacts are read for their id and email only: the rules need no more of them, and
        # the writes lock and read their rows again.
        contacts = Contact.objects.only("id", "email").order_by()
        self._contacts: dict[int, Contact | None] = dict.fromkeys(contact_ids)
        if contact_ids:
            self._contacts.update({c.pk: c for c in contacts.filter(pk__in=contact_ids)})
        self._by_email: dict[str, Contact | None] = dict.fromkeys(emails)
        if emails:
            found = rules.contacts_by_email(contacts, emails)
            self._by_email.update({c.email_lower: c for c in found})
            # The rest may be secondary emails (kept by a merge): `rules.contact_by_email` too.
            missing = [key for key, contact in self._by_email.items() if contact is None]
            secondary = rules.secondary_emails(missing) if missing else {}
            if secondary:
                owners = {c.pk: c for c in contacts.filter(pk__in=set(secondary.values()))}
                self._by_email.update({k: owners.get(pk) for k, pk in secondary.items()})
        self._channels: dict[str, Channel] | None = None
        self._aliases: dict[str, Channel] = {}

    def _load_channels(self) -> dict[str, Channel]:
        if self._channels is None:
            channels = list(Channel.objects.all())
            self._channels = {c.slug: c for c in channels}
            by_id = {c.pk: c for c in channels}
            self._aliases = {a.alias: by_id[a.channel_id] for a in ChannelAlias.objects.all()}
        return self._channels

    def channel(self, slug: str) -> Channel | None:
        return self._load_channels().get(rules.slug_key(slug))

    def alias(self, key: str) -> Channel | None:
        self._load_channels()
        return self._aliases.get(key)

    def channels_named(self, keys: Iterable[str]) -> dict[str, Channel]:
        channels, keys = self._load_channels(), list(keys)
        named = {key: self._aliases[key] for key in keys if key in self._aliases}
        named.update({key: channels[key] for key in keys if key in channels})
        return named

    def campaign(self, pk: int) -> Campaign | None:
        return self._campaigns[pk] if pk in self._campaigns else super().campaign(pk)

    def campaigns_tagged(self, utm_campaign: str) -> list[Campaign]:
        tag = rules.code_key(utm_campaign)
        return self._tagged[tag] if tag in self._tagged else super().campaigns_tagged(tag)

    def coupon(self, code: str) -> Coupon | None:
        key = rules.code_key(code)
        return self._coupons[key] if key in self._coupons else super().coupon(code)

    def contact(self, pk: int) -> Contact | None:
        return self._contacts[pk] if pk in self._contacts else super().contact(pk)

    def contact_by_email(self, email: str) -> Contact | None:
        key = rules.email_key(email)
        return self._by_email[key] if key in self._by_email else super().contact_by_email(key)


class Deferrals:
    """The keys held by the events of a phase sent to the per-event door: a later event that
    shares one goes there too, after them, in input order."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, Any]] = set()

    def holds(self, keys: set[tuple[str, Any]]) -> bool:
        return not self.keys.isdisjoint(keys)

    def defer(self, keys: set[tuple[str, Any]]) -> Result:
        self.keys |= keys
        return DEFER


def _keys(**values: Any) -> set[tuple[str, Any]]:
    return {(name, value) for name, value in values.items() if value}


def _error(exc: DomainError) -> Result:
    return ("error", None, exc.status_code, exc.as_dict())


def _stored(model, external_ids: Iterable[str | None], *related: str) -> dict[str, Any]:
    """The rows already stored under these external ids."""
    wanted = {e for e in external_ids if e}
    if not wanted:
        return {}
    rows = model.objects.select_related(*related).filter(external_id__in=wanted)
    return {row.external_id: row for row in rows}


def takes_contact(arguments: dict[str, Any]) -> bool:
    return not (arguments.get("owner") or arguments.get("referred_by"))


def contacts_create_bulk(
    items: list[tuple[int, dict]], *, refs: BatchRefs, by, via: str = Via.API
) -> dict[int, Result]:
    """New contacts from validated `ContactInput` data, with `contact_create`'s rules.

    An external_id already stored, or sent earlier in the batch, is answered as a replay (or a
    conflict naming what differs); an email in use (whatever its case), stored or earlier in
    the batch, is a conflict. Each new contact gets its entry StageChange and, when its source
    is known, its first touch.
    """
    results: dict[int, Result] = {}
    stored = _stored(Contact, (d.get("external_id") for _, d in items))
    deferrals = Deferrals()
    pending: dict[str, Contact] = {}  # external_id -> contact to insert
    emails: set[str] = set()  # emails taken earlier in the batch
    new: list[tuple[int, Contact, str | None, str]] = []  # index, contact, touch kind, source
    repeats: list[tuple[int, Contact]] = []  # a replay of an earlier event of the batch
    for index, data in items:
        arguments = contact_arguments(data)
        touch_kind = arguments.pop("touch_kind", None)
        external_id, email = arguments["external_id"], rules.email_key(arguments.get("email"))
        keys = _keys(external_id=external_id, email=email)
        if not takes_contact(arguments) or deferrals.holds(keys):
            results[index] = deferrals.defer(keys)
            continue
        try:
            previous = (
                (stored.get(external_id) or pending.get(external_id)) if external_id else None
            )
            if previous is not None:
                rules.contact_replay(previous, data)
                if previous.pk is not None:
                    results[index] = ("unchanged", previous.pk, 200, None)
                else:
                    repeats.append((index, previous))
                continue
            contact = rules.new_contact(refs=refs, **arguments)
            if email and (email in emails or refs.contact_by_email(email) is not None):
                raise rules.email_in_use(contact.email)
        except DomainError as exc:
            results[index] = _error(exc)
            continue
        if email:
            emails.add(email)
        if external_id:
            pending[external_id] = contact
        new.append((index, contact, touch_kind, arguments["source"]))

    if new:
        with transaction.atomic():
            contacts = [c for _, c, _, _ in new]
            _lock_new_emails(contacts)
            _contacts_insert(contacts, by=by, via=via)
            touches = [rules.first_touch(c, kind=kind, source=source) for _, c, kind, source in new]
            Touchpoint.objects.bulk_create([t for t in touches if t is not None])
        for index, contact, _, _ in new:
            results[index] = ("created", contact.pk, 201, None)
    for index, previous in repeats:
        results[index] = ("unchanged", previous.pk, 200, None)
    return results


def _contacts_insert(contacts: list[Contact], *, by, via: str) -> None:
    """Insert new contacts with their entry StageChange, and declare the days of their stamps
    (as `contact_create` does for one)."""
    Contact.objects.bulk_create(contacts)
    StageChange.objects.bulk_create(
        [
            rules.stage_change(c, from_stage="", to_stage=c.stage, at=c.entered_at, by=by, via=via)
            for c in contacts
        ]
    )
    declare_changed(moments=rules.stamps(*contacts))


def touchpoints_record_bulk(items: list[tuple[int, dict]], *, refs: BatchRefs) -> dict[int, Result]:
    """Touches from validated `TouchpointInput` data, with `touchpoint_record`'s rules.

    An external_id already stored, or sent earlier in the batch, is answered as a replay (or a
    conflict naming what differs). Touches by tracking phone take the per-event door.
    """
    results: dict[int, Result] = {}
    stored = _stored(Touchpoint, (d.get("external_id") for _, d in items))
    deferrals = Deferrals()
    pending: dict[str, Touchpoint] = {}
    new: list[tuple[int, Touchpoint]] = []
    repeats: list[tuple[int, Touchpoint]] = []
    for index, data in items:
        arguments = touch_arguments(data)
        external_id = arguments["external_id"]
        keys = _keys(external_id=external_id)
        if arguments["tracking_phone"] or deferrals.holds(keys):
            results[index] = deferrals.defer(keys)
            continue
        try:
            touch, time_given = rules.new_touch(refs=refs, **arguments)
            previous = (
                (stored.get(external_id) or pending.get(external_id)) if external_id else None
            )
            if previous is not None:
                rules.touch_replay(previous, touch, time_given=time_given)
                if previous.pk is not None:
                    results[index] = ("unchanged", previous.pk, 200, None)
                else:
                    repeats.append((index, previous))
                continue
        except DomainError as exc:
            results[index] = _error(exc)
            continue
        if external_id:
            pending[external_id] = touch
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


class Redemptions:
    """What each coupon has left for the batch, from its preloaded row: the earliest events of
    the batch get the last redemptions, as one-by-one calls would."""

    def __init__(self) -> None:
        self.left: dict[int, int | None] = {}
        self.taken: dict[int, int] = {}

    def take(self, coupon: Coupon) -> bool:
        if coupon.pk not in self.left:
            cap = coupon.max_redemptions
            self.left[coupon.pk] = None if cap is None else max(cap - coupon.redemptions, 0)
        left = self.left[coupon.pk]
        if left is not None and left < 1:
            return False
        if left is not None:
            self.left[coupon.pk] = left - 1
        self.taken[coupon.pk] = self.taken.get(coupon.pk, 0) + 1
        return True

    def write(self) -> None:
        """One conditional UPDATE per coupon for all its redemptions in the batch; a coupon
        that changed under us since it was read (used up, deactivated) voids the phase."""
        for coupon_id, count in sorted(self.taken.items()):
            updated = (
                Coupon.objects.filter(pk=coupon_id, active=True)
                .filter(
                    Q(max_redemptions__isnull=True)
                    | Q(redemptions__lte=F("max_redemptions") - count)
                )
                .update(redemptions=F("redemptions") + count)
            )
            if updated != 1:
                raise BatchRaced(coupon_id)


def purchases_record_bulk(
    items: list[tuple[int, dict]], *, refs: BatchRefs, by, via: str = Via.API
) -> dict[int, Result]:
    """Purchases from validated `PurchaseInput` data, with `purchase_record`'s rules.

    A purchase by an email no contact has makes a walk-in customer, as `purchase_record` does:
    the first accepted purchase for that email in input order creates the contact (entering as
    a customer at its time, sourced from its coupon), and the email's later purchases in the
    batch are that contact's. An external_id already stored, or sent earlier in the batch, is
    answered as a replay (or a conflict naming what differs). A coupon must be valid at the purchase time and have a
    redemption left, in input order. Every buyer is tagged, stamped and moved to customer by
    `leads.rules.after_purchase`, purchase by purchase in input order.
    """
    results: dict[int, Result] = {}
    stored = _stored(Purchase, (d.get("external_id") for _, d in items), "contact")
    deferrals = Deferrals()
    redemptions = Redemptions()
    pending: dict[str, Purchase] = {}
    new: list[tuple[int, Purchase]] = []
    repeats: list[tuple[int, Purchase]] = []
    walk_ins: dict[str, Contact] = {}  # email key -> the walk-in contact to insert
    for index, data in items:
        arguments = purchase_arguments(data)
        contact_fields = arguments.pop("contact_fields")
        contact, coupon, external_id = (arguments[k] for k in ("contact", "coupon", "external_id"))
        email = None if contact else rules.email_key(arguments["email"])
        keys = _keys(
            external_id=external_id,
            contact=contact.pk if contact else None,
            email=email,
            coupon=coupon.pk if coupon else None,
        )
        if deferrals.holds(keys):
            results[index] = deferrals.defer(keys)
            continue
        try:
            purchase, time_given = rules.new_purchase(**arguments)
            previous = (
                (stored.get(external_id) or pending.get(external_id)) if external_id else None
            )
            if previous is not None:
                rules.purchase_replay(
                    previous,
                    purchase,
                    contact=contact,
                    email=arguments["email"],
                    time_given=time_given,
                )
                if previous.pk is not None:
                    results[index] = ("unchanged", previous.pk, 200, None)
                else:
                    repeats.append((index, previous))
                continue
            if coupon is not None:
                rules.check_coupon(coupon, purchase.occurred_at)
            walk_in = None
            if contact is None and email not in walk_ins:
                # What `purchase_record` creates for an unknown email (`_walk_in_contact`).
                walk_in = rules.new_contact(
                    refs=refs,
                    email=arguments["email"],
                    coupon=coupon,
                    stage=Stage.CUSTOMER,
                    entered_at=purchase.occurred_at,
                    **contact_fields,
                )
            if coupon is not None and not redemptions.take(coupon):
                raise rules.coupon_used_up(coupon)
        except DomainError as exc:
            results[index] = _error(exc)
            continue
        if contact is None:
            # Set on the purchase unsaved: bulk_create takes its id once the contact is in.
            purchase.contact = walk_ins.setdefault(email, walk_in)
        if external_id:
            pending[external_id] = purchase
        new.append((index, purchase))

    if new:
        with transaction.atomic():
            redemptions.write()
            if walk_ins:
                _lock_new_emails(list(walk_ins.values()))
                _contacts_insert(list(walk_ins.values()), by=by, via=via)
            purchases = [p for _, p in new]
            stamp_days = _purchases_insert(purchases, by=by, via=via)
            contact_ids = {p.contact_id for p in purchases}
            purchases_affected(contact_ids, min(p.occurred_at for p in purchases), *stamp_days)
        for index, purchase in new:
            results[index] = ("created", purchase.pk, 201, None)
    for index, previous in repeats:
        results[index] = ("unchanged", previous.pk, 200, None)
    return results


def _purchases_insert(purchases: list[Purchase], *, by, via: str) -> list[dt.datetime]:
    """Insert the purchases with their coupon touches, and tag, stamp and move every buyer;
    returns the stamps set or moved, whose days' funnel counts and cohorts changed (as with
    contact_move_stage)."""
    Purchase.objects.bulk_create(purchases)
    Touchpoint.objects.bulk_create([rules.coupon_touch(p) for p in purchases if p.coupon_id])
    by_contact: dict[int, list[Purchase]] = {}
    for purchase in purchases:
        by_contact.setdefault(purchase.contact_id, []).append(purchase)
    contacts = Contact.objects.select_for_update().filter(pk__in=by_contact).order_by("pk")
    changes, changed, stamp_days = [], [], []
    for contact in contacts:
        before = (
            contact.stage,
            contact.coupon_id,
            *(getattr(contact, n) for n in rules.STAMP_NAMES),
        )
        for purchase in by_contact[contact.pk]:
            moved_from = rules.after_purchase(contact, purchase)
            if moved_from is not None:
                changes.append(
                    rules.stage_change(
                        contact,
                        from_stage=moved_from,
                        to_stage=Stage.CUSTOMER,
                        at=purchase.occurred_at,
                        by=by,
                        via=via,
                    )
                )
        after = (
            contact.stage,
            contact.coupon_id,
            *(getattr(contact, n) for n in rules.STAMP_NAMES),
        )
        if before != after:
            changed.append(contact)
            stamp_days += [d for d in (*before[2:], *after[2:]) if d]
    _contacts_save_stages(changed)
    StageChange.objects.bulk_create(changes)
    return stamp_days


def _contacts_save_stages(contacts: list[Contact]) -> None:
    """Write the stage, stamps, coupon and updated_at of these contacts: on PostgreSQL one
    UPDATE joined to a VALUES list (Django's bulk_update builds a CASE per row and field, which
    costs more in Python than the query itself); elsewhere bulk_update."""
    if not contacts:
        return
    now = timezone.now()
    for contact in contacts:
        contact.updated_at = now
    fields = ["stage", "coupon_id", *rules.STAMP_NAMES, "updated_at"]
    if connection.vendor != "postgresql":
        Contact.objects.bulk_update(contacts, ["stage", "coupon", *rules.STAMP_NAMES, "updated_at"])
        return
    types = {"stage": "varchar", "coupon_id": "bigint"}
    types |= dict.fromkeys([*rules.STAMP_NAMES, "updated_at"], "timestamptz")
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
