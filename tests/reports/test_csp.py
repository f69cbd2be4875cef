"""The Content-Security-Policy, through the test client: every HTML page sends it, and no page
carries what it forbids (inline scripts, event-handler attributes, style attributes).

The browser test (test_browser_csp.py) proves the same pages run under it; this one is fast
and names the offending markup when a template brings some back.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from campaigns.models import Campaign

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
MARCH = "?preset=custom&start=2026-03-01&end=2026-03-31"

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style(?![^>]*\bnonce=)[^>]*>")


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in header.split(";"))
    }


def forbidden_markup(html: str) -> list[str]:
    found = []
    for pattern in (INLINE_SCRIPT, EVENT_HANDLER, STYLE_ATTRIBUTE, INLINE_STYLE):
        found += [match.group(0) for match in pattern.finditer(html)]
    return found


@pytest.fixture
def root_client(client, superuser, scenario):
    client.force_login(superuser)
    return client


def html_pages(scenario) -> list[str]:
    ada = scenario["ada"]
    return [
        reverse("reports:dashboard") + MARCH,
        reverse("reports:attribution") + MARCH,
        reverse("reports:campaign", args=[scenario["pins"].pk]) + MARCH,
        reverse("reports:campaigns") + MARCH,
        reverse("reports:paths") + MARCH,
        reverse("reports:saved"),
        reverse("reports:subscriptions"),
        reverse("admin:index"),
        reverse("admin:leads_contact_changelist"),
        reverse("admin:leads_contact_changelist") + "?stage__exact=customer",
        reverse("admin:leads_contact_add"),
        reverse("admin:leads_contact_change", args=[ada.pk]),
        reverse("admin:leads_contact_move", args=[ada.pk]),
        reverse("admin:leads_contact_purchase", args=[ada.pk]),
        reverse("admin:campaigns_campaign_changelist"),
        reverse("admin:campaigns_campaign_change", args=[Campaign.objects.first().pk]),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_apikey_add"),
        reverse("admin:axes_accessattempt_changelist"),
    ]


def test_every_page_sends_the_strict_policy_and_nothing_it_forbids(root_client, scenario):
    for url in html_pages(scenario):
        response = root_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html"), url
        assert policy(response) == STRICT, url
        assert forbidden_markup(response.content.decode()) == [], url


def test_the_login_page_and_errors_send_it_too(client, db):
    for url, status in [
        (reverse("login"), 200),
        (reverse("admin:login"), 200),
        ("/no-such-page/", 404),
        ("/reports/?start=2026-03-01%00", 400),  # answered by the input guard, before any view
    ]:
        response = client.get(url)
        assert response.status_code == status, url
        assert policy(response) == STRICT, url
        assert forbidden_markup(response.content.decode()) == [], url


def test_api_docs_allow_only_their_own_nonced_style(root_client):
    response = root_client.get(reverse("api-docs"))
    assert response.status_code == 200
    directives = policy(response)
    nonce = re.search(r"'nonce-([^']+)'", directives["style-src"]).group(1)
    # The page's one <style> block carries this request's nonce; scripts stay 'self' only.
    assert directives == {
        **STRICT,
        "style-src": f"'self' 'nonce-{nonce}'",
        "img-src": "'self' data:",
    }
    html = response.content.decode()
    assert f'<style nonce="{nonce}">' in html
    assert forbidden_markup(html) == []
    # Its start-up script is a second request to the same view, served as JavaScript.
    script_url = re.search(r'<script src="([^"]*script=[^"]*)"', html).group(1)
    script = root_client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


def test_a_nonce_is_never_sent_where_no_page_uses_it(root_client, scenario):
    # A nonce in the header of a page that does not need one would only widen the policy.
    response = root_client.get(reverse("reports:dashboard") + MARCH)
    assert "nonce-" not in response["Content-Security-Policy"]
