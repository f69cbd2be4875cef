"""The March 2026 scenario shared by the page and browser tests (worked out in test_pages.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Cost
from leads.models import Via
from leads.services import contact_create, contact_move_stage, purchase_record
from tests.factories import CampaignFactory, CouponFactory, channel

UTC = dt.UTC


@pytest.fixture
def scenario(reference_data):
    pins = CampaignFactory(
        name="Spring pins", channel=channel("pinterest"), starts_on=dt.date(2026, 2, 1)
    )
    b2b = CampaignFactory(
        name="B2B posts",
        channel=channel("linkedin"),
        starts_on=dt.date(2026, 2, 1),
        target_leads=2,
        target_cost_per_lead=Decimal("50.00"),
    )
    Cost.objects.create(campaign=pins, incurred_on=dt.date(2026, 3, 5), amount=Decimal("400.00"))
    Cost.objects.create(campaign=b2b, incurred_on=dt.date(2026, 3, 10), amount=Decimal("200.00"))
    CouponFactory(code="PIN10", campaign=pins)
    ada = contact_create(
        email="ada@example.com",
        source_campaign=b2b,
        entered_at=dt.datetime(2026, 3, 2, 10, tzinfo=UTC),
        via=Via.API,
    )
    contact_move_stage(
        contact=ada, stage="lead", at=dt.datetime(2026, 3, 3, 10, tzinfo=UTC), via=Via.API
    )
    purchase_record(
        contact=ada,
        amount="100.00",
        coupon="pin10",
        occurred_at=dt.datetime(2026, 3, 20, 12, tzinfo=UTC),
        via=Via.API,
    )
    purchase_record(
        email="walkin@example.com",
        amount="50.00",
        coupon="PIN10",
        occurred_at=dt.datetime(2026, 3, 15, 9, tzinfo=UTC),
        via=Via.API,
    )
    return {"pins": pins, "b2b": b2b, "ada": ada}


def coupon_sale(*, name: str = "Spring pins", code: str = "PIN10"):
    """A campaign on pinterest costing 400.00 on 5 March 2026, with a coupon; Ada enters from
    facebook on 2 March and pays 100.00 with the coupon on 20 March. Returns the campaign."""
    campaign = CampaignFactory(name=name, channel=channel("pinterest"))
    Cost.objects.create(
        campaign=campaign, incurred_on=dt.date(2026, 3, 5), amount=Decimal("400.00")
    )
    CouponFactory(code=code, campaign=campaign)
    ada = contact_create(
        email="ada@example.com",
        source="facebook",
        entered_at=dt.datetime(2026, 3, 2, tzinfo=UTC),
        via=Via.API,
    )
    purchase_record(
        contact=ada,
        amount="100.00",
        coupon=code,
        occurred_at=dt.datetime(2026, 3, 20, tzinfo=UTC),
        via=Via.API,
    )
    return campaign
