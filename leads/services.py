"""The funnel's writes, one at a time: every door (admin, API, import, tasks) writes contacts
through here.

A stage move, a purchase, a touchpoint, a merge and an erasure each record their history
(StageChange rows, implied stage stamps, touchpoints) the same way whatever the caller. The
rules they apply, and their messages, are `leads.rules`', which the batch door
(`leads.bulk`) applies too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Lower, TruncDate
from django.utils import timezone

from campaigns.changes import declare_changed
from campaigns.errors import (
    Conflict,
    IdempotencyConflict,
    InvalidInput,
    NotPermitted,
    StageMoveRefused,
)
from campaigns.models import Campaign, Channel, Coupon
from leads import rules
from leads.models import (
    OWNER_GROUP,
    Contact,
    ContactEmail,
    ContactMerge,
    ContactPhone,
    Purchase,
    Refund,
    Stage,
    StageChange,
    Touchpoint,
    Via,
    eligible_owners,
)
from leads.rules import (
    IDENTITY,
    REFS,
    STAMP_NAMES,
    contact_by_email,
    email_address,
    email_key,
    phone_e164,
    require_identity,
    stamps,
)

# Who did it: a user, or None for the system.
Actor = AbstractBaseUser
PERSONAL_FIELDS = rules.PERSONAL_FIELDS


def _check_force_permission(by: Actor | None) -> None:
    if by is None or not by.has_perm("leads.force_stage_change"):
        raise NotPermitted(
            "Moving a contact backward needs the 'force stage change' permission.", field="force"
        )


def check_owner(owner: Actor | None) -> None:
    """A contact's owner is someone who works contacts: an active member of the Sales group or
    an active superuser (`leads.models.eligible_owners`). None (no owner) is always fine."""
    if owner is None:
        return
    # The user model, not type(owner): the admin passes request.user, a lazy wrapper.
    if not get_user_model().objects.filter(eligible_owners(), pk=owner.pk).exists():
        raise InvalidInput(
            f"{owner.get_username()} cannot own contacts: an owner must be an active member "
            f"of the {OWNER_GROUP} group or a superuser.",
            field="owner",
        )


# Before any purchase: `purchases_affected` from here declares all of a contact's purchases.
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)


def purchases_affected(
    contact_ids: Iterable[int], since: dt.datetime, *also: dt.datetime | dt.date | None
) -> None:
    """Declare a change to these contacts' data from `since` on (a touch, a purchase, a merge,
    a deletion): their purchases from then on may be credited differently (a touch joins their
    windows, an earlier purchase changes which one is first), so the days of those purchases
    change, with the moments `also` gives (the write's own days). Call inside the write's
    transaction."""
    days = (
        Purchase.objects.filter(contact_id__in=list(contact_ids), occurred_at__gte=since)
        .annotate(day=TruncDate("occurred_at"))
        .values_list("day", flat=True)
        .distinct()
    )
    declare_changed(moments=[*days, *also])


# --- stages -----------------------------------------------------------------------------------


def contact_move_stage(
    *,
    contact: Contact,
    stage: Stage | str,
    at: dt.datetime | None = None,
    by: Actor | None = None,
    via: Via | str,
    force: bool = False,
    note: str = "",
) -> StageChange | None:
    """Move a contact along the funnel and record the move.

    Forward moves stamp the new stage and any earlier stage not yet stamped. A move to the stage
    the contact is at changes nothing (returns None). A backward move is refused unless `force`
    is set by a user holding `leads.force_stage_change`; it clears the stamps above the new stage.
    """
    try:
        target = Stage(stage)
    except ValueError:
        raise InvalidInput(f"Unknown stage {stage!r}.", field="stage") from None
    at = rules.moment(at, field="at")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        before = stamps(locked)
        milestones = (locked.became_lead_at, locked.became_qualified_at)
        current = locked.stage_enum
        if target == current:
            _copy_stage_fields(locked, contact)
            return None
        backward = target.rank < current.rank
        if backward:
            if not force:
                raise StageMoveRefused(
                    f"A {current.label.lower()} cannot move back to {target.label.lower()}; "
                    "stages only move forward.",
                    field="stage",
                )
            _check_force_permission(by)
            rules.clear_above(locked, target)
        else:
            rules.stamp_up_to(locked, target, at)
        locked.stage = target
        locked.save(update_fields=["stage", *STAMP_NAMES, "updated_at"])
        change = rules.stage_change(
            locked,
            from_stage=current,
            to_stage=target,
            at=at,
            by=by,
            via=via,
            forced=backward,
            note=note,
        )
        change.save()
        # A dated move counts in the period of its stamp; a forced one un-counts the cleared
        # stamps; the entry day's cohort figures ("reached lead so far") change with either.
        # A changed lead or qualified stamp moves the milestones of the stage-aware models in
        # every one of the contact's purchases: their days change too.
        if (locked.became_lead_at, locked.became_qualified_at) != milestones:
            purchases_affected([locked.pk], EARLIEST, at, *before)
        else:
            declare_changed(moments=[at, *before])
    _copy_stage_fields(locked, contact)
    return change


def _copy_stage_fields(source: Contact, target: Contact) -> None:
    if source is target:
        return
    target.stage = source.stage
    for name in STAMP_NAMES:
        setattr(target, name, getattr(source, name))


def contacts_move_stage(
    *, contacts: Iterable[Contact], stage: Stage | str, by: Actor | None, via: Via | str
) -> tuple[int, list[tuple[Contact, str]]]:
    """Move many contacts (an admin action): returns how many moved and the refusals."""
    moved = 0
    refused: list[tuple[Contact, str]] = []
    for contact in contacts:
        try:
            if contact_move_stage(contact=contact, stage=stage, by=by, via=via) is not None:
                moved += 1
        except StageMoveRefused as exc:
            refused.append((contact, exc.message))
    return moved, refused


# --- contacts ---------------------------------------------------------------------------------

# The first key of the two-key advisory locks taken on emails ("em"), so they cannot collide
# with another use of advisory locks.
EMAIL_LOCK_CLASS = 0x656D


def lock_emails(emails: Iterable[str | None]) -> bool:
    """Make every other writer of these emails wait until this transaction ends.

    An email is unique across `Contact.email` and `ContactEmail` together, which no database
    constraint spans: each writer checks both tables, then writes. On PostgreSQL a
    transaction-scoped advisory lock per normalised email (`rules.email_key`) makes that check
    and write one step. Every path that stores an email takes it before checking: creation
    (walk-ins included), an email edit, a merge (the other's email moves to the survivor), the
    batch door. Locks are taken in one statement, in the order of their hash, so two writers
    of several emails cannot deadlock. SQLite has a single writer at a time: nothing to do.
    Call it inside `transaction.atomic()`; returns whether a lock was taken."""
    keys = sorted({email_key(e) for e in emails} - {""})
    if not keys or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, h) FROM ("
            " SELECT DISTINCT hashtext(k) AS h FROM unnest(%s::text[]) AS k ORDER BY h OFFSET 0"
            ") AS hashes",
            [EMAIL_LOCK_CLASS, keys],
        )
    return True


def contact_create(
    *,
    email: str = "",
    phone: str = "",
    handle: str = "",
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    notes: str = "",
    source_channel: Channel | None = None,
    source_campaign: Campaign | None = None,
    coupon: Coupon | None = None,
    source: str = "",
    stage: Stage | str = Stage.FOLLOWER,
    entered_at: dt.datetime | None = None,
    owner: Actor | None = None,
    referred_by: Contact | None = None,
    external_id: str | None = None,
    heard_about: str = "",
    heard_channel: Channel | None = rules.UNSET,
    touch_kind: str = Touchpoint.Kind.FOLLOW,
    record_first_touch: bool = True,
    by: Actor | None = None,
    via: Via | str,
) -> Contact:
    """Create a contact entering the funnel at `stage`, with its entry history and first touch.

    The rules (`leads.rules.new_contact`): the source is the coupon's campaign, else the
    campaign, else the channel, else `source` resolved through the channel aliases; with none of
    them the source is unknown (NULL): the contact gets no touchpoint and counts in the
    `unattributed` row of every figure, like the revenue it brings. An email already in use, in
    any case, is refused. An owner must be eligible (`check_owner`).

    `heard_about` is "how did you hear about us" in the person's words (every door that asks
    the person passes it: forms, website capture, imports); the channel it names is resolved
    through the aliases (`rules.heard_values`) unless `heard_channel` is given.
    """
    check_owner(owner)
    contact = rules.new_contact(
        refs=REFS,
        email=email,
        phone=phone,
        handle=handle,
        first_name=first_name,
        last_name=last_name,
        company=company,
        notes=notes,
        source_channel=source_channel,
        source_campaign=source_campaign,
        coupon=coupon,
        source=source,
        stage=stage,
        entered_at=entered_at,
        owner=owner,
        referred_by=referred_by,
        external_id=external_id,
        heard_about=heard_about,
        heard_channel=heard_channel,
    )
    with transaction.atomic():
        lock_emails([contact.email])
        if contact.email and contact_by_email(contact.email) is not None:
            raise rules.email_in_use(contact.email)
        try:
            with transaction.atomic():
                contact.save()
        except IntegrityError:
            # Lost a race with another writer of the same email or external id.
            raise IdempotencyConflict(
                "A contact with this email or external_id already exists.", field="email"
            ) from None
        rules.stage_change(
            contact, from_stage="", to_stage=contact.stage, at=contact.entered_at, by=by, via=via
        ).save()
        touch = rules.first_touch(contact, kind=touch_kind, source=source)
        if touch is not None and record_first_touch:
            touch.save()
        declare_changed(moments=stamps(contact))  # counted on the days of its stamps
    return contact


EDITABLE_FIELDS = (
    "email",
    "phone",
    "handle",
    "first_name",
    "last_name",
    "company",
    "notes",
    "owner",
    "referred_by",
    "coupon",
    "external_id",
)


# "How did you hear about us": the words, and the channel they name.
HEARD_FIELDS = ("heard_about", "heard_channel")


def contact_update(*, contact: Contact, **fields: Any) -> Contact:
    """Change a contact's plain fields (no reported figure depends on them), and what the
    person says of how they heard about us. The stage and its stamps are not among them: they
    move only through `contact_move_stage`, so the history records every move; the source
    moves through `contact_change_source`.

    Other words (`heard_about`) name their channel again (`rules.heard_values`), unless
    `heard_channel` is given beside them (blank words with no channel clear it); the same
    words keep the channel as it was set. The dashboard's self-reported column counts a
    contact on the day it entered: a change of its channel declares that day changed."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - set(HEARD_FIELDS)
    if unknown:
        raise InvalidInput(f"Not editable here: {', '.join(sorted(unknown))}.")
    heard = "heard_about" in fields or "heard_channel" in fields
    if "heard_about" in fields:
        fields["heard_about"] = rules.heard_words(fields["heard_about"])
    email = (fields.get("email") or "").strip() if "email" in fields else None
    if email:
        email = email_address(email)
        fields["email"] = email
    if any(name in fields for name in IDENTITY):
        # An edit may not blank every identity field (an erase does that, on purpose).
        require_identity(**{n: fields.get(n, getattr(contact, n)) for n in IDENTITY})
    if "owner" in fields:
        check_owner(fields["owner"])
    referred_by = fields.get("referred_by")
    if referred_by is not None and referred_by.pk == contact.pk:
        raise InvalidInput("A contact cannot refer itself.", field="referred_by")
    if "external_id" in fields:
        fields["external_id"] = (fields["external_id"] or "").strip() or None
    if "phone" in fields:
        fields["phone"] = fields["phone"] or ""
        fields["phone_e164"] = phone_e164(fields["phone"])
    try:
        with transaction.atomic():
            if email:
                lock_emails([email])
                other = contact_by_email(email)
                if other is not None and other.pk != contact.pk:
                    raise IdempotencyConflict(
                        "Another contact has this email (emails ignore case).", field="email"
                    )
            if heard:
                before = _heard(contact, fields)
            for name, value in fields.items():
                setattr(contact, name, value)
            if email is not None:
                contact.email = email
            if email:
                # One of its own secondary emails made primary: it is listed once.
                _drop_other_email(contact, email)
            contact.save(update_fields=[*fields, "updated_at"])
            if heard and contact.heard_channel_id != before["heard_channel_id"]:
                # Counted in the self-reported column on the day it entered.
                declare_changed(moments=[before["entered_at"]])
    except IntegrityError:
        raise IdempotencyConflict(
            "Another contact has this email or external_id.", field="external_id"
        ) from None
    return contact


def _heard(contact: Contact, fields: dict[str, Any]) -> dict[str, Any]:
    """Complete `fields` with the channel of "how did you hear about us", from the stored row
    (locked; the admin's instance already holds the form's values): other words name theirs
    again unless a channel is given beside them; the same words keep the channel as it was
    set. Returns the stored values."""
    stored = (
        Contact.objects.select_for_update()
        .values("heard_about", "heard_channel_id", "entered_at")
        .get(pk=contact.pk)
    )
    words = fields.get("heard_about", stored["heard_about"])
    if "heard_channel" in fields or words != stored["heard_about"]:
        fields.update(
            rules.heard_values(
                heard_about=words,
                heard_channel=fields.get("heard_channel", rules.UNSET),
                refs=REFS,
            )
        )
    return stored


def contact_change_source(
    *, contact: Contact, source_channel: Channel | None, source_campaign: Campaign | None
) -> Contact:
    """Correct where a contact came from (the admin's change form). Its funnel counts move
    between source groups on the days of its stamps; its recorded touches stay as they were.
    A campaign names its channel; with neither the source is unknown (unattributed)."""
    source_channel = rules.source_of(channel=source_channel, campaign=source_campaign)
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if (locked.source_channel_id, locked.source_campaign_id) == (
            source_channel.pk if source_channel else None,
            source_campaign.pk if source_campaign else None,
        ):
            return locked
        locked.source_channel, locked.source_campaign = source_channel, source_campaign
        locked.save(update_fields=["source_channel", "source_campaign", "updated_at"])
        declare_changed(moments=stamps(locked))
    contact.source_channel, contact.source_campaign = source_channel, source_campaign
    return locked


def contact_assign_owner(*, contacts: Any, owner: Actor | None) -> int:
    """Give the contacts (a queryset) to `owner` (or to nobody); one UPDATE."""
    check_owner(owner)
    return contacts.update(owner=owner, updated_at=timezone.now())


# --- touchpoints ------------------------------------------------------------------------------


def touchpoint_record(
    *,
    contact: Contact,
    kind: str = Touchpoint.Kind.VISIT,
    occurred_at: dt.datetime | None = None,
    channel: Channel | None = None,
    campaign: Campaign | None = None,
    source: str = "",
    utm_campaign: str = "",
    tracking_phone: str = "",
    external_id: str | None = None,
    metadata: dict | None = None,
) -> tuple[Touchpoint, bool]:
    """Record one interaction of a contact with a channel; returns (touchpoint, created).

    The rules (`leads.rules.new_touch`): the channel comes from the campaign when there is one
    (a tracking phone names its campaign and makes the touch a call; a utm_campaign names one,
    preferring the given channel), else from `channel`, else from `source` through the aliases.
    Replaying an `external_id` with the same content returns the stored touch; with other
    content it is refused (a replay without a time keeps the stored time).
    """
    touch, time_given = rules.new_touch(
        refs=REFS,
        contact=contact,
        kind=kind,
        occurred_at=occurred_at,
        channel=channel,
        campaign=campaign,
        source=source,
        utm_campaign=utm_campaign,
        tracking_phone=tracking_phone,
        external_id=external_id,
        metadata=metadata,
    )
    if touch.external_id is not None:
        existing = Touchpoint.objects.filter(external_id=touch.external_id).first()
        if existing is not None:
            return rules.touch_replay(existing, touch, time_given=time_given), False
    try:
        with transaction.atomic():
            touch.save()
            # Its own day too: calls and touches are shown per period.
            purchases_affected([contact.pk], touch.occurred_at, touch.occurred_at)
    except IntegrityError:
        # The same event arrived twice at once and the other copy won: answer as a replay.
        existing = Touchpoint.objects.filter(external_id=touch.external_id).first()
        if existing is None:
            raise
        return rules.touch_replay(existing, touch, time_given=time_given), False
    return touch, True


# --- purchases --------------------------------------------------------------------------------


def _redeem(coupon: Coupon) -> None:
    """Count one redemption with a conditional UPDATE that must touch exactly one row, so two
    concurrent purchases can never both take the last redemption."""
    updated = (
        Coupon.objects.filter(pk=coupon.pk, active=True)
        .filter(Q(max_redemptions__isnull=True) | Q(redemptions__lt=F("max_redemptions")))
        .update(redemptions=F("redemptions") + 1)
    )
    if updated != 1:
        raise rules.coupon_used_up(coupon)


def _walk_in_contact(
    *,
    email: str,
    coupon: Coupon | None,
    at: dt.datetime,
    by: Actor | None,
    via: Via | str,
    **fields,
) -> Contact:
    """The contact for an unknown email: enters as a customer, sourced from the coupon.

    Two purchases for one new email at once: the unique lower(email) index lets one insert win;
    the other waits for it, fails in its savepoint and reads the winner's row.
    """
    try:
        with transaction.atomic():
            return contact_create(
                email=email,
                coupon=coupon,
                stage=Stage.CUSTOMER,
                entered_at=at,
                record_first_touch=False,  # the coupon touch of the purchase is its first touch
                by=by,
                via=via,
                **fields,
            )
    except IdempotencyConflict:
        existing = contact_by_email(email)
        if existing is None:
            raise
        return existing


def purchase_record(
    *,
    amount: Any,
    occurred_at: dt.datetime | None = None,
    contact: Contact | None = None,
    email: str = "",
    coupon: Coupon | str | None = None,
    discount: Any = 0,
    external_id: str | None = None,
    note: str = "",
    contact_fields: dict[str, str] | None = None,
    unmatched_code: str = "",
    by: Actor | None = None,
    via: Via | str,
) -> tuple[Purchase, bool]:
    """Record a purchase; returns (purchase, created).

    The contact is given, or found by email (case-insensitively), or created as a walk-in
    customer. A coupon must be active, within its window at the purchase time and under its
    redemption cap; it records a `coupon` touchpoint on its campaign. The contact becomes a
    customer at the purchase time unless an earlier purchase already made it one
    (`leads.rules.after_purchase`). Replaying an `external_id` with the same content changes
    nothing; with other content it is refused (a replay without a time keeps the stored time).
    A shop's discount code that names no coupon is kept as `unmatched_code`, for mapping later
    (`purchases_apply_coupon`).
    """
    if isinstance(coupon, str):
        code = coupon
        coupon = REFS.coupon(code) if code.strip() else None
        if coupon is None and code.strip():
            raise InvalidInput(rules.unknown_coupon(code), field="coupon")
    purchase, time_given = rules.new_purchase(
        contact=contact,
        email=email,
        amount=amount,
        discount=discount,
        occurred_at=occurred_at,
        coupon=coupon,
        external_id=external_id,
        note=note,
    )
    if coupon is None:
        # Kept as reported (a NUL cannot be stored; longer than any coupon code is cut).
        purchase.unmatched_code = (unmatched_code or "").replace("\x00", "").strip()[:100]
    external_id = purchase.external_id

    def replay(existing: Purchase) -> Purchase:
        return rules.purchase_replay(
            existing, purchase, contact=contact, email=email, time_given=time_given
        )

    if external_id is not None:
        existing = (
            Purchase.objects.select_related("contact").filter(external_id=external_id).first()
        )
        if existing is not None:
            return replay(existing), False

    if coupon is not None:
        rules.check_coupon(coupon, purchase.occurred_at)

    try:
        with transaction.atomic():
            if contact is None:
                contact = contact_by_email(email) or _walk_in_contact(
                    email=email,
                    coupon=coupon,
                    at=purchase.occurred_at,
                    by=by,
                    via=via,
                    **(contact_fields or {}),
                )
            purchase.contact = contact
            purchase.save()
            if coupon is not None:
                _redeem(coupon)
                rules.coupon_touch(purchase).save()
            _after_purchase(contact=contact, purchase=purchase, by=by, via=via)
            purchases_affected([contact.pk], purchase.occurred_at)
    except IntegrityError:
        if external_id is None:
            raise
        # The same order arrived twice at once; the other copy committed first.
        existing = (
            Purchase.objects.select_related("contact").filter(external_id=external_id).first()
        )
        if existing is None:
            raise
        return replay(existing), False
    return purchase, True


def _after_purchase(
    *, contact: Contact, purchase: Purchase, by: Actor | None, via: Via | str
) -> None:
    """Tag, stamp and move the buyer (`leads.rules.after_purchase`) under its row lock; the
    move, when there is one, is recorded like any other."""
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    before, coupon_before = stamps(locked), locked.coupon_id
    moved_from = rules.after_purchase(locked, purchase)
    if moved_from is not None or stamps(locked) != before or locked.coupon_id != coupon_before:
        locked.save(update_fields=["stage", "coupon", *STAMP_NAMES, "updated_at"])
    if moved_from is not None:
        rules.stage_change(
            locked,
            from_stage=moved_from,
            to_stage=Stage.CUSTOMER,
            at=purchase.occurred_at,
            by=by,
            via=via,
        ).save()
    if stamps(locked) != before:
        # The stamps it set or pulled back count on their days, and the entry day's cohort
        # figures with them (as with contact_move_stage).
        declare_changed(moments=[*before, *stamps(locked)])
    contact.coupon_id = locked.coupon_id
    _copy_stage_fields(locked, contact)


def purchases_apply_coupon(
    *, code: str, coupon: Coupon, by: Actor | None = None, via: Via | str
) -> list[Purchase]:
    """Give the purchases kept with the unmatched discount `code` its coupon, now that someone
    mapped it: each records its coupon touch and tags its buyer as if the coupon had been known
    on arrival, and a buyer whose source was unknown (a walk-in) is sourced from the coupon's
    campaign. The shop accepted the code already: its window and cap are not checked again,
    but each purchase counts as a redemption. Returns the purchases changed."""
    key = rules.code_key(code)
    if not key:
        raise InvalidInput("Give the discount code to map.", field="code")
    with transaction.atomic():
        purchases = list(
            Purchase.objects.select_for_update()
            .select_related("contact")
            .annotate(code=Lower("unmatched_code"))
            .filter(code=key, coupon__isnull=True)
            .order_by("occurred_at", "pk")
        )
        for purchase in purchases:
            purchase.coupon, purchase.unmatched_code = coupon, ""
            purchase.save(update_fields=["coupon", "unmatched_code"])
            Coupon.objects.filter(pk=coupon.pk).update(redemptions=F("redemptions") + 1)
            rules.coupon_touch(purchase).save()
            buyer = purchase.contact
            if buyer.source_channel_id is None:
                contact_change_source(
                    contact=buyer, source_channel=None, source_campaign=coupon.campaign
                )
            _after_purchase(contact=buyer, purchase=purchase, by=by, via=via)
            # The coupon touch joins this and the buyer's later purchases.
            purchases_affected([buyer.pk], purchase.occurred_at, purchase.occurred_at)
    return purchases


def contact_touched(
    *,
    email: str = "",
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    heard_about: str = "",
    stage: Stage | str = Stage.LEAD,
    move: bool = True,
    touch: dict[str, Any],
    by: Actor | None = None,
    via: Via | str,
) -> tuple[Contact, Touchpoint, bool]:
    """A person made themselves known through a touch (a form fill, a call, a shop visit):
    record it and return (contact, touch, contact created).

    The person is the contact with this email, else with this phone (compared in E.164), else a
    new contact entering at `stage` at the touch's time, sourced from the touch's channel and
    campaign; the touch is its first. A known contact below `stage` moves up to it at the
    touch's time (a follower who fills a form becomes a lead) when `move` is set; one at or
    beyond keeps its stage.
    `heard_about` is what the person says brought them (kept on a new contact, or on a known
    one that had not said). `touch` holds `touchpoint_record`'s arguments (kind, occurred_at, source, utm_campaign,
    channel, campaign, tracking_phone, external_id, metadata)."""
    target = Stage(stage)
    with transaction.atomic():
        contact = contact_by_email(email) if email_key(email) else None
        if contact is None and phone_e164(phone):
            contact = contact_by_phone(phone)
        created = contact is None
        if contact is None:
            at = rules.moment(touch.get("occurred_at"), field="occurred_at")
            channel, campaign = rules.touch_target(
                channel=touch.get("channel"),
                campaign=touch.get("campaign")
                or (
                    REFS.campaign_by_phone(touch["tracking_phone"])
                    if touch.get("tracking_phone")
                    else None
                ),
                utm_campaign=touch.get("utm_campaign", ""),
                source=touch.get("source", ""),
                refs=REFS,
            )
            contact = _walk_in_or_winner(
                email=email,
                phone=phone,
                first_name=first_name,
                last_name=last_name,
                company=company,
                heard_about=heard_about,
                source_channel=channel,
                source_campaign=campaign,
                stage=target,
                entered_at=at,
                by=by,
                via=via,
            )
            touch = {**touch, "occurred_at": at}
        touchpoint, _ = touchpoint_record(contact=contact, **touch)
        if heard_about and not created and not contact.heard_about:
            # What a known person says the first time they are asked is kept; a later answer
            # does not overwrite it.
            contact = contact_update(contact=contact, heard_about=heard_about)
        if move and not created and contact.stage_enum.rank < target.rank:
            contact_move_stage(
                contact=contact,
                stage=target,
                at=max(touchpoint.occurred_at, contact.entered_at),
                by=by,
                via=via,
            )
    return contact, touchpoint, created


def _walk_in_or_winner(*, email: str, by: Actor | None, via: Via | str, **fields: Any) -> Contact:
    """A new contact without its first touch (the caller records it, with its event's details);
    two deliveries for one new email at once: one insert wins, the other reads its row."""
    try:
        with transaction.atomic():
            return contact_create(email=email, record_first_touch=False, by=by, via=via, **fields)
    except IdempotencyConflict:
        existing = contact_by_email(email)
        if existing is None:
            raise
        return existing


def contact_by_phone(phone: str) -> Contact | None:
    """The contact with this phone (its own or a secondary one), compared in E.164; the
    earliest when several share it."""
    e164 = phone_e164(phone)
    if not e164:
        return None
    return (
        Contact.objects.filter(
            Q(phone_e164=e164)
            | Q(pk__in=ContactPhone.objects.filter(phone_e164=e164).values("contact_id"))
        )
        .order_by("pk")
        .first()
    )


# --- merge and erase --------------------------------------------------------------------------


def contact_merge(
    *, survivor: Contact, other: Contact, by: Actor | None, via: Via | str
) -> Contact:
    """Merge `other` into `survivor` (one person recorded twice) and delete `other`.

    Touchpoints, purchases, history and referrals move to the survivor; blank fields of the
    survivor are filled from the other; the earliest stage stamps win and the furthest stage
    is kept; the source is the one of whoever entered first. The merge is recorded.
    """
    if survivor.pk == other.pk:
        raise InvalidInput("A contact cannot be merged into itself.", field="other")
    with transaction.atomic():
        # Lock both rows in id order, so two merges of the same pair cannot deadlock.
        locked = {
            c.pk: c
            for c in Contact.objects.select_for_update()
            .filter(pk__in=[survivor.pk, other.pk])
            .order_by("pk")
        }
        if len(locked) != 2:
            raise InvalidInput("One of the contacts no longer exists.", field="other")
        keep, gone = locked[survivor.pk], locked[other.pk]
        if keep.erased_at or gone.erased_at:
            raise InvalidInput("An erased contact cannot be merged.", field="other")
        # The other's email moves to the survivor (primary or secondary): no writer may check
        # it in between (`lock_emails`). Its secondary emails only change owner.
        lock_emails([gone.email])
        snapshot = {
            name: getattr(gone, name)
            for name in (
                *PERSONAL_FIELDS,
                "heard_about",
                "heard_channel_id",
                "stage",
                "external_id",
                "source_channel_id",
                "source_campaign_id",
                "coupon_id",
                "owner_id",
            )
        }
        snapshot.update({name: _iso(getattr(gone, name)) for name in STAMP_NAMES})
        snapshot["other_emails"] = list(gone.other_emails.values_list("email", flat=True))
        snapshot["other_phones"] = list(gone.other_phones.values_list("phone", flat=True))
        from_stage = keep.stage_enum

        Touchpoint.objects.filter(contact=gone).update(contact=keep)
        Purchase.objects.filter(contact=gone).update(contact=keep)
        StageChange.objects.filter(contact=gone).update(contact=keep)
        ContactMerge.objects.filter(survivor=gone).update(survivor=keep)
        Contact.objects.filter(referred_by=gone).exclude(pk=keep.pk).update(referred_by=keep)

        # Nothing that finds the person is lost: the other's emails and phones that the
        # survivor does not take as its own become its secondary ones (`_keep_contact_points`).
        ContactEmail.objects.filter(contact=gone).update(contact=keep)
        ContactPhone.objects.filter(contact=gone).update(contact=keep)
        to_stage = rules.merge_into(keep, gone)

        gone.delete()  # frees its email and external_id for the survivor
        _keep_contact_points(keep, emails=[gone.email], phones=[(gone.phone, gone.phone_e164)])
        keep.save()
        if to_stage != from_stage:
            StageChange.objects.create(
                contact=keep,
                from_stage=from_stage,
                to_stage=to_stage,
                at=getattr(keep, to_stage.stamp_field),
                changed_by=by,
                via=via,
                note=f"merge of contact #{other.pk}",
            )
        ContactMerge.objects.create(
            survivor=keep, merged_contact_id=other.pk, merged_fields=snapshot, merged_by=by, via=via
        )
        # The other's counts leave its source; the survivor's purchases see new touches.
        purchases_affected(
            [keep.pk],
            dt.datetime.min.replace(tzinfo=dt.UTC),
            *(getattr(c, n) for c in (gone, keep, survivor) for n in STAMP_NAMES if getattr(c, n)),
        )
    return keep


def _keep_contact_points(
    contact: Contact, *, emails: Iterable[str], phones: Iterable[tuple[str, str]]
) -> None:
    """Add these emails and (raw, E.164) phones to the contact's secondary ones, except those it
    already has (primary or secondary; phones compare by E.164, else by their raw text), and
    write its `other_contact_points`, the text the search reads. The contact is saved by the
    caller."""
    have_emails = {email_key(contact.email)} | {
        email_key(e) for e in contact.other_emails.values_list("email", flat=True)
    }
    for email in emails:
        if email and email_key(email) not in have_emails:
            have_emails.add(email_key(email))
            ContactEmail.objects.create(contact=contact, email=email)
    stored = [
        (contact.phone, contact.phone_e164),
        *contact.other_phones.values_list("phone", "phone_e164"),
    ]
    have_phones = {e164 or raw for raw, e164 in stored if raw}
    for raw, e164 in phones:
        if raw and (e164 or raw) not in have_phones:
            have_phones.add(e164 or raw)
            ContactPhone.objects.create(contact=contact, phone=raw, phone_e164=e164)
    _write_contact_points(contact)


def _write_contact_points(contact: Contact) -> None:
    emails = contact.other_emails.values_list("email", flat=True)
    phones = contact.other_phones.values_list("phone", "phone_e164")
    contact.other_contact_points = " ".join([*emails, *(p for pair in phones for p in pair if p)])


def _drop_other_email(contact: Contact, email: str) -> None:
    dropped, _ = (
        ContactEmail.objects.filter(contact=contact)
        .annotate(email_lower=Lower("email"))
        .filter(email_lower=email_key(email))
        .delete()
    )
    if dropped:
        _write_contact_points(contact)
        contact.save(update_fields=["other_contact_points"])


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_erase(*, contact: Contact, by: Actor | None, via: Via | str) -> Contact:
    """Blank a contact's personal data for good (a data-subject request).

    Its touchpoints and purchases stay, anonymous, so past reports keep their figures; free
    text that could hold personal data (notes, metadata, merge snapshots) goes too.
    """
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        # The words of "how did you hear about us" may name people ("my friend Jo Bloggs");
        # the channel they named stays, like the touches: a figure, not personal data.
        for name in (*PERSONAL_FIELDS, "phone_e164", "other_contact_points", "heard_about"):
            setattr(locked, name, "")
        ContactEmail.objects.filter(contact=locked).delete()
        ContactPhone.objects.filter(contact=locked).delete()
        locked.external_id = None
        locked.erased_at = timezone.now()
        locked.save()
        Touchpoint.objects.filter(contact=locked).update(metadata={})
        Purchase.objects.filter(contact=locked).update(note="")
        Refund.objects.filter(purchase__contact=locked).update(note="")
        ContactMerge.objects.filter(survivor=locked).update(merged_fields={})
        StageChange.objects.create(
            contact=locked,
            from_stage=locked.stage,
            to_stage=locked.stage,
            at=locked.erased_at,
            changed_by=by,
            via=via,
            note="personal data erased",
        )
    return locked


# --- deletions (superusers correcting a mistake) ------------------------------------------------


def contact_delete(*, contact: Contact) -> None:
    """Delete a contact recorded by mistake, with its touches and history. One with purchases
    cannot go (reports would lose revenue): erase it instead."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().filter(pk=contact.pk).first()
        if locked is None:
            return
        if Purchase.objects.filter(contact=locked).exists():
            raise Conflict(
                f"{locked} has purchases; erase the personal data instead of deleting.",
                field="contact",
            )
        days = stamps(locked)
        locked.delete()
        declare_changed(moments=days)


def touchpoint_delete(*, touch: Touchpoint) -> None:
    """Delete a touch recorded by mistake: the contact's purchases from then on lose it. A
    purchase's coupon touch goes with its purchase only."""
    with transaction.atomic():
        locked = Touchpoint.objects.select_for_update().filter(pk=touch.pk).first()
        if locked is None:
            return
        if locked.kind == Touchpoint.Kind.COUPON and _coupon_purchase(locked) is not None:
            raise Conflict(
                "This is a purchase's coupon touch: delete the purchase instead.", field="touch"
            )
        locked.delete()
        purchases_affected([locked.contact_id], locked.occurred_at, locked.occurred_at)


def _coupon_touch(purchase: Purchase) -> Touchpoint | None:
    """The coupon touch a purchase recorded: named in its metadata, or (metadata erased, or
    written in bulk by the demo) the contact's coupon touch on the coupon's campaign at the
    purchase's time."""
    touches = Touchpoint.objects.filter(contact_id=purchase.contact_id, kind=Touchpoint.Kind.COUPON)
    named = touches.filter(metadata__purchase_id=purchase.pk).order_by("id").first()
    if named is not None:
        return named
    return (
        touches.filter(occurred_at=purchase.occurred_at, campaign__coupons=purchase.coupon_id)
        .exclude(metadata__has_key="purchase_id")
        .order_by("id")
        .first()
    )


def _coupon_purchase(touch: Touchpoint) -> Purchase | None:
    """The purchase whose coupon touch this is, if that purchase still exists."""
    purchases = Purchase.objects.filter(contact_id=touch.contact_id, coupon__isnull=False)
    if touch.metadata.get("purchase_id"):
        return purchases.filter(pk=touch.metadata["purchase_id"]).first()
    return (
        purchases.filter(occurred_at=touch.occurred_at, coupon__campaign=touch.campaign_id)
        .order_by("id")
        .first()
    )


def purchase_delete(*, purchase: Purchase) -> None:
    """Delete a purchase recorded by mistake (a test order), with its coupon touch, its
    redemption and its refunds. The contact stays a customer, as after a refund: stages only
    move forward."""
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().filter(pk=purchase.pk).first()
        if locked is None:
            return
        if locked.coupon_id:
            coupon_touch = _coupon_touch(locked)
            if coupon_touch is not None:
                coupon_touch.delete()
            Coupon.objects.filter(pk=locked.coupon_id, redemptions__gt=0).update(
                redemptions=F("redemptions") - 1
            )
        # Its refunds go with it: they lowered its revenue, which leaves with it (its day is
        # declared below, whatever it had).
        Refund.objects.filter(purchase=locked).delete()
        locked.delete()
        # Later purchases of the contact may now be its first one, or lose a coupon touch.
        purchases_affected([locked.contact_id], locked.occurred_at, locked.occurred_at)


# --- refunds ----------------------------------------------------------------------------------


def refund_record(
    *,
    purchase: Purchase,
    amount: Any,
    occurred_at: dt.datetime | None = None,
    external_id: str | None = None,
    note: str = "",
    by: Actor | None = None,
    via: Via | str,
) -> tuple[Refund, bool]:
    """Record money given back on a purchase; returns (refund, created).

    The purchase's revenue becomes its amount less its refunds, credited with its shares on its
    own day: that day's figures change (a refund is late data for it), not the refund's day.
    The contact stays a customer. A refund is more than zero, not before its purchase, not in
    the future (`leads.rules.new_refund`), and the purchase's refunds never add up to more than
    its amount: checked under the purchase's row lock, so two refunds at once cannot both take
    the last of it. Replaying an `external_id` with the same content changes nothing; with
    other content it is refused (a replay without a time keeps the stored time).
    """
    refund, time_given = rules.new_refund(
        purchase=purchase,
        amount=amount,
        occurred_at=occurred_at,
        external_id=external_id,
        note=note,
    )
    refund.recorded_by_id = by.pk if by is not None else None
    refund.via = via
    external_id = refund.external_id
    if external_id is not None:
        existing = Refund.objects.filter(external_id=external_id).first()
        if existing is not None:
            return rules.refund_replay(existing, refund, time_given=time_given), False
    try:
        with transaction.atomic():
            locked = Purchase.objects.select_for_update().filter(pk=purchase.pk).first()
            if locked is None:
                raise InvalidInput(rules.unknown_purchase(purchase.pk), field="purchase")
            if external_id is not None:
                # The same refund sent twice at once waited here for the other copy: that one
                # is stored now, and this is its replay (not a refund of what is left).
                existing = Refund.objects.filter(external_id=external_id).first()
                if existing is not None:
                    return rules.refund_replay(existing, refund, time_given=time_given), False
            refunded = Refund.objects.filter(purchase=locked).aggregate(total=Sum("amount"))
            rules.check_refundable(
                locked, refunded=refunded["total"] or Decimal(0), amount=refund.amount
            )
            refund.save()
            declare_changed(moments=[locked.occurred_at])
    except IntegrityError:
        if external_id is None:
            raise
        # The same refund arrived twice at once; the other copy committed first.
        existing = Refund.objects.filter(external_id=external_id).first()
        if existing is None:
            raise
        return rules.refund_replay(existing, refund, time_given=time_given), False
    refund.purchase = locked
    return refund, True


def refund_delete(*, refund: Refund) -> None:
    """Delete a refund recorded by mistake: its purchase's revenue is whole again, on the
    purchase's day."""
    with transaction.atomic():
        # The purchase's lock first, as `refund_record` takes it: the two cannot deadlock.
        purchase = Purchase.objects.select_for_update().filter(pk=refund.purchase_id).first()
        deleted, _ = Refund.objects.filter(pk=refund.pk).delete()
        if deleted and purchase is not None:
            declare_changed(moments=[purchase.occurred_at])
