"""The stage-aware models, hand-worked (docs/metrics.md, "Stage-aware models").

W-shaped: 30% to the first touch, 30% to the last touch at or before the contact became a lead,
30% to the last touch at or before it became qualified, 10% shared by the other touches. Full
path: 22.5% to each of those three and to the closing touch, 10% shared by the others. A touch
that is two milestones takes both shares; with no other touch the 10% is dropped and the rest
normalised. Cents are floored and the remainder goes to the largest exact share (the earliest on
a tie), as in every model. Each report is read cold, then from the day caches.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User

from leads.models import Via
from leads.services import contact_create, contact_move_stage, purchase_record, touchpoint_record
from reports.metrics import roi_report
from tests.factories import channel
from tests.reports.test_exact_figures import cold_then_cached, figures

pytestmark = pytest.mark.django_db

UTC = dt.UTC
AUGUST = {"start": dt.date(2026, 8, 1), "end": dt.date(2026, 8, 31)}
SEPTEMBER = {"start": dt.date(2026, 9, 1), "end": dt.date(2026, 9, 30)}
OCTOBER = {"start": dt.date(2026, 10, 1), "end": dt.date(2026, 10, 31)}


def at(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


def touch(contact, slug: str, when: dt.datetime) -> None:
    touchpoint_record(contact=contact, channel=channel(slug), kind="click", occurred_at=when)


def revenue_and_customers(period: dict, model: str) -> tuple[dict, dict]:
    report = cold_then_cached(lambda: roi_report(**period, attribution=model))
    assert report["totals"]["revenue"] == sum_text(figures(report, "revenue"))
    return figures(report, "revenue"), figures(report, "customers")


def sum_text(values: dict) -> str:
    return f"{sum(float(v) for v in values.values()):.2f}"


@pytest.fixture
def ada(reference_data):
    """Six touches around her two stamps, then 100.00 on 9 August:
    1 Aug facebook (entry), 2 Aug instagram, 3 Aug LEAD, 4 Aug linkedin, 5 Aug pinterest,
    6 Aug QUALIFIED, 7 Aug x, 8 Aug youtube, 9 Aug purchase."""
    ada = contact_create(email="ada@example.com", source="facebook", entered_at=at(8, 1), via="api")
    touch(ada, "instagram", at(8, 2))
    contact_move_stage(contact=ada, stage="lead", at=at(8, 3), via=Via.API)
    touch(ada, "linkedin", at(8, 4))
    touch(ada, "pinterest", at(8, 5))
    contact_move_stage(contact=ada, stage="qualified", at=at(8, 6), via=Via.API)
    touch(ada, "x", at(8, 7))
    touch(ada, "youtube", at(8, 8))
    purchase_record(contact=ada, amount="100.00", occurred_at=at(8, 9), via=Via.API)
    return ada


def test_w_shaped_gives_the_three_milestones_30_percent_each(ada):
    # Milestones: the first touch (facebook); the last at or before the lead stamp (3 Aug:
    # instagram, 2 Aug); the last at or before the qualified stamp (6 Aug: pinterest, 5 Aug).
    # The rest (linkedin, x, youtube) share 10%: 3.333...% each.
    # Cents of 10,000: 3,000 x 3 and floor(333.33) = 333 x 3 = 9,999; the remainder cent goes to
    # the largest exact share, a three-way tie at 30%: the earliest, facebook.
    revenue, customers = revenue_and_customers(AUGUST, "w_shaped")
    assert revenue == {
        "facebook": "30.01",
        "instagram": "30.00",
        "pinterest": "30.00",
        "linkedin": "3.33",
        "x": "3.33",
        "youtube": "3.33",
    }
    # The new customer split by the exact weights: 0.3 x 3 and 1/30 = 0.0333 x 3.
    assert customers == {
        "facebook": "0.30",
        "instagram": "0.30",
        "pinterest": "0.30",
        "linkedin": "0.03",
        "x": "0.03",
        "youtube": "0.03",
    }


def test_full_path_adds_the_closing_touch_as_a_fourth_milestone(ada):
    # Milestones facebook, instagram, pinterest and the closing touch youtube: 22.5% each
    # (2,250 cents); linkedin and x share 10%: 5% each (500 cents). 4 x 2,250 + 2 x 500 = 10,000:
    # no remainder.
    revenue, customers = revenue_and_customers(AUGUST, "full_path")
    assert revenue == {
        "facebook": "22.50",
        "instagram": "22.50",
        "pinterest": "22.50",
        "youtube": "22.50",
        "linkedin": "5.00",
        "x": "5.00",
    }
    # 0.225 is shown half up: 0.23; 0.05 for the two others.
    assert customers == {
        "facebook": "0.23",
        "instagram": "0.23",
        "pinterest": "0.23",
        "youtube": "0.23",
        "linkedin": "0.05",
        "x": "0.05",
    }


def test_a_touch_that_is_two_milestones_takes_both_shares(reference_data):
    # Bo enters from facebook on 10 Sep at noon and becomes a lead an hour later; an instagram
    # click on 11 Sep; qualified on 12 Sep; 10.00 on 13 Sep. Touches: facebook, instagram.
    bo = contact_create(email="bo@example.com", source="facebook", entered_at=at(9, 10), via="api")
    contact_move_stage(contact=bo, stage="lead", at=at(9, 10, 13), via=Via.API)
    touch(bo, "instagram", at(9, 11))
    contact_move_stage(contact=bo, stage="qualified", at=at(9, 12), via=Via.API)
    purchase_record(contact=bo, amount="10.00", occurred_at=at(9, 13), via=Via.API)
    # W-shaped: facebook is the first touch and the lead touch (60% of the 90%), instagram the
    # qualified touch (30%); no other touch, so the 10% is dropped: 2/3 and 1/3 of 1,000 cents =
    # 666 + 333 = 999, the remainder cent to the largest share, facebook's.
    revenue, customers = revenue_and_customers(SEPTEMBER, "w_shaped")
    assert revenue == {"facebook": "6.67", "instagram": "3.33"}
    assert customers == {"facebook": "0.67", "instagram": "0.33"}
    # Full path: facebook first and lead (45%), instagram qualified and closing (45%): half each.
    revenue, customers = revenue_and_customers(SEPTEMBER, "full_path")
    assert revenue == {"facebook": "5.00", "instagram": "5.00"}
    assert customers == {"facebook": "0.50", "instagram": "0.50"}


def test_the_remainder_cent_goes_to_the_touch_that_is_most_milestones(reference_data):
    # Cy: facebook on 14 Oct (entry), instagram on 15 Oct, lead and qualified at once on 16 Oct,
    # x on 17 Oct, a purchase of 0.01 on 18 Oct. Instagram is both the lead and the qualified
    # touch.
    cy = contact_create(email="cy@example.com", source="facebook", entered_at=at(10, 14), via="api")
    touch(cy, "instagram", at(10, 15))
    contact_move_stage(contact=cy, stage="qualified", at=at(10, 16), via=Via.API)
    touch(cy, "x", at(10, 17))
    purchase_record(contact=cy, amount="0.01", occurred_at=at(10, 18), via=Via.API)
    # W-shaped: facebook 30%, instagram 60%, x (the rest) 10%. Every share floors to 0; the cent
    # goes to the largest exact share: instagram (the first touch would have had it before).
    revenue, customers = revenue_and_customers(OCTOBER, "w_shaped")
    assert revenue == {"facebook": "0.00", "instagram": "0.01", "x": "0.00"}
    assert customers == {"facebook": "0.30", "instagram": "0.60", "x": "0.10"}
    # Full path: facebook 22.5%, instagram 45%, x (closing) 22.5%, no rest: 1/4, 1/2, 1/4.
    revenue, customers = revenue_and_customers(OCTOBER, "full_path")
    assert revenue == {"facebook": "0.00", "instagram": "0.01", "x": "0.00"}
    assert customers == {"facebook": "0.25", "instagram": "0.50", "x": "0.25"}


def test_a_walk_in_with_no_touch_is_unattributed(reference_data):
    # A purchase for an unknown email without a coupon records no touch: all of it unattributed.
    purchase_record(email="walkin@example.com", amount="25.00", occurred_at=at(8, 20), via="api")
    for model in ("w_shaped", "full_path"):
        report = cold_then_cached(lambda m=model: roi_report(**AUGUST, attribution=m))
        assert figures(report, "revenue")["unattributed"] == "25.00"
        assert report["totals"]["revenue"] == "25.00"


def test_a_forced_move_that_clears_a_stamp_changes_the_cached_credit(ada):
    # A second purchase of 10.00 on 15 August, with the same six touches: 300 cents to each
    # milestone, floor(33.33) = 33 to each of the three others, the remainder cent to facebook.
    purchase_record(contact=ada, amount="10.00", occurred_at=at(8, 15), via=Via.API)
    # Cached first: 30.01 + 3.01 to facebook, 30.00 + 3.00 to instagram and pinterest, 3.33 +
    # 0.33 to each of the others.
    revenue, _ = revenue_and_customers(AUGUST, "w_shaped")
    assert revenue["facebook"] == "33.02"
    assert revenue["pinterest"] == "33.00"
    fifteenth = {"start": dt.date(2026, 8, 15), "end": dt.date(2026, 8, 15)}
    assert figures(roi_report(**fifteenth, attribution="w_shaped"), "revenue")["x"] == "0.33"
    # Ada is forced back to lead on 20 August: her qualified and customer stamps are cleared.
    boss = User.objects.create_user("boss", password="x")
    boss.user_permissions.add(Permission.objects.get(codename="force_stage_change"))
    boss = User.objects.get(pk=boss.pk)
    contact_move_stage(contact=ada, stage="lead", force=True, by=boss, via=Via.ADMIN, at=at(8, 20))
    # No qualified stamp: that milestone falls back to the lead touch (instagram), which now
    # takes 60%; facebook 30%; the four others share 10%: 2.5% each. 3,000 + 6,000 + 4 x 250 =
    # 10,000 cents, and 300 + 600 + 4 x 25 = 1,000. Both purchase days were cached with the old
    # stamps (15 August is no stamp's day): the move voided them.
    assert figures(roi_report(**fifteenth, attribution="w_shaped"), "revenue")["x"] == "0.25"
    report = roi_report(**AUGUST, attribution="w_shaped")
    assert figures(report, "revenue") == {
        "facebook": "33.00",
        "instagram": "66.00",
        "pinterest": "2.75",
        "linkedin": "2.75",
        "x": "2.75",
        "youtube": "2.75",
    }
