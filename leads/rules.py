"""The rules of contacts, touches and purchases, and every message they answer with: written once.

Two doors apply them. `leads.services` takes one event at a time (the single endpoints, the
admin, imports, tasks); `leads.bulk` takes a batch of POST /api/v1/events/ at once, preloading
its references and writing its rows in bulk. Both call these functions for every decision, in
the same order, so an event gets the same answer and the same rows whichever door it took.

Nothing here writes. The functions build unsaved rows, change unsaved or locked instances, or
raise a `DomainError`; references are read through a `Refs`: this module's one query per
look-up, or `leads.bulk.BatchRefs`, which answers from rows preloaded once per batch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.errors import CouponRefused, IdempotencyConflict, InvalidInput
from campaigns.inputs import plain_decimal, unstorable
from campaigns.models import Campaign, Channel, ChannelAlias, Coupon, is_future
from campaigns.phones import phone_e164
from campaigns.services import campaign_by_tracking_phone, normalize_source
from leads.models import (
    HEARD_ABOUT_MAX_LENGTH,
    STAGE_ORDER,
    Contact,
    ContactEmail,
    Purchase,
    Refund,
    Stage,
    StageChange,
    Touchpoint,
)

CENT = Decimal("0.01")
MAX_ID = 2**63 - 1  # ids beyond a bigint name nothing (and must not reach the database)
STAMP_NAMES = [s.stamp_field for s in STAGE_ORDER]
TOUCH_KINDS = frozenset(Touchpoint.Kind.values)


# --- references: keys and the messages for unknown ones --------------------------------------


def unknown_channel(slug: str) -> str:
    return f"Unknown channel {slug!r}."


def unknown_campaign(pk: int) -> str:
    return f"Unknown campaign {pk}."


def unknown_contact(pk: int) -> str:
    return f"Unknown contact {pk}."


def unknown_coupon(code: str) -> str:
    return f"Unknown coupon code {code!r}."


GIVE_A_CONTACT = "Give a contact id or an email."
NO_CONTACT_WITH_EMAIL = "No contact has this email; create it first."
NOT_THE_CONTACTS_EMAIL = "Does not match the contact's email."


def slug_key(slug: str) -> str:
    return (slug or "").strip().lower()


INVALID_EMAIL = "Enter a valid email address."
ASCII_LOCAL_PART = (
    "Use only ASCII characters before the @: addresses with other characters there are not "
    "supported (their case rules differ between Python and the databases)."
)


def email_address(email: str) -> str:
    """The form an email is stored and compared in, at every door.

    Emails compare without regard to case, through the unique lower(email) index; SQLite's and
    PostgreSQL's LOWER() agree with Python's `str.lower` on ASCII only (dotted and dotless i, sharp s, final sigma fold
    differently, or not at all, depending on the database and its locale). So the part before
    the @ must be ASCII, and an international domain is stored in its ASCII (IDNA) form, which
    folds its case once, here: every stored address is ASCII, and every LOWER() agrees."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if not (at and local and domain):
        raise InvalidInput(INVALID_EMAIL, field="email")
    if not local.isascii():
        raise InvalidInput(ASCII_LOCAL_PART, field="email")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidInput(INVALID_EMAIL, field="email") from None
    return f"{local}@{domain}"


def email_key(email: str | None) -> str:
    """Emails compare without regard to case (the unique lower(email) index), in the stored
    form (`email_address`). One that cannot be stored keeps its text: it matches no contact."""
    email = (email or "").strip()
    try:
        return email_address(email).lower() if email else ""
    except InvalidInput:
        return email


def code_key(code: str | None) -> str:
    """Coupon codes and utm_campaign tags compare without regard to case."""
    return (code or "").strip().lower()


