"""CSV import of costs: each row one cost of a campaign on a day, through `cost_create`.

Columns: `campaign` (its id, its `utm_campaign` or its name, any case), `incurred_on` (a date,
YYYY-MM-DD), `amount`, and optionally `category` (ad_spend by default), `note` and
`external_id`. Each row is checked by the API's cost serializer and written by the same service
as the API and the admin, which declares its day changed. Idempotent on `external_id`, or on a
key derived from the row when the file has none (`campaigns.csvimport.row_key`).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from campaigns.csvimport import Rejected, Row, row_key
from campaigns.errors import DomainError
from campaigns.models import Campaign, Cost
from campaigns.serializers import CostSerializer
from campaigns.services import cost_create

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
    """Campaigns by id, utm_campaign or name (any case), read once per chunk."""

    def __init__(self) -> None:
        self.by_id: dict[str, Campaign] = {}
        self.by_text: dict[str, list[Campaign]] = {}
        for campaign in Campaign.objects.only("id", "name", "utm_campaign"):
            self.by_id[str(campaign.pk)] = campaign
            for text in {campaign.name.lower(), (campaign.utm_campaign or "").lower()} - {""}:
                self.by_text.setdefault(text, []).append(campaign)

    def find(self, text: str) -> tuple[Campaign | None, str]:
        if text in self.by_id:
            return self.by_id[text], ""
        found = self.by_text.get(text.lower(), [])
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, f"{text!r} names {len(found)} campaigns: use the campaign's id."
        return None, f"No campaign has the id, utm_campaign or name {text!r}."


COSTS = CostKind()
