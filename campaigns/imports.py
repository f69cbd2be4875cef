"""CSV import of costs: each row one cost of a campaign on a day, through `cost_create`.

Columns: `campaign` (its id, its `utm_campaign` or its name, any case), `incurred_on` (a date,
YYYY-MM-DD), `amount`, and optionally `category` (ad_spend by default), `note` and
`external_id`. Each row is checked by the API's cost serializer and written by the same service
as the API and the admin, which declares its day changed. Idempotent on `external_id`, or on a
key derived from the row when the file has none (`campaigns.csvimport.row_key`).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from campaigns.csvimport import FileRefused, Rejected, Row, default_header, row_key
from campaigns.errors import DomainError
from campaigns.models import AdPlatform, Campaign, CampaignAlias, Cost
from campaigns.numbers import fixed
from campaigns.serializers import CostSerializer
from campaigns.services import campaign_names_keep, cost_create, cost_update

COMPARED = ("campaign_id", "incurred_on", "amount", "category", "note")


class CostKind:
    name = "costs"
    columns = ("campaign", "incurred_on", "amount", "category", "note", "external_id")
    required = ("campaign", "incurred_on", "amount")

    def apply(self, rows: list[Row], *, user: Any) -> list[tuple[str, list[Rejected]]]:
        campaigns = _Campaigns()
        keys = [row.cells.get("external_id") or row_key("cost", row.cells) for row in rows]
        stored = Cost.objects.in_bulk(keys, field_name="external_id")
        return [self._one(row, key, campaigns, stored) for row, key in zip(rows, keys, strict=True)]

    def _one(
        self, row: Row, key: str, campaigns: _Campaigns, stored: dict[str, Cost]
    ) -> tuple[str, list[Rejected]]:
        cells = row.cells
        campaign, problem = campaigns.find(cells["campaign"])
        if campaign is None:
            return "rejected", [Rejected(row.line, "campaign", problem)]
        serializer = CostSerializer(
            data={**{k: v for k, v in cells.items() if k != "campaign"}, "campaign": campaign.pk}
        )
        if not serializer.is_valid():
            return "rejected", [
                Rejected(row.line, field if field in self.columns else "", str(message))
                for field, messages in serializer.errors.items()
                for message in (messages if isinstance(messages, list) else [messages])
            ]
        data = {**serializer.validated_data, "external_id": key}
        previous = stored.get(key)
        if previous is not None:
            new = Cost(**data)
            if all(getattr(previous, f) == getattr(new, f) for f in COMPARED):
                return "unchanged", []
            return "rejected", [
                Rejected(row.line, "external_id", f"{key} is already a different cost.")
            ]
        try:
            with transaction.atomic():
                stored[key] = cost_create(**data)
        except DomainError as exc:
            return "rejected", [
                Rejected(row.line, exc.field if exc.field in self.columns else "", exc.message)
            ]
        except IntegrityError:
            return "rejected", [Rejected(row.line, "external_id", f"{key} is already used.")]
        return "created", []


class _Campaigns:
    """Campaigns by id, utm_campaign or name (any case), read once per chunk; with a
    `platform`, its mapped campaign names first (`CampaignAlias`) and no ids."""

    def __init__(self, platform: str | None = None) -> None:
        self.by_id: dict[str, Campaign] = {}
        self.by_text: dict[str, list[Campaign]] = {}
        self.mapped: dict[str, Campaign] = {}
        for campaign in Campaign.objects.only("id", "name", "utm_campaign"):
            if platform is None:
                self.by_id[str(campaign.pk)] = campaign
            for text in {campaign.name.lower(), (campaign.utm_campaign or "").lower()} - {""}:
                self.by_text.setdefault(text, []).append(campaign)
        if platform is not None:
            for alias in CampaignAlias.objects.filter(
                platform=platform, campaign__isnull=False
            ).select_related("campaign"):
                self.mapped[alias.name_key] = alias.campaign

    def find(self, text: str) -> tuple[Campaign | None, str]:
        text = text.strip()
        if text.lower() in self.mapped:
            return self.mapped[text.lower()], ""
        if text in self.by_id:
            return self.by_id[text], ""
        found = self.by_text.get(text.lower(), [])
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, f"{text!r} names {len(found)} campaigns: use the campaign's id."
        return None, f"No campaign has the id, utm_campaign or name {text!r}."


COSTS = CostKind()


# Ad platforms' own cost exports ---------------------------------------------------------------

# Per platform, the header names its daily campaign export uses (lower case) for the day, the
# campaign, the amount spent and the currency. Meta writes the currency into the amount's header
# ("Amount spent (EUR)"); Google Ads and LinkedIn put a title and the date range above the header.
FORMATS: dict[str, dict[str, tuple[str, ...]]] = {
    AdPlatform.META: {
        "day": ("day", "reporting starts", "date"),
        "campaign": ("campaign name", "campaign"),
        "amount": ("amount spent", "amount spent (*)", "spend"),
        "currency": ("currency",),
    },
    AdPlatform.GOOGLE: {
        "day": ("day", "date"),
        "campaign": ("campaign", "campaign name"),
        "amount": ("cost", "cost (*)"),
        "currency": ("currency code", "currency"),
    },
    AdPlatform.LINKEDIN: {
        "day": ("start date (in utc)", "start date", "date", "day"),
        "campaign": ("campaign name", "campaign"),
        "amount": ("total spent", "amount spent", "spend", "total spent (*)"),
        "currency": ("currency",),
    },
    AdPlatform.TIKTOK: {
        "day": ("by day", "date", "day", "stat time day"),
        "campaign": ("campaign name", "campaign"),
        "amount": ("cost", "total cost", "spend", "cost (*)"),
        "currency": ("currency",),
    },
    AdPlatform.GA4: {
        "day": ("date",),
        "campaign": ("utm_campaign", "campaign_name", "campaign name", "campaign"),
        "amount": ("cost", "daily_cost", "daily cost"),
        "currency": ("currency", "currency_code"),
    },
}
NEEDED = ("day", "campaign", "amount")
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y", "%b %d, %Y", "%d %b %Y", "%Y/%m/%d")


def parse_day(text: str) -> dt.date | None:
    """A day as the platforms write it: 2026-03-05, 20260305 (GA4), 3/5/2026 (LinkedIn, US
    order), Mar 5, 2026 (Google Ads)."""
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()  # noqa: DTZ007
        except ValueError:
            continue
    return None


def parse_amount(text: str) -> Decimal | None:
    """An amount as exports write it: 1,234.56, 1234,56, "$12.00", -- (none: 0)."""
    cleaned = re.sub(r"[^\d,.\-]", "", text.strip())
    if cleaned in ("", "-", "--"):
        return Decimal("0") if text.strip() in ("--", "-", "") else None
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(",", "")
    elif re.fullmatch(r"-?\d+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


class PlatformCostKind:
    """An ad platform's daily campaign cost export: its rows added up per campaign and day,
    each sum one `ad_spend` cost whose key names the platform, the campaign and the day, so
    importing an overlapping range again replaces those days' spend instead of adding it."""

    preamble = True
    whole_file = True
    required = NEEDED

    def __init__(self, platform: str, *, rates: dict[str, Decimal] | None = None) -> None:
        self.platform = platform
        self.name = f"{AdPlatform(platform).label} costs"
        self.rates = {k.upper(): v for k, v in (rates or {}).items()}
        self.columns = (*NEEDED, "currency")
        self.header_names: dict[str, str] = {}
        self.header_currency = ""

    def header(self, names: list[str]) -> list[str]:
        wanted = FORMATS[self.platform]
        columns, found = [], {}
        for raw in names:
            name = raw.strip().lower()
            role = ""
            for candidate, options in wanted.items():
                for option in options:
                    if option.endswith("(*)") and name.startswith(option[:-3]) and "(" in name:
                        self.header_currency = name.rsplit("(", 1)[1].rstrip(")").strip().upper()
                        role = candidate
                    elif name == option:
                        role = candidate
                if role:
                    break
            if role and role in found:
                role = ""  # the first column of a role wins
            if role:
                found[role] = raw.strip()
            columns.append(role)
        missing = [role for role in NEEDED if role not in found]
        if missing:
            expected = "; ".join(f"{r}: {' or '.join(wanted[r])}" for r in missing)
            raise FileRefused(
                f"Not a {AdPlatform(self.platform).label} cost export: no column for {expected}."
            )
        self.header_names = found
        return columns

    def apply(self, rows: list[Row], *, user: Any) -> list[tuple[str, list[Rejected]]]:
        results: list[tuple[str, list[Rejected]] | None] = [None] * len(rows)
        campaigns = _Campaigns(platform=self.platform)
        sums: dict[tuple[int, dt.date], list] = {}  # (campaign, day): [amount, currency, rows]
        unmatched: set[str] = set()
        for i, row in enumerate(rows):
            problem = self._read(row, campaigns, sums, i, unmatched)
            if problem == "skipped":
                results[i] = ("skipped", [])
            elif problem is not None:
                results[i] = ("rejected", [problem])
        if unmatched:
            campaign_names_keep(platform=self.platform, names=unmatched)
        keys = {
            (campaign_id, day): f"ad:{self.platform}:{campaign_id}:{day.isoformat()}"
            for campaign_id, day in sums
        }
        stored = Cost.objects.in_bulk(list(keys.values()), field_name="external_id")
        for (campaign_id, day), (amount, currency, members) in sums.items():
            status, problem = self._write(campaign_id, day, amount, currency, keys, stored)
            for i in members:
                results[i] = (status, [] if problem is None else [_at(rows[i], problem)])
        return [r if r is not None else ("rejected", []) for r in results]

    def _column(self, role: str) -> str:
        return self.header_names.get(role, role)

    def _read(self, row: Row, campaigns: _Campaigns, sums: dict, i: int, unmatched: set):
        cells = row.cells
        if not cells.get("day") and cells.get("campaign", "").lower().startswith("total"):
            return "skipped"
        day = parse_day(cells.get("day", ""))
        if day is None:
            return Rejected(row.line, self._column("day"), f"Not a date: {cells.get('day', '')!r}.")
        amount = parse_amount(cells.get("amount", ""))
        if amount is None:
            return Rejected(
                row.line, self._column("amount"), f"Not an amount: {cells.get('amount', '')!r}."
            )
        if amount < 0:
            return Rejected(row.line, self._column("amount"), "A negative amount.")
        currency = (
            cells.get("currency") or self.header_currency or settings.DEFAULT_CURRENCY
        ).upper()
        if currency != settings.DEFAULT_CURRENCY and currency not in self.rates:
            return Rejected(
                row.line,
                self._column("currency"),
                f"In {currency}, not {settings.DEFAULT_CURRENCY}: give its rate "
                f"(--rate {currency}=<{settings.DEFAULT_CURRENCY} per {currency}>).",
            )
        campaign, problem = campaigns.find(cells.get("campaign", ""))
        if campaign is None:
            if problem.startswith("No campaign"):
                unmatched.add(cells.get("campaign", ""))
                problem += (
                    ' It is listed under "Ad platform campaign names" in the admin: map it'
                    " to a campaign there once, then import the file again."
                )
            return Rejected(row.line, self._column("campaign"), problem)
        entry = sums.setdefault((campaign.pk, day), [Decimal("0"), currency, []])
        if entry[1] != currency:
            return Rejected(row.line, self._column("currency"), "Two currencies for one day.")
        entry[0] += amount
        entry[2].append(i)
        return None

    def _write(self, campaign_id, day, amount, currency, keys, stored):
        rate = Decimal("1") if currency == settings.DEFAULT_CURRENCY else self.rates[currency]
        total = fixed(amount * rate, 2)
        key = keys[campaign_id, day]
        previous = stored.get(key)
        try:
            with transaction.atomic():
                if previous is None:
                    cost_create(
                        campaign_id=campaign_id,
                        incurred_on=day,
                        amount=total,
                        category=Cost.Category.AD_SPEND,
                        note=f"{AdPlatform(self.platform).label} import"[:300],
                        external_id=key,
                    )
                    return "created", None
                if previous.amount == total:
                    return "unchanged", None
                cost_update(cost=previous, amount=total)
                return "created", None
        except DomainError as exc:
            column = "day" if exc.field == "incurred_on" else (exc.field or "")
            return "rejected", Rejected(0, self._column(column) if column else "", exc.message)