class Refs:
    """The look-ups the rules make, one query each: the per-event door's. `BatchRefs` answers
    the same questions from preloaded rows; both use the keys above, so they find the same rows.
    """

    def channel(self, slug: str) -> Channel | None:
        return Channel.objects.filter(slug=slug_key(slug)).first()

    def alias(self, key: str) -> Channel | None:
        alias = ChannelAlias.objects.select_related("channel").filter(alias=key).first()
        return alias.channel if alias else None

    def channels_named(self, keys: Iterable[str]) -> dict[str, Channel]:
        """The channels these lower-case keys name, by slug or alias (a slug wins): two
        queries, whatever the number of keys."""
        keys = list(keys)
        named = {
            a.alias: a.channel
            for a in ChannelAlias.objects.select_related("channel").filter(alias__in=keys)
        }
        named.update({c.slug: c for c in Channel.objects.filter(slug__in=keys)})
        return named

    def campaign(self, pk: int) -> Campaign | None:
        if not 0 < pk <= MAX_ID:
            return None
        return Campaign.objects.select_related("channel").filter(pk=pk).first()

    def campaigns_tagged(self, utm_campaign: str) -> list[Campaign]:
        """Campaigns tagged with this utm_campaign, the latest to start first."""
        return list(
            Campaign.objects.select_related("channel")
            .annotate(utm=Lower("utm_campaign"))
            .filter(utm=code_key(utm_campaign))
            .order_by("-starts_on", "-id")
        )

    def campaign_by_phone(self, phone: str) -> Campaign:
        return campaign_by_tracking_phone(phone)

    def coupon(self, code: str) -> Coupon | None:
        return (
            Coupon.objects.select_related("campaign__channel")
            .annotate(code_lower=Lower("code"))
            .filter(code_lower=code_key(code))
            .first()
        )

    def contact(self, pk: int) -> Contact | None:
        if not 0 < pk <= MAX_ID:
            return None
        return Contact.objects.filter(pk=pk).first()

    def contact_by_email(self, email: str) -> Contact | None:
        return contact_by_email(email)


REFS = Refs()  # the per-event door's look-ups


def contacts_by_email(queryset: QuerySet[Contact], keys: Iterable[str]) -> QuerySet[Contact]:
    """The contacts whose email is one of these (lower-cased) keys, annotated `email_lower`.
    Blank emails are excluded in so many words: the unique lower(email) index is partial (it
    leaves them out), and PostgreSQL uses it only when the query says so."""
    return (
        queryset.exclude(email="")
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=list(keys))
    )


def secondary_emails(keys: Iterable[str]) -> dict[str, int]:
    """The contact id of each of these (lower-cased) keys that is a contact's secondary email
    (uses the unique lower(email) index of ContactEmail)."""
    rows = (
        ContactEmail.objects.order_by()
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=list(keys))
        .values_list("email_lower", "contact_id")
    )
    return dict(rows)


def contact_by_email(email: str | None, *, lock: bool = False) -> Contact | None:
    """The contact with this email, case-insensitively: its primary email (the unique
    lower(email) index), else one of its secondary emails (`ContactEmail`, kept by a merge)."""
    key = email_key(email)
    if not key:
        return None
    queryset = contacts_by_email(Contact.objects.all(), [key])
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    found = queryset.first()
    if found is not None:
        return found
    contact_id = secondary_emails([key]).get(key)
    if contact_id is None:
        return None
    queryset = Contact.objects.filter(pk=contact_id)
    if lock:
        queryset = queryset.select_for_update()
    return queryset.first()


def is_email_of(contact: Contact, email: str | None, refs: Refs | None = None) -> bool:
    """Whether this email is the contact's: its primary email, or one of its secondary ones
    (asked only when the primary differs, through `refs` when given)."""
    key = email_key(email)
    if not key:
        return False
    if key == email_key(contact.email):
        return True
    found = (refs or REFS).contact_by_email(key)
    return found is not None and found.pk == contact.pk


# --- values -------------------------------------------------------------------------------------


def moment(value: dt.datetime | None, *, field: str) -> dt.datetime:
    """An event's time: now when it gives none; aware; never in the future (`is_future`)."""
    if value is None:
        return timezone.now()
    if not isinstance(value, dt.datetime):
        raise InvalidInput("Must be a date and time.", field=field)
    if timezone.is_naive(value):
        raise InvalidInput("Must include a time zone.", field=field)
    if is_future(value):
        raise InvalidInput("Must not be in the future.", field=field)
    return value


