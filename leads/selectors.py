"""Read-side queries on contacts shared by the admin and the API."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Left, Lower, StrIndex, Substr
from django.utils import timezone

from campaigns.numbers import fixed
from leads.models import (
    Contact,
    ContactMerge,
    Purchase,
    Refund,
    Stage,
    StageChange,
    Touchpoint,
)
from leads.rules import email_key, merge_into, phone_e164

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


def with_refunds(purchases: QuerySet[Purchase]) -> QuerySet[Purchase]:
    """Purchases annotated `refunded` (what their refunds come to, 0.00 without any) and
    `net_amount` (amount less refunded: the revenue the reports credit): a correlated subquery
    on the refunds' covering purchase index, evaluated for the rows read only."""
    refunded = Coalesce(
        Subquery(
            Refund.objects.filter(purchase=OuterRef("pk"))
            .order_by()
            .values("purchase")
            .annotate(total=Sum("amount"))
            .values("total"),
            output_field=MONEY_FIELD,
        ),
        Value(Decimal("0.00")),
        output_field=MONEY_FIELD,
    )
    return purchases.annotate(refunded=refunded).annotate(net_amount=F("amount") - F("refunded"))


EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+$")
# A term of digits and the marks people type between them: a phone, in any format.
PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")
MIN_PHONE_DIGITS = 4


def phone_patterns(term: str) -> set[str]:
    """The digits a phone-like term is searched by (either matches), or none when it is not
    phone-like.

    A whole number is read as `leads.rules.phone_e164` reads a stored one, in PHONE_REGION
    unless it gives its country code, so "555-000-0010", "(555) 000 0010" and
    "+1 555 000 0010" all become "15550000010", found inside the stored "+15550000010"; the
    typed digits are searched too, so a piece of a number ("000-0010") or a foreign number
    typed without its country code ("20 7946 0958") is found inside the E.164 form."""
    if not PHONE_LIKE.match(term):
        return set()
    digits = re.sub(r"\D", "", term)
    if len(digits) < MIN_PHONE_DIGITS:
        return set()
    e164 = phone_e164(term)
    return {digits, e164.lstrip("+")} - {""}


def contacts_search(queryset: QuerySet, term: str) -> QuerySet:
    """Find contacts the way people type: each word of the term must appear somewhere in the
    contact's names, emails (primary or secondary, any part), phones, company or handle, so
    "Ivan Fischer", "fischer ivan", "omar.lopez", "example.net" and "walkin" all find theirs.
    A phone-like term (`phone_patterns`) is matched by its digits, whatever the format typed.

    Every word is a `LIKE '%word%'` on one column, `Contact.search_text` (lower-cased, generated
    by the database): on PostgreSQL the trigram GIN index `contact_search_trgm_idx` answers it
    (a bitmap AND for several words), whatever the database's collation; SQLite scans with the
    same LIKE and finds the same rows. A word under three characters has no trigram to look
    up: it still matches, at the cost of reading the index through.
    """
    term = term.strip()
    if not term:
        return queryset
    patterns = phone_patterns(term)
    if patterns:
        condition = Q()
        for pattern in sorted(patterns):
            condition |= Q(search_text__contains=pattern)
        return queryset.filter(condition)
    condition = Q()
    for word in term.split():
        # A whole email in its stored form (an international domain in its ASCII form), as
        # every door compares it (`leads.rules.email_key`).
        key = email_key(word) if EMAIL_LIKE.match(word) else word.lower()
        condition &= Q(search_text__contains=key)
    return queryset.filter(condition)


# --- possible duplicates --------------------------------------------------------------------

DUPLICATE_KINDS = {
    "email": "Same email (without case or +tag)",
    "phone": "Same phone",
    "name": "Same name and company",
}


def _email_without_tag() -> Lower:
    """An email's key for duplicates: lower-cased, without a "+tag" before the @
    (omar+shop@example.net is omar@example.net). Primary emails are unique without case, so the
    tag is what tells two records of one person apart."""
    email = F("email")
    plus, at = StrIndex(email, Value("+")), StrIndex(email, Value("@"))
    return Lower(
        Case(
            When(
                Q(plus__gt=0, at__gt=F("plus")),
                then=Concat(Left(email, F("plus") - 1), Substr(email, F("at"))),
            ),
            default=email,
            output_field=CharField(),
        )
    ), {"plus": plus, "at": at}


