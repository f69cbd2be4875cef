"""Formula-safe CSV cells, for every CSV the product writes (the reports' exports, the admin's
list exports, rejected rows).

A text cell that a spreadsheet would run as a formula (one beginning with = + - @, a tab or a
carriage return: a campaign named `=HYPERLINK(...)`, say) is prefixed with an apostrophe, so it
shows as text; numbers, negative ones included (an ROI of -0.3600), stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import IO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def cell(value: object) -> str:
    """One cell's text, neutralised when it could run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal | float):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_rows(out: IO[str], header: list[str], rows: Iterable[list[object]]) -> None:
    """A header and rows, every cell through `cell`."""
    writer = csv.writer(out)
    writer.writerow([cell(name) for name in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