def money(value: Any, *, field: str, positive: bool) -> Decimal:
    try:
        amount = plain_decimal(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None
    if not amount.is_finite():
        raise InvalidInput("Must be a decimal amount.", field=field)
    if amount != amount.quantize(CENT):
        raise InvalidInput("Must have at most two decimal places.", field=field)
    if positive and amount <= 0:
        raise InvalidInput("Must be greater than zero.", field=field)
    if not positive and amount < 0:
        raise InvalidInput("Must not be negative.", field=field)
    if amount >= Decimal("1e12"):
        raise InvalidInput("Is too large.", field=field)
    return amount.quantize(CENT)


def external_id_or_none(value: str | None) -> str | None:
    """Unset external ids are NULL, so the unique constraint binds real ids only."""
    return value if value is not None and value.strip() else None


def _replay_conflict(external_id: str | None, differing: list[str]) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"external_id {external_id!r} was already used with different {', '.join(differing)}.",
        field="external_id",
    )


# --- stages -------------------------------------------------------------------------------------


def stamps(*contacts: Contact) -> list[dt.datetime]:
    """Every stage stamp of these contacts: the days their funnel counts are dated on."""
    return [getattr(c, n) for c in contacts for n in STAMP_NAMES if getattr(c, n)]


def stamp_up_to(contact: Contact, stage: Stage, at: dt.datetime) -> None:
    """Stamp `stage` and every earlier stage: the earliest time wins, so the funnel stays
    monotone."""
    for earlier in STAGE_ORDER[: stage.rank + 1]:
        current = getattr(contact, earlier.stamp_field)
        if current is None or current > at:
            setattr(contact, earlier.stamp_field, at)


def clear_above(contact: Contact, stage: Stage) -> None:
    for later in STAGE_ORDER[stage.rank + 1 :]:
        setattr(contact, later.stamp_field, None)


def stage_change(
    contact: Contact,
    *,
    from_stage: Stage | str,
    to_stage: Stage | str,
    at: dt.datetime,
    by: Any,
    via: str,
    forced: bool = False,
    note: str = "",
) -> StageChange:
    """The history row of one move (from "" on entry)."""
    return StageChange(
        contact=contact,
        from_stage=from_stage,
        to_stage=to_stage,
        at=at,
        changed_by_id=by.pk if by is not None else None,
        via=via,
        forced=forced,
        note=note[:300],
    )


def after_purchase(contact: Contact, purchase: Purchase) -> Stage | None:
    """What a purchase does to its buyer: the first coupon it uses tags it; it becomes a
    customer at the purchase time unless it is one already, and the earliest purchase wins the
    customer stamp (pulling back earlier stamps with it). Returns the stage it moved from, when
    it moved: that move is the one StageChange to write."""
    if contact.coupon_id is None and purchase.coupon_id is not None:
        contact.coupon_id = purchase.coupon_id
    stamp_up_to(contact, Stage.CUSTOMER, purchase.occurred_at)
    if contact.stage == Stage.CUSTOMER:
        return None
    moved_from = Stage(contact.stage)
    contact.stage = Stage.CUSTOMER
    return moved_from


# --- contacts -----------------------------------------------------------------------------------


def channel_for_source(source: str | None, refs: Refs) -> Channel:
    """The channel a utm_source or referrer names: a slug, an alias, else `referral` (`direct`
    when empty). The caller keeps the verbatim source on the touch, so it is never lost."""
    key = normalize_source(source)
    if not key:
        return refs.channel("direct")
    return refs.channel(key) or refs.alias(key) or refs.channel("referral")


# What splits "how did you hear about us" into words: anything but letters, digits and the
# marks inside a host name or an alias ("instagram.com", "e-mail", "(direct)" stay whole).
HEARD_SPLIT = re.compile(r"[^\w.()-]+")
HEARD_EDGES = ".()-"
HEARD_MAX_WORDS = 3  # the longest run of words compared with the aliases ("word of mouth")
NOT_HEARD = "direct"
UNSET: Any = object()  # an argument not given (None means "no channel")


