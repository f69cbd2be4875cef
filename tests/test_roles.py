"""The role groups made by the data migration, and what each may do."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

EXPECTED = {
    # permission: (sales, marketing, integration)
    "leads.add_contact": (True, False, True),
    "leads.change_contact": (True, False, True),
    "leads.view_contact": (True, True, True),
    "leads.delete_contact": (False, False, False),
    "leads.merge_contact": (True, False, False),
    "leads.erase_contact": (False, False, False),
    "leads.force_stage_change": (False, False, False),
    "leads.add_touchpoint": (True, False, True),
    "leads.add_purchase": (True, False, True),
    "leads.view_purchase": (True, True, True),
    "leads.view_stagechange": (True, True, True),
    "campaigns.view_campaign": (True, True, True),
    "campaigns.add_campaign": (False, True, False),
    "campaigns.change_campaign": (False, True, False),
    "campaigns.view_coupon": (True, True, True),
    "campaigns.add_coupon": (False, True, False),
    "campaigns.add_cost": (False, True, False),
    "campaigns.view_cost": (False, True, False),
    "campaigns.add_engagementstat": (False, True, True),
    "campaigns.view_channel": (True, True, True),
    "reports.view_dashboard": (False, True, False),
    "reports.add_report": (False, True, False),
    "campaigns.add_importjob": (True, True, False),
    "campaigns.delete_importjob": (False, True, False),
    "campaigns.change_timeentry": (False, True, False),
    "campaigns.change_hourlyrate": (False, True, False),
    "campaigns.change_campaignalias": (False, True, False),
    "campaigns.view_campaignalias": (True, True, True),
}


@pytest.mark.parametrize("perm", sorted(EXPECTED))
def test_role_permissions(perm, sales_user, marketing_user, integration_user):
    got = tuple(user.has_perm(perm) for user in (sales_user, marketing_user, integration_user))
    assert got == EXPECTED[perm]


def test_superusers_hold_every_permission(superuser):
    assert all(superuser.has_perm(perm) for perm in EXPECTED)


def test_nobody_in_a_role_may_delete_anything(sales_user, marketing_user, integration_user):
    for user in (sales_user, integration_user):
        assert not [p for p in user.get_all_permissions() if ".delete_" in p]
    # Marketing manages its own catalogue (campaigns, costs, coupons, aliases), nothing of sales'.
    assert not [p for p in marketing_user.get_all_permissions() if p.startswith("leads.delete_")]