def _at(row: Row, problem: Rejected) -> Rejected:
    return Rejected(row.line, problem.column, problem.reason)


# Imports started in the admin -------------------------------------------------------------------

# The kinds the admin's import page offers: label and the permission it needs.
ADMIN_KINDS: dict[str, tuple[str, str]] = {
    "contacts": ("Contacts", "leads.add_contact"),
    "touchpoints": ("Touchpoints", "leads.add_touchpoint"),
    "purchases": ("Purchases", "leads.add_purchase"),
    "costs": ("Costs", "campaigns.add_cost"),
    "ad_costs": ("Ad platform costs", "campaigns.add_cost"),
}


def kind_for(name: str, platform: str = "") -> Any:
    """The import kind of the admin's `name` (an ad platform's for "ad_costs")."""
    if name == "costs":
        return COSTS
    if name == "ad_costs":
        return PlatformCostKind(platform)
    from leads.imports import KINDS  # leads builds on campaigns, not the other way

    return KINDS[name]


class MappedKind:
    """A kind read through a column mapping: the file's column names (any case) renamed to
    ours before the kind checks them; a column mapped to "" is ignored."""

    def __init__(self, kind: Any, mapping: dict[str, str]) -> None:
        self.kind = kind
        self.mapping = {k.strip().lower(): v for k, v in mapping.items()}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kind, name)

    def header(self, names: list[str]) -> list[str]:
        renamed = [self.mapping.get(n.strip().lower(), n) for n in names]
        if hasattr(self.kind, "header"):
            return self.kind.header(renamed)
        return default_header(renamed, self.kind)

    def apply(self, rows: list[Row], *, user: Any) -> list[tuple[str, list[Rejected]]]:
        return self.kind.apply(rows, user=user)