def heard_channel_for(words: str | None, refs: Refs) -> Channel | None:
    """The channel a person's "how did you hear about us" names, or None.

    The whole answer is read first ("Instagram", "IG", "instagram.com", and a pasted address
    by its host: "https://www.instagram.com/shop" name instagram); else each run of one to
    three of its words, any case, so "saw you on Insta!" names instagram too. A channel is named by its slug or one of
    its aliases (`ChannelAlias`), `direct` aside; an answer whose words name two channels
    ("Facebook, then Instagram") names none, rather than a guess. Unlike a tracked source, words that name no
    channel fall nowhere (no `referral`, no `direct`): the words are kept, the channel is None.
    """
    text = (words or "").strip().lower()
    if not text:
        return None
    whole = normalize_source(text) if "://" in text else text  # a pasted address: its host
    tokens = [t.strip(HEARD_EDGES) for t in HEARD_SPLIT.split(text)]
    tokens = [t for t in tokens if t]
    runs = {
        " ".join(tokens[i : i + n])
        for n in range(1, HEARD_MAX_WORDS + 1)
        for i in range(len(tokens) - n + 1)
    }
    keys = ({whole, text} | runs) - {""}
    # `direct` is the absence of a referrer, which nobody hears through: its aliases ("none",
    # "typein") answer the question with nothing, not with a channel.
    named = {k: c for k, c in refs.channels_named(keys).items() if c.slug != NOT_HEARD}
    for key in (text, whole):
        if key in named:
            return named[key]
    found = {channel.pk: channel for key, channel in named.items()}
    return next(iter(found.values())) if len(found) == 1 else None


def heard_words(words: str | None) -> str:
    """The person's words as stored: trimmed, at most `HEARD_ABOUT_MAX_LENGTH` characters,
    storable (no NUL, no lone surrogate), or refused."""
    words = (words or "").strip()
    problem = unstorable(words)
    if problem:
        raise InvalidInput(problem, field="heard_about")
    if len(words) > HEARD_ABOUT_MAX_LENGTH:
        raise InvalidInput(
            f"Ensure this field has no more than {HEARD_ABOUT_MAX_LENGTH} characters.",
            field="heard_about",
        )
    return words


def heard_values(
    *, heard_about: str | None, heard_channel: Channel | None = UNSET, refs: Refs
) -> dict[str, Any]:
    """A contact's self-reported source, as every door stores it: the words (`heard_words`)
    and the channel given with them (a form's list, an API's slug), else the one the words
    name (`heard_channel_for`). The words never change a channel given beside them."""
    words = heard_words(heard_about)
    if heard_channel is UNSET:
        heard_channel = heard_channel_for(words, refs)
    return {"heard_about": words, "heard_channel": heard_channel}


def _other_channel(campaign: Campaign, channel: Channel, *, field: str) -> InvalidInput:
    return InvalidInput(
        f"Campaign {campaign.name!r} runs on {campaign.channel.slug}, not {channel.slug}.",
        field=field,
    )


def source_of(
    *, channel: Channel | None, campaign: Campaign | None, field: str = "source_channel"
) -> Channel | None:
    """A campaign names its channel; a channel given beside it must be that one."""
    if campaign is None:
        return channel
    if channel is not None and channel.pk != campaign.channel_id:
        raise _other_channel(campaign, channel, field=field)
    return campaign.channel


def new_contact(*, refs: Refs, **given: Any) -> Contact:
    """A new contact (unsaved) entering the funnel at its stage, stamped up to it: the row of
    `contact_values`."""
    return Contact(**contact_values(refs=refs, **given))


