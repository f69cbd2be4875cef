"""Issue 11: figures that add up or say why not, hand-worked; and the pages that define them.

UTC, March 2026 unless said. Each number is worked out in the comments.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Cost
from leads.models import Via
from leads.services import contact_create, contact_move_stage, purchase_record
from reports.glossary import FUNNEL, FUNNEL_CAPTION, TERMS
from reports.metrics import roi_reports
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    PurchaseFactory,
    TouchpointFactory,
    channel,
)

UTC = dt.UTC
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}
MARCH_QUERY = {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


def _row(report: dict, key: str) -> dict:
    return next(r for r in report["rows"] if r["key"] == key)


# Assisted totals ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_assisted_totals_count_distinct_purchases_at_each_grouping(reference_data):
    """Why the channel and campaign tables' assisted totals differ.

    Facebook runs campaigns A and B; Instagram is touched without a campaign.
    - Ada: A (1 Mar), B (2 Mar), buys 100.00 on 3 Mar. B closes. By campaign, A assisted. By
      channel, Facebook closed it (through B), so no channel assisted it.
    - Grace: Instagram (1 Mar), A (2 Mar), buys 50.00 on 4 Mar. A closes; Instagram assisted,
      in both tables.
    - Bob: A (1 Mar), Instagram (2 Mar), B (3 Mar), buys 30.00 on 5 Mar. B closes. By campaign,
      A and "Instagram (no campaign)" both assisted: one purchase, two rows. By channel, only
      Instagram (Facebook closed it).
    Campaign rows: A 2 (Ada, Bob: 130.00), Instagram (no campaign) 2 (Grace, Bob: 80.00), B 0:
    the rows add up to 4, but 3 distinct purchases were assisted (Ada, Grace, Bob: 180.00).
    Channel rows: Instagram 2 (Grace, Bob: 80.00), Facebook 0; 2 distinct purchases (80.00).
    """
    a = CampaignFactory(name="A", channel=channel("facebook"))
    b = CampaignFactory(name="B", channel=channel("facebook"))
    instagram = channel("instagram")
    journeys = [
        ([(a, 1), (b, 2)], "100.00", 3),
        ([(instagram, 1), (a, 2)], "50.00", 4),
        ([(a, 1), (instagram, 2), (b, 3)], "30.00", 5),
    ]
    for touches, amount, day in journeys:
        contact = ContactFactory(entered_at=at(3, 1))
        for where, touch_day in touches:
            if where is instagram:
                TouchpointFactory(contact=contact, channel=instagram, occurred_at=at(3, touch_day))
            else:
                TouchpointFactory(
                    contact=contact,
                    channel=where.channel,
                    campaign=where,
                    occurred_at=at(3, touch_day),
                )
        PurchaseFactory(contact=contact, amount=Decimal(amount), occurred_at=at(3, day))
    reports = roi_reports(**MARCH)
    by_campaign, by_channel = reports["campaign"], reports["channel"]

    def assisted(report: dict, key: str) -> tuple[int, str]:
        row = _row(report, key) if key != "totals" else report["totals"]
        return row["assisted_conversions"], row["assisted_revenue"]

    assert assisted(by_campaign, str(a.pk)) == (2, "130.00")
    assert assisted(by_campaign, "none:instagram") == (2, "80.00")
    assert assisted(by_campaign, str(b.pk)) == (0, "0.00")
    assert _row(by_campaign, "none:instagram")["label"] == "Instagram (no campaign)"
    assert assisted(by_campaign, "totals") == (3, "180.00")
    assert assisted(by_channel, "instagram") == (2, "80.00")
    assert assisted(by_channel, "facebook") == (0, "0.00")
    assert assisted(by_channel, "totals") == (2, "80.00")
    # The glossary says so, in the words the pages and the schema show.
    assert "distinct purchases" in TERMS["assisted_conversions"].definition
    assert "campaign table's total can be higher" in TERMS["assisted_conversions"].definition


# Cost per lead and CAC where no cost was recorded -------------------------------------------


@pytest.fixture
def no_cost_email(reference_data):
    """An email newsletter with no cost recorded, and a paid Pinterest campaign with no lead.

    - Email: Eve enters from email on 2 March as a lead and buys 80.00 on 9 March (her only
      touch is email, so every model credits email with 1 customer and 80.00). No cost:
      roi, roas null (cost 0); cost per lead 0.00 / 1 = 0.00, CAC 0.00 / 1 = 0.00 (SPEC §3:
      null only where the denominator is exactly zero).
    - Pinterest "Pins": costs 120.00 on 4 March, no contact: cost per lead and CAC null (no
      leads, no customers); roi (0 - 120) / 120 = -1.0000, shown as -100.0%.
    """
    eve = contact_create(
        email="eve@example.com", source="email", entered_at=at(3, 2), stage="lead", via=Via.API
    )
    purchase_record(contact=eve, amount="80.00", occurred_at=at(3, 9), via=Via.API)
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"))
    Cost.objects.create(campaign=pins, incurred_on=dt.date(2026, 3, 4), amount=Decimal("120.00"))
    return pins


@pytest.mark.django_db
def test_cac_is_zero_where_no_cost_was_recorded_and_null_where_no_customer(no_cost_email):
    report = roi_reports(**MARCH)["channel"]
    email, pinterest = _row(report, "email"), _row(report, "pinterest")
    assert (email["cost"], email["leads"], email["customers"]) == ("0.00", 1, "1.00")
    assert (email["roi"], email["roas"]) == (None, None)
    assert (email["cost_per_lead"], email["cost_per_customer"]) == ("0.00", "0.00")
    assert (pinterest["cost_per_lead"], pinterest["cost_per_customer"]) == (None, None)
    assert pinterest["roi"] == "-1.0000"


@pytest.mark.django_db
def test_pages_show_a_dash_for_undefined_figures_and_roi_as_a_percentage(
    marketer_client, no_cost_email
):
    page = marketer_client.get(reverse("reports:dashboard"), MARCH_QUERY).content.decode()
    table = page[page.index('id="table-channels"') : page.index('id="table-campaigns"')]
    email = re.search(r"<tr>\s*<th scope=\"row\">Email</th>(.*?)</tr>", table, re.S).group(1)
    cells = dict(re.findall(r'<td data-label="([^"]+)"[^>]*>([^<]*)</td>', email))
    assert cells["ROI"] == "—" and cells["ROAS"] == "—"  # cost 0
    assert cells["CAC"] == "0.00 USD" and cells["Cost / lead"] == "0.00 USD"  # explained
    pins = re.search(r"<th scope=\"row\">Pinterest</th>(.*?)</tr>", table, re.S).group(1)
    cells = dict(re.findall(r'<td data-label="([^"]+)"[^>]*>([^<]*)</td>', pins))
    assert cells["ROI"] == "-100.0%"  # -1.0000 as a percentage
    assert cells["CAC"] == "—" and cells["Cost / lead"] == "—"  # no customer, no lead
    # The CSV keeps the API's values: a ratio and an empty cell.
    response = marketer_client.get(reverse("reports:export", args=["channels"]), MARCH_QUERY)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["pinterest"]["roi"] == "-1.0000" and rows["pinterest"]["cost_per_customer"] == ""
    assert rows["email"]["cost_per_customer"] == "0.00"


# Headline cards -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_roi_card_is_a_percentage_with_its_change_in_points_and_cost_per_lead_has_a_card(
    marketer_client, scenario
):
    """March (the shared scenario, see test_pages): revenue 150.00, cost 600.00, ROI -0.7500;
    leads 2 (Ada; the walk-in entered as a customer, stamped a lead), cost per lead 300.00.
    The period before (29 Jan - 28 Feb): "Spring pins" costs 100.00 on 10 Feb and a second
    walk-in pays 50.00 with PIN10 on 12 Feb: ROI (50 - 100) / 100 = -0.5000, 1 lead, cost per
    lead 100.00.
    ROI's change: -0.7500 - (-0.5000) = -0.25, shown as -25.0 pp (a relative change of the
    ratio would read -50.0%, which says nothing). Cost per lead: (300 - 100) / 100 = +200.0%,
    bad (it costs more)."""
    Cost.objects.create(
        campaign=scenario["pins"], incurred_on=dt.date(2026, 2, 10), amount=Decimal("100.00")
    )
    purchase_record(email="walkin2@example.com", amount="50.00", coupon="PIN10",
                    occurred_at=at(2, 12), via=Via.API)  # fmt: skip
    response = marketer_client.get(reverse("reports:dashboard"), MARCH_QUERY)
    cards = {c["key"]: c for c in response.context["headlines"]}
    assert [c["key"] for c in response.context["headlines"]] == [
        "revenue",
        "cost",
        "roi",
        "leads",
        "cost_per_lead",
        "customers",
        "cost_per_customer",
    ]
    assert (cards["roi"]["value"], cards["roi"]["previous"]) == ("-0.7500", "-0.5000")
    assert cards["roi"]["change"] == Decimal("-0.250") and cards["roi"]["good"] is False
    assert (cards["cost_per_lead"]["value"], cards["cost_per_lead"]["previous"]) == (
        "300.00",
        "100.00",
    )
    assert cards["cost_per_lead"]["change"] == Decimal("2.000")
    assert cards["cost_per_lead"]["good"] is False
    page = response.content.decode()
    roi_card = page[page.index('data-figure="roi"') :][:900]
    assert '<p class="value">-75.0%</p>' in roi_card
    assert "-25.0 pp" in roi_card and "(was -50.0%)" in roi_card
    cpl_card = page[page.index('data-figure="cost_per_lead"') :][:900]
    assert '<p class="value">300.00 USD</p>' in cpl_card and "+200.0%" in cpl_card


# Definitions on the pages -------------------------------------------------------------------


@pytest.mark.django_db
def test_every_header_and_card_carries_its_definition_on_hover_and_focus(marketer_client, scenario):
    page = marketer_client.get(reverse("reports:dashboard"), MARCH_QUERY).content.decode()
    # A header's sort button is described by a tooltip holding the glossary's words.
    tips = {
        key: html.unescape(text)
        for key, text in re.findall(
            r'<button type="button" class="sort" aria-describedby="([^"]+)">[^<]*</button>'
            r'<span role="tooltip" class="tip" id="\1">([^<]*)</span>',
            page,
        )
    }
    assert tips["table-channels-tip-roi"] == TERMS["roi"].definition
    assert tips["table-campaigns-tip-cost_per_customer"] == TERMS["cost_per_customer"].definition
    # The funnel's counts have the funnel's words (by the day each stage was reached).
    assert tips["table-funnel-tip-qualified"] == FUNNEL["qualified"].definition
    assert tips["table-funnel-tip-customers"] == FUNNEL["customers"].definition
    # Cards: a focusable term described by its tooltip.
    cards = re.findall(
        r'<button type="button" class="term" aria-describedby="card-tip-(\w+)">', page
    )
    assert cards == [
        "revenue",
        "cost",
        "roi",
        "leads",
        "cost_per_lead",
        "customers",
        "cost_per_customer",
    ]
    assert page.count('role="tooltip"') == len(
        set(re.findall(r'role="tooltip"[^>]*id="([^"]+)"', page))
    )
    # The notes by the tables and the list for phones and print.
    assert FUNNEL_CAPTION in page and "(counted by the day each stage was reached)" in page
    assert "the funnel below counts each new customer whole" in page
    assert "Assisted totals count each assisted purchase once" in page
    assert "What the figures mean" in page
    for key in ("unattributed", "no_campaign", "assisted_conversions", "cost_per_customer"):
        assert f"<dd>{TERMS[key].definition}</dd>".replace("'", "&#x27;") in page


@pytest.mark.django_db
def test_no_campaign_rows_are_named_with_their_channel_on_every_page(marketer_client, scenario):
    # Ada (from "B2B posts") also touches facebook without a campaign on 4 March; Grace comes
    # from email without a campaign and buys 40.00 on 6 March: two "(no campaign)" rows.
    TouchpointFactory(contact=scenario["ada"], channel=channel("facebook"), occurred_at=at(3, 4))
    grace = contact_create(
        email="grace@example.com", source="email", entered_at=at(3, 5), via=Via.API
    )
    contact_move_stage(contact=grace, stage="lead", at=at(3, 5, 1), via=Via.API)
    purchase_record(contact=grace, amount="40.00", occurred_at=at(3, 6), via=Via.API)
    page = marketer_client.get(reverse("reports:dashboard"), MARCH_QUERY).content.decode()
    assert "Email (no campaign)" in page and "Facebook (no campaign)" in page
    assert '<th scope="row">(no campaign)' not in page
    # Named with its channel, the row needs no "(facebook)" after it, as campaigns have.
    assert '<th scope="row">Facebook (no campaign)</th>' in page
    page = marketer_client.get(
        reverse("reports:attribution"), {**MARCH_QUERY, "group_by": "campaign"}
    ).content.decode()
    assert '<th scope="row">Email (no campaign)</th>' in page
    assert '<th scope="row">Facebook (no campaign)</th>' in page
    response = marketer_client.get(reverse("reports:export", args=["campaigns"]), MARCH_QUERY)
    labels = {r["key"]: r["label"] for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert labels["none:email"] == "Email (no campaign)"
    assert labels["none:facebook"] == "Facebook (no campaign)"


@pytest.mark.django_db
def test_saved_report_page_defines_its_figures_and_names_no_campaign_rows(
    marketer_client, scenario
):
    """A saved March report by campaign (the shared scenario plus Grace from email without a
    campaign, 40.00 on 6 March): its table shows ROI as a percentage ("Spring pins": last touch
    credits it both coupon purchases, 150.00 against 400.00: -0.6250, -62.5%), names the email
    row "Email (no campaign)", and defines its figures."""
    from reports import services

    grace = contact_create(
        email="grace@example.com", source="email", entered_at=at(3, 5), via=Via.API
    )
    purchase_record(contact=grace, amount="40.00", occurred_at=at(3, 6), via=Via.API)
    report = services.report_request(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), group_by="campaign", enqueue=False
    )
    services.report_generate(report_id=report.pk)
    page = marketer_client.get(reverse("reports:saved-detail", args=[report.pk])).content.decode()
    pins = re.search(r"<th scope=\"row\">Spring pins</th>(.*?)</tr>", page, re.S).group(1)
    assert dict(re.findall(r'<td data-label="([^"]+)"[^>]*>([^<]*)</td>', pins))["ROI"] == (
        "-62.5%"
    )
    assert "Email (no campaign)" in page
    assert 'aria-describedby="table-report-roi-tip-roi"' in page
    assert 'id="table-report-funnel-tip-qualified"' in page
    assert FUNNEL_CAPTION in page and "What the figures mean" in page
    # The stored data keeps the API's values.
    report.refresh_from_db()
    assert _row(report.data["roi"], str(scenario["pins"].pk))["roi"] == "-0.6250"


@pytest.mark.django_db
def test_campaign_page_shows_roi_as_a_percentage(marketer_client, scenario):
    # "B2B posts": cost 200.00, no revenue under last touch: ROI -1.0000, -100.0%.
    page = marketer_client.get(
        reverse("reports:campaign", args=[scenario["b2b"].pk]), MARCH_QUERY
    ).content.decode()
    assert '<p class="value">-100.0%</p>' in page
    assert 'aria-describedby="card-tip-roi"' in page and "What the figures mean" in page


def test_roi_change_is_in_points_and_other_changes_stay_relative():
    from reports.dashboard import headline_cards
    from reports.templatetags.report_format import signed_percent, signed_points

    # ROI from -0.5300 to -0.3600: +0.17, "+17.0 pp", good (a relative change would be -32.1%).
    # Revenue from 80.00 to 64.00: (64 - 80) / 80 = -0.2, "-20.0%". Cost per lead with no lead
    # before (null): no change.
    cards = {
        c["key"]: c
        for c in headline_cards(
            {"roi": "-0.3600", "revenue": "64.00", "cost_per_lead": "12.50"},
            {"roi": "-0.5300", "revenue": "80.00", "cost_per_lead": None},
        )
    }
    assert (cards["roi"]["change"], cards["roi"]["change_unit"]) == (Decimal("0.170"), "pp")
    assert signed_points(cards["roi"]["change"]) == "+17.0 pp" and cards["roi"]["good"] is True
    assert signed_percent(cards["revenue"]["change"]) == "-20.0%"
    assert cards["revenue"]["change_unit"] == "%" and cards["revenue"]["good"] is False
    assert cards["cost_per_lead"]["change"] is None
    # ROI with no cost before (null): no change; from 0 it is a plain difference in points.
    cards = {c["key"]: c for c in headline_cards({"roi": "0.2500"}, {"roi": None})}
    assert signed_points(cards["roi"]["change"]) == "no previous figure"
    cards = {c["key"]: c for c in headline_cards({"roi": "0.2500"}, {"roi": "0.0000"})}
    assert signed_points(cards["roi"]["change"]) == "+25.0 pp"
    # Rounded half away from zero, like every figure: a change of -0.0005 (-0.05 pp) reads
    # -0.1 pp.
    assert signed_points(Decimal("-0.0005")) == "-0.1 pp"
