"""Where a visit came from, read off its landing page address and referrer: the arguments of
a touch (`leads.services.touchpoint_record`). Shop orders and the capture script both use it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

# Click ids the ad platforms add to their links, and the channel each names (SPEC §10).
CLICK_IDS = {
    "fbclid": "facebook",
    "gclid": "google",
    "li_fat_id": "linkedin",
    "ttclid": "tiktok",
    "msclkid": "bing",
}
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
LIMIT = 200


def _clean(value: Any) -> str:
    return str(value or "").replace("\x00", "").strip()[:LIMIT]


def params(url: str) -> dict[str, str]:
    """The UTM parameters and click ids of an address (or of a bare query string)."""
    url = str(url or "")
    try:
        query = urlsplit(url).query if ("?" in url or "://" in url) else url.lstrip("?")
    except ValueError:  # not an address at all ("http://[x/"): it names nothing
        return {}
    found = parse_qs(query, keep_blank_values=False)
    return {name: _clean(found[name][0]) for name in (*UTM, *CLICK_IDS) if found.get(name, [""])[0]}


def referrer_host(referrer: str) -> str:
    try:
        return (urlsplit(str(referrer or "")).hostname or "")[:LIMIT]
    except ValueError:
        return ""


def touch_from(
    given: dict[str, str], *, referrer: str = "", own_hosts: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """The touch a visit with these parameters and this referrer makes: its `source`,
    `utm_campaign` and metadata, or None when it says nothing (a visit typed in, or from the
    site itself). A utm_source wins; else a click id names its channel; else the referrer's
    host resolves through the channel aliases."""
    given = {name: _clean(value) for name, value in given.items() if _clean(value)}
    host = referrer_host(referrer)
    if host and host.lower() in own_hosts:
        host = ""
    click = next((name for name in CLICK_IDS if given.get(name)), "")
    source = given.get("utm_source") or (CLICK_IDS[click] if click else "") or host
    if not source:
        return None
    metadata = {name: given[name] for name in (*UTM, *CLICK_IDS) if given.get(name)}
    if host:
        metadata["referrer"] = host
    return {"source": source, "utm_campaign": given.get("utm_campaign", ""), "metadata": metadata}