def contact_values(
    *,
    refs: Refs,
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
    owner: Any = None,
    referred_by: Contact | None = None,
    external_id: str | None = None,
    heard_about: str = "",
    heard_channel: Channel | None = UNSET,
) -> dict[str, Any]:
    """The fields of a new contact entering the funnel at `stage`, stamped up to it (every
    stage up to its own at `entered_at`), by name; references are rows, left out when None.

    Its source is the coupon's campaign, else the campaign, else the channel, else `source`
    resolved through the channel aliases; with none of them it is unknown (NULL): the contact
    counts in the `unattributed` row, like the revenue it brings, and gets no first touch.
    What the person says of how they heard about us is kept beside it (`heard_values`).
    Every door builds its contacts from these values: `new_contact` as a model, the COPY path
    of imports (`leads.copyimport`) as a staged row.
    """
    try:
        stage = Stage(stage)
    except ValueError:
        raise InvalidInput(f"Unknown stage {stage!r}.", field="stage") from None
    require_identity(
        email=email, phone=phone, handle=handle, first_name=first_name, last_name=last_name
    )
    email = email_address(email) if (email or "").strip() else ""
    entered_at = moment(entered_at, field="entered_at")
    if coupon is not None and source_campaign is None:
        source_campaign = coupon.campaign
    source_channel = source_of(channel=source_channel, campaign=source_campaign)
    if source_channel is None and (source or "").strip():
        source_channel = channel_for_source(source, refs)
    heard = heard_values(heard_about=heard_about, heard_channel=heard_channel, refs=refs)
    # References that are None are left out: Django sets each given one through its
    # descriptor, which costs a batch of a thousand contacts more than the rest of the row.
    references = {
        "source_channel": source_channel,
        "source_campaign": source_campaign,
        "coupon": coupon,
        "owner": owner,
        "referred_by": referred_by,
        "heard_channel": heard["heard_channel"],
    }
    values = {
        "email": (email or "").strip(),
        "phone": phone or "",
        "phone_e164": phone_e164(phone),
        "handle": handle or "",
        "first_name": first_name or "",
        "last_name": last_name or "",
        "company": company or "",
        "notes": notes or "",
        "heard_about": heard["heard_about"],
        "external_id": external_id_or_none(external_id),
        "stage": stage,
        "entered_at": entered_at,
        **{name: value for name, value in references.items() if value is not None},
    }
    # A new contact has no stamp yet: each stage up to its own is reached at entry.
    for reached in STAGE_ORDER[: stage.rank + 1]:
        values[reached.stamp_field] = entered_at
    return values


IDENTITY = ("email", "phone", "handle", "first_name", "last_name")
NO_IDENTITY = (
    "Give at least one of email, phone, handle, first_name or last_name: a contact must say "
    "who it is."
)


def require_identity(**fields: str | None) -> None:
    """A contact must carry something a person can be found or recognised by (`IDENTITY`); a
    company, notes or a source alone name nobody."""
    if not any((fields.get(name) or "").strip() for name in IDENTITY):
        raise InvalidInput(NO_IDENTITY)


def email_in_use(email: str) -> IdempotencyConflict:
    return IdempotencyConflict(f"A contact with the email {email!r} already exists.", field="email")


def first_touch(contact: Contact, *, kind: str | None, source: str = "") -> Touchpoint | None:
    """A contact with a known source records its first touch at entry (kind follow unless
    given); one without gets none."""
    if contact.source_channel_id is None:
        return None
    return Touchpoint(
        contact=contact,
        channel_id=contact.source_channel_id,
        campaign_id=contact.source_campaign_id,
        occurred_at=contact.entered_at,
        **first_touch_values(kind=kind, source=source),
    )


def first_touch_values(*, kind: str | None, source: str = "") -> dict[str, str]:
    """What a first touch keeps of its event beside the contact's source and entry time: its
    kind (follow unless given) and the verbatim source, cut to the column."""
    return {"kind": kind or Touchpoint.Kind.FOLLOW, "source": (source or "")[:200]}


CONTACT_IDENTITY = ("email", "phone", "handle", "first_name", "last_name", "company")


