"""The capture script on a business's own site, in Chromium: a page on another origin loads the
script from this product, a visit lands with ?utm_source=ig&utm_campaign=spring, moves to a
second page, fills the contact form and submits it; the lead is then in the admin with an
Instagram form touch on the Spring campaign. The capture request carries no cookie (the admin
is signed in in the same browser) and sets none."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.lockout import client_ip
from campaigns.models import Channel
from connectors import views
from connectors.models import Connector, Delivery
from connectors.services import connector_create
from leads.models import Contact, Touchpoint
from tests.factories import CampaignFactory, UserFactory
from tests.reports.browser import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENSHOTS = Path(tempfile.gettempdir())

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
{body}
<script src="{live}/static/connectors/capture.js" data-key="{key}"
        data-endpoint="{live}/api/v1/capture/" defer></script>
</body></html>"""

LANDING = '<p>Spring is here.</p><a id="contact" href="/contact">Contact us</a>'
CONTACT = """
<form id="enquiry" data-social-roi="contact" method="post" action="/thanks">
  <input type="hidden" name="utm_source">
  <input type="hidden" name="first_utm_campaign">
  <label>Email <input type="email" name="email" required></label>
  <label>First name <input name="first_name"></label>
  <label>Last name <input name="last_name"></label>
  <label>How did you hear about us? <input name="heard_about"></label>
  <label><input type="checkbox" name="consent"> Send me news</label>
  <button type="submit">Send</button>
</form>"""


PAGES = {
    "/spring": ("Spring sale", LANDING),
    "/contact": ("Contact", CONTACT),
    "/thanks": ("Thank you", "<p>We will be in touch.</p>"),
}


@pytest.fixture
def shop(live_server) -> Iterator[tuple[str, dict]]:
    """The business's site: a plain HTTP server on another origin (127.0.0.1 and its own port;
    the product is at localhost). Both are loopback, as Chromium's private network rules want
    for a plain-HTTP page. Yields its origin and the settings its pages are made with."""
    settings: dict[str, str] = {}

    class Pages(BaseHTTPRequestHandler):
        def _page(self) -> None:
            if self.command == "POST":  # the site's own form handler: reads and thanks
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
            title, body = PAGES.get(self.path.split("?")[0], ("Not found", ""))
            html = PAGE.format(title=title, body=body, **settings).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        do_GET = do_POST = _page

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", settings
    finally:
        server.shutdown()
        server.server_close()


def test_a_form_on_the_business_site_becomes_a_lead_with_its_instagram_touch(
    reference_data, live_server, chromium, shop, monkeypatch
):
    seen: list[dict] = []

    def spy(request):
        """The capture view's address reader (it reads nothing else of the request's sender):
        notes what the browser sent with the capture."""
        seen.append(
            {"origin": request.headers.get("Origin"), "cookie": request.headers.get("Cookie")}
        )
        return client_ip(request)

    monkeypatch.setattr(views, "client_ip", spy)
    spring = CampaignFactory(
        name="Spring", channel=Channel.objects.get(slug="instagram"), utm_campaign="spring"
    )
    shop_origin, shop_settings = shop
    site, _ = connector_create(kind=Connector.Kind.SITE, name="Shop", allowed_origins=shop_origin)
    shop_settings.update(live=live_server.url, key=site.key)
    UserFactory(username="sally", groups=["Sales"], is_staff=True)
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None,
    )
    try:
        # Signed in to the product in this browser: the capture must still carry no cookie.
        login(page, live_server, "sally", reverse("admin:index"))
        cookies = context.cookies(live_server.url)
        assert cookies

        page.goto(f"{shop_origin}/spring?utm_source=ig&utm_campaign=spring")
        page.wait_for_load_state("networkidle")
        page.click("#contact")  # the second page of the visit: no tags, the site as referrer
        page.wait_for_load_state("networkidle")
        # The visit's tags filled the form's hidden fields, and were added to the marked form.
        assert page.input_value("input[name=utm_source]") == "ig"
        assert page.input_value("input[name=first_utm_campaign]") == "spring"
        assert page.input_value("#enquiry input[type=hidden][name=utm_campaign]") == "spring"
        assert page.locator("#enquiry input[name=sr_website]").count() == 1  # the honeypot
        page.fill("input[name=email]", "rosa@example.com")
        page.fill("input[name=first_name]", "Rosa")
        page.fill("input[name=last_name]", "Diaz")
        page.fill("input[name=heard_about]", "A friend")
        page.check("input[name=consent]")
        with page.expect_request(lambda r: "/capture/" in r.url and r.method == "POST") as sent:
            page.click("button[type=submit]")
        page.wait_for_url(f"{shop_origin}/thanks")

        # What the browser sent, as our server saw it (a keepalive request outlives the page,
        # so Playwright reports neither its final headers nor its answer).
        request = sent.value
        assert request.headers["content-type"].startswith("text/plain")  # no preflight
        assert request.post_data_json["latest"]["utm_campaign"] == "spring"
        assert request.post_data_json["first"]["utm_source"] == "ig"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
            Delivery.objects.filter(status=Delivery.Status.PROCESSED).exists()
        ):
            time.sleep(0.2)
        assert len(seen) == 1
        assert seen[0]["origin"] == shop_origin
        # Signed in, yet no cookie of ours went with it (the script sends without credentials).
        assert seen[0]["cookie"] is None
        # ...and nothing was set: the browser's cookies for the product are the ones it had.
        assert context.cookies(live_server.url) == cookies

        # Recorded, then processed on commit (eagerly in the tests).
        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.PROCESSED, delivery.error
        assert delivery.meta == {"origin": shop_origin, "consent": True}

        lead = Contact.objects.get(email="rosa@example.com")
        touch = Touchpoint.objects.get(contact=lead)
        assert (touch.kind, touch.channel.slug, touch.campaign) == ("form", "instagram", spring)
        assert touch.metadata["consent"] is True

        page.goto(f"{live_server.url}{reverse('admin:leads_contact_change', args=[lead.pk])}")
        page.wait_for_load_state("networkidle")
        body = page.inner_text("body")
        assert "Rosa" in body
        assert "Form on Instagram, Spring campaign" in body  # the contact's timeline
        for width, height in ((1440, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=str(SCREENSHOTS / f"capture-lead-{width}.png"), full_page=True)
        # No script or CORS error on the site's pages (the product has no favicon: not ours).
        assert [e for e in errors if "favicon.ico" not in e] == []
    finally:
        context.close()
