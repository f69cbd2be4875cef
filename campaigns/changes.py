"""The one change path: every write declares, inside its transaction, what it changed.

Report figures are kept in several places derived from the data (per-day caches, the report
pages' cache, saved reports). The apps below `reports` (campaigns, leads) must not import it,
yet every write of theirs must void what it changed. So each service declares its change here,
once, inside its transaction; `reports` subscribes in its `AppConfig.ready()` and decides what
the change voids and regenerates. A write that declares nothing changes no reported figure.

What to declare:
- `moments`: the dates or aware datetimes of the data the write added, moved or removed, with
  the days whose figures depend on it (a touch joins the lookback window of the contact's later
  purchases, so their days are declared too: the services know which).
- `catalogue`: names, channels or targets that reports show changed (a campaign renamed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.dispatch import Signal

# Sent with moments: tuple of dates and aware datetimes, catalogue: bool.
data_changed = Signal()


def declare_changed(
    *, moments: Iterable[dt.datetime | dt.date | None] = (), catalogue: bool = False
) -> None:
    """Declare a change to the data reports are made from. Call it inside the write's
    transaction: receivers void caches at once and act on the rest once it commits."""
    moments = tuple(m for m in moments if m is not None)
    if moments or catalogue:
        data_changed.send(sender=None, moments=moments, catalogue=catalogue)