def contact_replay(existing: Contact, data: dict[str, Any]) -> Contact:
    """The same contact sent again under its external_id: the stored one, or a conflict naming
    the identity fields that differ. Stage and dates move on after the first delivery, so they
    are not compared."""
    differing = [
        name
        for name in CONTACT_IDENTITY
        if name in data and (data[name] or "").lower() != (getattr(existing, name) or "").lower()
    ]
    if (
        data.get("source_channel") is not None
        and data["source_channel"].pk != existing.source_channel_id
    ):
        differing.append("source_channel")
    if differing:
        raise _replay_conflict(existing.external_id, differing)
    return existing


# --- merges -------------------------------------------------------------------------------------

PERSONAL_FIELDS = ("email", "phone", "handle", "first_name", "last_name", "company", "notes")


def merge_into(keep: Contact, gone: Contact) -> Stage:
    """What merging `gone` into `keep` makes of `keep`'s fields (on the instance, unsaved), and
    the stage it ends at: blank personal fields are filled from the other (a phone with its
    E.164 form), and so is a blank "how did you hear about us"; notes are joined; the source is the one of whoever entered first (a known source is never blanked); coupon, owner
    and external id are kept, else taken; the earliest stage stamps win and the furthest stage
    is kept. `leads.services.contact_merge` applies it to the locked rows, the admin's merge
    preview to copies, so the preview shows what the merge will do. The other's emails and
    phones the survivor does not take become its secondary ones (the service's part)."""
    from_stage = keep.stage_enum
    for name in PERSONAL_FIELDS:
        if not getattr(keep, name) and getattr(gone, name):
            setattr(keep, name, getattr(gone, name))
    if keep.phone == gone.phone:
        keep.phone_e164 = gone.phone_e164
    # How the person says they heard about us: the survivor's answer, else the other's, its
    # words and channel together.
    if not keep.heard_about and keep.heard_channel_id is None:
        keep.heard_about, keep.heard_channel_id = gone.heard_about, gone.heard_channel_id
    if gone.notes and keep.notes and gone.notes not in keep.notes:
        keep.notes = f"{keep.notes}\n\n{gone.notes}"
    # The source is the first touch: the earlier record's, unless it has none (a record entered
    # by hand without a source must not blank the other's known source).
    if gone.source_channel_id and (gone.entered_at < keep.entered_at or not keep.source_channel_id):
        keep.source_channel_id = gone.source_channel_id
        keep.source_campaign_id = gone.source_campaign_id
    for name in ("coupon_id", "owner_id", "external_id"):
        if getattr(keep, name) is None:
            setattr(keep, name, getattr(gone, name))
    if keep.referred_by_id in (None, gone.pk):
        keep.referred_by_id = gone.referred_by_id
    if keep.referred_by_id in (gone.pk, keep.pk):
        keep.referred_by_id = None
    for name in STAMP_NAMES:
        stamps = [s for s in (getattr(keep, name), getattr(gone, name)) if s is not None]
        setattr(keep, name, min(stamps) if stamps else None)
    to_stage = max(from_stage, gone.stage_enum, key=lambda s: s.rank)
    keep.stage = to_stage
    return to_stage


# --- touches ------------------------------------------------------------------------------------


def touch_target(
    *,
    channel: Channel | None,
    campaign: Campaign | None,
    utm_campaign: str,
    source: str,
    refs: Refs,
) -> tuple[Channel, Campaign | None]:
    """A touch's channel and campaign. The campaign is the one given, else the one tagged with
    `utm_campaign` (preferring one on the given channel, or on the channel `source` names, then
    the latest to start); it names the channel, and a channel given beside it must be that one.
    Without a campaign the channel is the one given, else the one `source` names."""
    if campaign is None and (utm_campaign or "").strip():
        wanted = channel or (channel_for_source(source, refs) if source else None)
        tagged = refs.campaigns_tagged(utm_campaign)
        on_channel = [c for c in tagged if wanted is not None and c.channel_id == wanted.pk]
        campaign = (on_channel or tagged or [None])[0]
    if campaign is not None:
        return source_of(channel=channel, campaign=campaign, field="channel"), campaign
    return channel or channel_for_source(source, refs), None


