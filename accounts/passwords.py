"""A password validator for the patterns people pick when a form asks for "a number too".

`Summer2026`, `January2026!`, `Jennifer1987` pass Django's length, common-list and numeric
checks once they are long enough, yet a guesser tries a word followed by a number among the
first things. Refused here:

- one word with only digits or symbols before or after it (`Jennifer1987!`, `2026Summer`);
- a season, month or weekday name together with a year (`my-summer-2026`).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

CALENDAR_WORDS = [
    "spring",
    "summer",
    "autumn",
    "winter",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
]
# Short names are found only as words of their own: inside a word they are too common
# ("mar" in "marketing", "may" in "mayor").
SHORT_CALENDAR_WORDS = [
    "fall",
    "may",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
]
_CALENDAR = re.compile(
    "|".join(CALENDAR_WORDS)
    + "|"
    + "|".join(rf"(?<![a-z]){w}(?![a-z])" for w in SHORT_CALENDAR_WORDS)
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_WORD_AND_NUMBER = re.compile(r"[\W\d_]*([^\W\d_]+)[\W\d_]*")


class PredictablePatternValidator:
    """Refuses a single word padded with digits or symbols, and a calendar word with a year."""

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        word = _WORD_AND_NUMBER.fullmatch(lowered)
        if word and word.group(1) != lowered:
            raise ValidationError(
                "This password is one word with digits or symbols around it, which is among "
                "the first things guessed. Use several words, or a password manager's password.",
                code="password_word_and_number",
            )
        if _CALENDAR.search(lowered) and _YEAR.search(lowered):
            raise ValidationError(
                "This password combines a season, month or day with a year, which is among "
                "the first things guessed.",
                code="password_calendar_and_year",
            )

    def get_help_text(self) -> str:
        return (
            "Your password can't be a single word with digits or symbols around it, or combine "
            "a season, month or day with a year."
        )
