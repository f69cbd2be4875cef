"""CSV imports of contacts, touchpoints and purchases: each row is the events API's event.

A file's columns are the fields of `POST /api/v1/events/` for its kind (docs/imports.md), and
its rows go through the same batch door (`leads.events.apply_batch`, `leads.bulk`), decided
by the same rules (`leads.rules`) as every other door, recorded as coming through an import:
the same stage stamps, first touches, coupon touches, walk-in customers and changed days.

Idempotent: a row's `external_id` is its key, as in the API. A row without one gets a key
derived from what identifies it: a contact's email (any case), else the whole row (see
`campaigns.csvimport.row_key`), so importing a file again answers its rows "already there"
instead of doubling them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from campaigns.csvimport import Rejected, Row, row_key
from leads.copyimport import import_rows
from leads.events import apply_batch
from leads.models import Via

IDENTITY = ("email", "phone", "handle", "first_name", "last_name", "company")


@dataclass(frozen=True)
class EventKind:
    """One kind of event imported from CSV."""

    name: str  # as the command and the admin call it: "contacts"
    type: str  # the event's type: "contact"
    columns: tuple[str, ...]
    required: tuple[str, ...] = ()
    # Its bulk path on PostgreSQL, when it has one (`campaigns.csvimport.import_file`).
    copy: Callable[..., None] | None = field(default=None, compare=False)

    def key(self, cells: dict[str, str]) -> str:
        if cells.get("external_id"):
            return cells["external_id"]
        if self.type == "contact" and cells.get("email"):
            return f"import:contact:{cells['email'].lower()}"
        return row_key(self.type, cells)

    def apply(self, rows: list[Row], *, user: Any) -> list[tuple[str, list[Rejected]]]:
        events = [
            {**row.cells, "type": self.type, "external_id": self.key(row.cells)} for row in rows
        ]
        out = []
        for row, result in zip(rows, apply_batch(events, user, via=Via.IMPORT), strict=True):
            if result["status"] in ("created", "unchanged"):
                out.append((result["status"], []))
                continue
            errors = result.get("errors") or {"": ["Rejected."]}
            out.append(
                (
                    "rejected",
                    [
                        self._rejected(row, field, message)
                        for field, messages in errors.items()
                        for message in messages
                    ],
                )
            )
        return out

    def _rejected(self, row: Row, field: str, message: str) -> Rejected:
        if field == "external_id" and "external_id" not in row.cells and "different" in message:
            # A derived key met a stored row that differs: say so in the file's own terms.
            differing = message.rsplit("different ", 1)[-1].rstrip(".")
            matched = "email" if self.type == "contact" and row.cells.get("email") else "cells"
            return Rejected(
                row.line,
                differing if differing in self.columns else "",
                f"Already imported with a different {differing} (matched by its {matched}).",
            )
        return Rejected(row.line, field if field in self.columns else "", message)


CONTACTS = EventKind(
    name="contacts",
    type="contact",
    columns=(
        *IDENTITY,
        "notes",
        "source_channel",
        "source_campaign",
        "utm_source",
        "coupon",
        "stage",
        "entered_at",
        "touch_kind",
        "heard_about",
        "heard_channel",
        "owner",
        "referred_by",
        "external_id",
    ),
    copy=import_rows,
)
TOUCHPOINTS = EventKind(
    name="touchpoints",
    type="touch",
    columns=(
        "contact",
        "email",
        "channel",
        "campaign",
        "utm_source",
        "utm_campaign",
        "tracking_phone",
        "kind",
        "occurred_at",
        "external_id",
    ),
    required=("occurred_at",),
)
PURCHASES = EventKind(
    name="purchases",
    type="purchase",
    columns=(
        "contact",
        "email",
        "first_name",
        "last_name",
        "phone",
        "amount",
        "discount",
        "coupon",
        "occurred_at",
        "note",
        "external_id",
    ),
    required=("amount", "occurred_at"),
)
KINDS = {kind.name: kind for kind in (CONTACTS, TOUCHPOINTS, PURCHASES)}