def new_touch(
    *,
    refs: Refs,
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
    """A touch (unsaved) and whether its time was given (a replay compares it only then).

    A tracking phone names its campaign and makes the touch a call (the per-event door only:
    the batch sends such touches there)."""
    if kind not in TOUCH_KINDS:
        raise InvalidInput(f"Unknown touchpoint kind {kind!r}.", field="kind")
    time_given = occurred_at is not None
    occurred_at = moment(occurred_at, field="occurred_at")
    if tracking_phone:
        campaign = refs.campaign_by_phone(tracking_phone)
        kind = Touchpoint.Kind.CALL
    channel, campaign = touch_target(
        channel=channel, campaign=campaign, utm_campaign=utm_campaign, source=source, refs=refs
    )
    touch = Touchpoint(
        contact_id=contact.pk,
        channel_id=channel.pk,
        campaign_id=campaign.pk if campaign else None,
        kind=kind,
        occurred_at=occurred_at,
        source=(source or "")[:200],
        external_id=external_id_or_none(external_id),
        metadata=metadata or {},
    )
    return touch, time_given


TOUCH_IDENTITY = ("contact_id", "channel_id", "campaign_id", "kind", "occurred_at")


def touch_replay(existing: Touchpoint, touch: Touchpoint, *, time_given: bool) -> Touchpoint:
    """The same touch sent again under its external_id: the stored one, or a conflict naming
    what differs. A retry that gives no time keeps the stored time: "now" is not compared."""
    differing = sorted(
        name.removesuffix("_id")
        for name in TOUCH_IDENTITY
        if (time_given or name != "occurred_at") and getattr(existing, name) != getattr(touch, name)
    )
    if differing:
        raise _replay_conflict(existing.external_id, differing)
    return existing


# --- purchases ----------------------------------------------------------------------------------


def check_coupon(coupon: Coupon, at: dt.datetime) -> None:
    """A coupon must be active and within its window at the purchase time."""
    if not coupon.active:
        raise CouponRefused(f"Coupon {coupon.code} is not active.", field="coupon")
    if coupon.valid_from and at < coupon.valid_from:
        raise CouponRefused(
            f"Coupon {coupon.code} is valid only from {coupon.valid_from:%Y-%m-%d %H:%M}.",
            field="coupon",
        )
    if coupon.valid_until and at > coupon.valid_until:
        raise CouponRefused(
            f"Coupon {coupon.code} expired on {coupon.valid_until:%Y-%m-%d %H:%M}.", field="coupon"
        )


def coupon_used_up(coupon: Coupon) -> CouponRefused:
    return CouponRefused(
        f"Coupon {coupon.code} has been used the maximum number of times "
        f"({coupon.max_redemptions}).",
        field="coupon",
    )


def new_purchase(
    *,
    contact: Contact | None,
    email: str = "",
    amount: Any,
    discount: Any = 0,
    occurred_at: dt.datetime | None = None,
    coupon: Coupon | None = None,
    external_id: str | None = None,
    note: str = "",
) -> tuple[Purchase, bool]:
    """A purchase (unsaved; its contact set when known, else the walk-in's door sets it) and
    whether its time was given."""
    amount = money(amount, field="amount", positive=True)
    discount = money(discount or 0, field="discount", positive=False)
    time_given = occurred_at is not None
    occurred_at = moment(occurred_at, field="occurred_at")
    if contact is None and not email_key(email):
        raise InvalidInput(GIVE_A_CONTACT, field="contact")
    purchase = Purchase(
        contact_id=contact.pk if contact is not None else None,
        amount=amount,
        discount=discount,
        occurred_at=occurred_at,
        external_id=external_id_or_none(external_id),
        note=(note or "")[:300],
    )
    if coupon is not None:
        purchase.coupon = coupon  # its campaign makes the coupon touch
    return purchase, time_given


def purchase_replay(
    existing: Purchase,
    purchase: Purchase,
    *,
    contact: Contact | None,
    email: str,
    time_given: bool,
) -> Purchase:
    """The same order sent again under its external_id: the stored one, or a conflict naming
    what differs. A retry that gives no time keeps the stored time: "now" is not compared."""
    differing = []
    if contact is not None and existing.contact_id != contact.pk:
        differing.append("contact")
    if contact is None and not is_email_of(existing.contact, email):
        differing.append("email")
    if existing.amount != purchase.amount:
        differing.append("amount")
    if existing.discount != purchase.discount:
        differing.append("discount")
    if time_given and existing.occurred_at != purchase.occurred_at:
        differing.append("occurred_at")
    if existing.coupon_id != purchase.coupon_id:
        differing.append("coupon")
    if differing:
        raise _replay_conflict(existing.external_id, differing)
    return existing


def coupon_touch(purchase: Purchase) -> Touchpoint:
    """A purchase with a coupon records a `coupon` touch on the coupon's campaign at its time
    (for a walk-in, its first touch)."""
    coupon = purchase.coupon
    return Touchpoint(
        contact_id=purchase.contact_id,
        channel_id=coupon.campaign.channel_id,
        campaign_id=coupon.campaign_id,
        kind=Touchpoint.Kind.COUPON,
        occurred_at=purchase.occurred_at,
        source=coupon.code,
        metadata={"purchase_id": purchase.pk},
    )


# --- refunds ------------------------------------------------------------------------------------


def unknown_purchase(key: int | str) -> str:
    return f"Unknown purchase {key!r}." if isinstance(key, str) else f"Unknown purchase {key}."


GIVE_A_PURCHASE = "Give a purchase id or the purchase's external_id."


def new_refund(
    *,
    purchase: Purchase,
    amount: Any,
    occurred_at: dt.datetime | None = None,
    external_id: str | None = None,
    note: str = "",
) -> tuple[Refund, bool]:
    """A refund (unsaved) of `purchase` and whether its time was given (a replay compares it
    only then). Its amount is money above zero; its time is aware, not in the future, and not
    before the purchase's: money cannot be given back before it was paid."""
    amount = money(amount, field="amount", positive=True)
    time_given = occurred_at is not None
    occurred_at = moment(occurred_at, field="occurred_at")
    if occurred_at < purchase.occurred_at:
        raise InvalidInput(
            f"A refund cannot come before its purchase "
            f"({timezone.localtime(purchase.occurred_at):%Y-%m-%d %H:%M %Z}).",
            field="occurred_at",
        )
    refund = Refund(
        purchase_id=purchase.pk,
        amount=amount,
        occurred_at=occurred_at,
        external_id=external_id_or_none(external_id),
        note=(note or "")[:300],
    )
    return refund, time_given


def check_refundable(purchase: Purchase, *, refunded: Decimal, amount: Decimal) -> None:
    """The refunds of a purchase never add up to more than what was paid. `refunded` is what
    its stored refunds already come to (read under the purchase's row lock)."""
    refunded = Decimal(refunded).quantize(CENT)  # SQLite sums decimals as floats
    left = purchase.amount - refunded
    if amount > left:
        if left <= 0:
            detail = f"purchase #{purchase.pk} ({purchase.amount}) is already fully refunded"
        else:
            detail = (
                f"at most {left} can be refunded on purchase #{purchase.pk}: "
                f"{purchase.amount} paid, {refunded} already refunded"
            )
        raise InvalidInput(f"A refund of {amount} is too much: {detail}.", field="amount")


REFUND_IDENTITY = ("purchase_id", "amount", "occurred_at")


def refund_replay(existing: Refund, refund: Refund, *, time_given: bool) -> Refund:
    """The same refund sent again under its external_id: the stored one, or a conflict naming
    what differs. A retry that gives no time keeps the stored time: "now" is not compared."""
    differing = sorted(
        name.removesuffix("_id")
        for name in REFUND_IDENTITY
        if (time_given or name != "occurred_at")
        and getattr(existing, name) != getattr(refund, name)
    )
    if differing:
        raise _replay_conflict(existing.external_id, differing)
    return existing
