"""Phone numbers in one form, E.164 (+15125550142), at every door: a contact's phone, a
campaign's tracking number, the number a call-tracking provider reports. Stored normalised and
compared normalised, so "(512) 555-0142", "512.555.0142" and "+15125550142" are one number."""

from __future__ import annotations

import phonenumbers
from django.conf import settings


def phone_e164(phone: str | None) -> str:
    """A phone's normalised form, E.164 (+15550000010), stored beside the raw text at every door
    and compared by the search and the duplicates view. A number without a country code is read
    in PHONE_REGION (default US). Text that is not a possible number (too short, letters) has
    none: "" (the raw text is still kept and searched)."""
    phone = (phone or "").strip()
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value: str | None) -> str:
    """A tracking number's stored and compared form: its E.164 form (`phone_e164`), so a call
    reported as "+15125550142" finds the campaign whose number was typed "(512) 555-0142".
    Text with no E.164 form (too short for a number) keeps its digits and a leading +, so it
    still names one line; "" when there is no digit."""
    if not value:
        return ""
    e164 = phone_e164(value)
    if e164:
        return e164
    value = value.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits:
        return ""
    return ("+" + digits) if value.startswith("+") else digits