def _duplicate_key(kind: str, queryset: QuerySet) -> QuerySet:
    """The contacts that have a key of this kind, annotated `dup_key`."""
    if kind == "email":
        key, helpers = _email_without_tag()
        return queryset.exclude(email="").annotate(**helpers).annotate(dup_key=key)
    if kind == "phone":
        return queryset.exclude(phone_e164="").annotate(dup_key=F("phone_e164"))
    if kind == "name":
        key = Lower(Concat(F("first_name"), Value("|"), F("last_name"), Value("|"), F("company")))
        return queryset.exclude(first_name="", last_name="").annotate(dup_key=key)
    raise ValueError(f"Unknown kind of duplicate {kind!r}.")


def duplicate_groups(*, kind: str, limit: int = 50) -> list[dict]:
    """Groups of contacts that may be one person: the same email without case or +tag, the same
    E.164 phone, or the same first name, last name and company without case. Two queries
    whatever the table's size: one GROUP BY for the keys shared by more than one contact (the
    largest groups first, at most `limit`), one for their members. Erased contacts are left out.
    Each group is {"key": ..., "ids": [...]} with its ids in ascending order."""
    live = Contact.objects.filter(erased_at__isnull=True).order_by()
    shared = list(
        _duplicate_key(kind, live)
        .values("dup_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("-n", "dup_key")
        .values_list("dup_key", flat=True)[:limit]
    )
    if not shared:
        return []
    members: dict[str, list[int]] = {key: [] for key in shared}
    rows = _duplicate_key(kind, live).filter(dup_key__in=shared).values_list("dup_key", "id")
    for key, pk in rows.order_by("id"):
        members[key].append(pk)
    return [
        {"key": " / ".join(part for part in key.split("|") if part), "ids": ids}
        for key, ids in members.items()
    ]


# --- merge preview ----------------------------------------------------------------------------

PREVIEW_FIELDS = (
    ("email", "Email"),
    ("phone", "Phone"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("company", "Company"),
    ("handle", "Handle"),
    ("stage", "Stage"),
    ("source_channel", "Source channel"),
    ("source_campaign", "Source campaign"),
    ("coupon", "Coupon"),
    ("owner", "Owner"),
    ("external_id", "External id"),
    ("entered_at", "Entered"),
    ("became_lead_at", "Became a lead"),
    ("became_qualified_at", "Became qualified"),
    ("became_customer_at", "Became a customer"),
    ("notes", "Notes"),
)


def merge_preview(*, survivor: Contact, other: Contact) -> dict:
    """What `leads.services.contact_merge(survivor=..., other=...)` would make, field by field,
    computed by the same rule (`leads.rules.merge_into`) on copies: rows of (label, survivor's
    value, other's value, result, winner: "survivor", "other", "both" or "" when blank), and the
    emails and phones the survivor would keep as secondary ones."""
    result = copy.copy(survivor)
    merge_into(result, other)
    rows = []
    for name, label in PREVIEW_FIELDS:
        mine, theirs, after = (_shown(c, name) for c in (survivor, other, result))
        if not after:
            winner = ""
        elif after == mine and after == theirs:
            winner = "both"
        elif after == mine:
            winner = "survivor"
        elif after == theirs:
            winner = "other"
        else:
            winner = "both"  # joined notes
        rows.append(
            {"label": label, "survivor": mine, "other": theirs, "result": after, "winner": winner}
        )
    have = {email_key(result.email)} | {
        email_key(e) for e in survivor.other_emails.values_list("email", flat=True)
    }
    emails = [other.email, *other.other_emails.values_list("email", flat=True)]
    phones = [
        (other.phone, other.phone_e164),
        *other.other_phones.values_list("phone", "phone_e164"),
    ]
    have_phones = {result.phone_e164 or result.phone} | {
        e164 or raw for raw, e164 in survivor.other_phones.values_list("phone", "phone_e164")
    }
    return {
        "rows": rows,
        "other_emails": [e for e in emails if e and email_key(e) not in have],
        "other_phones": [raw for raw, e164 in phones if raw and (e164 or raw) not in have_phones],
    }


def _shown(contact: Contact, name: str) -> str:
    value = getattr(contact, name)
    if name == "stage":
        return contact.get_stage_display()
    if hasattr(value, "isoformat"):
        return f"{value:%Y-%m-%d %H:%M}"
    if name in ("source_channel", "source_campaign", "coupon", "owner"):
        related_id = getattr(contact, f"{name}_id")
        return "" if related_id is None else str(getattr(contact, name))
    return "" if value is None else str(value)


# --- one contact's timeline -------------------------------------------------------------------

TIMELINE_LIMIT = 200  # entries shown on the contact's page; the rest are counted
MERGE_NOTE = re.compile(r"^merge of contact #\d+$")


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a contact's timeline: when (aware; shown in the site's time zone), what kind
    ("stage", "touch", "purchase", "refund", "merge"), and what happened, in words with names."""

    at: dt.datetime
    kind: str
    label: str
    text: str
    detail: str = ""
    # Orders the kinds at one moment: a purchase, its coupon touch, then the move it caused.
    rank: int = 0
    pk: int = 0


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    total: int  # entries of every kind the contact has, shown or not

    @property
    def hidden(self) -> int:
        return self.total - len(self.entries)


def _money(value) -> str:
    return f"{fixed(value, 2):,.2f} {settings.DEFAULT_CURRENCY}"


def _who(user, via: str, via_label: str) -> str:
    parts = []
    if user is not None:
        parts.append(f"by {user.get_full_name() or user.get_username()}")
    if via:
        door = via_label if via == "api" else via_label.lower()
        parts.append(f"through the {door}" if via != "system" else "by the system")
    return ", ".join(parts)


def _coupon_words(coupon) -> str:
    """'coupon SPRING10, Spring sale on Instagram'."""
    campaign = coupon.campaign
    return f"coupon {coupon.code}, {campaign.name} on {campaign.channel.name}"


def _latest(queryset: QuerySet, order: tuple[str, ...], limit: int) -> tuple[list, int]:
    """The newest `limit` rows and how many there are: one query, and a count only when the
    limit was reached."""
    rows = list(queryset.order_by(*order)[:limit])
    total = len(rows) if len(rows) < limit else queryset.order_by().count()
    return rows, total


def _stage_entries(contact: Contact, limit: int) -> tuple[list[TimelineEntry], int]:
    rows, total = _latest(
        StageChange.objects.filter(contact=contact).select_related("changed_by"),
        ("-at", "-id"),
        limit,
    )
    entries = []
    for change in rows:
        to = Stage(change.to_stage)
        if not change.from_stage:
            text = f"Entered the funnel as {_stage_noun(to)}"
        elif change.from_stage == change.to_stage:
            text = change.note[:1].upper() + change.note[1:] if change.note else "Recorded"
        elif change.forced:
            text = f"Moved back to {to.label.lower()} (forced)"
        else:
            text = f"Became {_stage_noun(to)}"
        detail = _who(change.changed_by, change.via, change.get_via_display())
        note = change.note
        if MERGE_NOTE.match(note):
            # `contact_merge` notes the merged record's id; the merge's own entry names it.
            text, note = f"{text} (by a merge)", ""
        if note and change.from_stage != change.to_stage:
            detail = f"{detail}; note: {note}" if detail else f"note: {note}"
        entries.append(
            TimelineEntry(change.at, "stage", "Stage", text, detail, rank=2, pk=change.pk)
        )
    return entries, total


def _stage_noun(stage: Stage) -> str:
    return {
        Stage.FOLLOWER: "a follower",
        Stage.LEAD: "a lead",
        Stage.QUALIFIED: "qualified",
        Stage.CUSTOMER: "a customer",
    }[stage]


def _touch_entries(contact: Contact, limit: int) -> tuple[list[TimelineEntry], int]:
    rows, total = _latest(
        Touchpoint.objects.filter(contact=contact).select_related("channel", "campaign"),
        ("-occurred_at", "-id"),
        limit,
    )
    entries = []
    for touch in rows:
        text = f"{touch.get_kind_display()} on {touch.channel.name}"
        if touch.campaign_id is not None:
            text = f"{text}, {touch.campaign.name} campaign"
        detail = ""
        if touch.source and touch.source.lower() not in (
            touch.channel.slug,
            touch.channel.name.lower(),
        ):
            detail = f"source: {touch.source}"
        entries.append(
            TimelineEntry(touch.occurred_at, "touch", "Touch", text, detail, rank=1, pk=touch.pk)
        )
    return entries, total


def _purchase_entries(contact: Contact, limit: int) -> tuple[list[TimelineEntry], int]:
    rows, total = _latest(
        Purchase.objects.filter(contact=contact).select_related("coupon__campaign__channel"),
        ("-occurred_at", "-id"),
        limit,
    )
    entries = []
    for purchase in rows:
        text = f"Purchase {_money(purchase.amount)}"
        if purchase.coupon_id is not None:
            text = f"{text}, {_coupon_words(purchase.coupon)}"
        details = []
        if purchase.discount:
            details.append(f"discount {_money(purchase.discount)}")
        if purchase.external_id:
            details.append(f"order {purchase.external_id}")
        if purchase.note:
            details.append(f"note: {purchase.note}")
        entries.append(
            TimelineEntry(
                purchase.occurred_at,
                "purchase",
                "Purchase",
                text,
                "; ".join(details),
                rank=0,
                pk=purchase.pk,
            )
        )
    return entries, total


def _refund_entries(contact: Contact, limit: int) -> tuple[list[TimelineEntry], int]:
    rows, total = _latest(
        Refund.objects.filter(purchase__contact=contact).select_related("purchase", "recorded_by"),
        ("-occurred_at", "-id"),
        limit,
    )
    entries = []
    for refund in rows:
        purchase = refund.purchase
        text = (
            f"Refund {_money(refund.amount)} of the purchase of {_money(purchase.amount)} "
            f"on {timezone.localtime(purchase.occurred_at):%Y-%m-%d}"
        )
        details = [_who(refund.recorded_by, refund.via, refund.get_via_display())]
        if refund.external_id:
            details.append(f"refund {refund.external_id}")
        if refund.note:
            details.append(f"note: {refund.note}")
        entries.append(
            TimelineEntry(
                refund.occurred_at,
                "refund",
                "Refund",
                text,
                "; ".join(d for d in details if d),
                rank=4,
                pk=refund.pk,
            )
        )
    return entries, total


def _merge_entries(contact: Contact, limit: int) -> tuple[list[TimelineEntry], int]:
    rows, total = _latest(
        ContactMerge.objects.filter(survivor=contact).select_related("merged_by"),
        ("-at", "-id"),
        limit,
    )
    entries = []
    for merge in rows:
        held = merge.merged_fields or {}
        name = f"{held.get('first_name', '')} {held.get('last_name', '')}".strip()
        who = ", ".join(part for part in (name, held.get("email", "")) if part)
        # The merged record is gone; what it held is all that names it (an erased contact's
        # merge snapshots are blanked).
        text = (
            f"Merged in another record of this person ({who})"
            if who
            else ("Merged in another record of this person")
        )
        entries.append(
            TimelineEntry(
                merge.at,
                "merge",
                "Merge",
                text,
                _who(merge.merged_by, merge.via, merge.get_via_display()),
                rank=3,
                pk=merge.pk,
            )
        )
    return entries, total


# Every kind of entry, each read by one function (the newest `limit` rows and their count, a
# fixed number of queries). A new kind is one more function here.
TIMELINE_SOURCES: tuple[Callable[[Contact, int], tuple[list[TimelineEntry], int]], ...] = (
    _stage_entries,
    _touch_entries,
    _purchase_entries,
    _refund_entries,
    _merge_entries,
)


def contact_timeline(contact: Contact, *, limit: int = TIMELINE_LIMIT) -> Timeline:
    """Everything that happened to a contact, newest first: stage moves, touches, purchases,
    refunds and merges, each in words with the channel, campaign and coupon names.

    At most two queries per kind whatever the contact holds (its newest `limit` rows with their
    names joined, and a count when there are more), so a contact with thousands of touches
    costs what one with ten does. A purchase that made the contact a customer is shown with the
    move it caused: "Became a customer (purchase 49.90 USD, coupon SPRING10, Spring sale on
    Instagram)"."""
    entries: list[TimelineEntry] = []
    total = 0
    for source in TIMELINE_SOURCES:
        found, count = source(contact, limit)
        entries += found
        total += count
    entries = _with_causes(entries)
    entries.sort(key=lambda e: (e.at, e.rank, e.pk), reverse=True)
    return Timeline(entries=entries[:limit], total=total)


def _with_causes(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """A move to customer at a purchase's moment names that purchase."""
    bought = {e.at: e.text for e in entries if e.kind == "purchase"}
    out = []
    for entry in entries:
        if entry.kind == "stage" and entry.text.endswith("a customer") and entry.at in bought:
            purchase = bought[entry.at]
            entry = replace(entry, text=f"{entry.text} ({purchase[0].lower()}{purchase[1:]})")
        out.append(entry)
    return out
