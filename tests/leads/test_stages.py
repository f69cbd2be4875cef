"""Stage moves: forward only, implied stamps, forced moves behind a permission, history rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from campaigns.errors import InvalidInput, NotPermitted, StageMoveRefused
from leads.models import Stage, StageChange, Via
from leads.services import contact_create, contact_move_stage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def follower(**kwargs):
    return contact_create(
        email=kwargs.pop("email", "f@example.com"), entered_at=T0, via=Via.API, **kwargs
    )


def test_entry_writes_the_entry_row():
    contact = follower(source="facebook")
    (row,) = StageChange.objects.filter(contact=contact)
    assert (row.from_stage, row.to_stage, row.at, row.via) == ("", "follower", T0, "api")


def test_forward_move_stamps_every_earlier_stage_with_the_same_time(sales_user):
    contact = follower()
    at = T0 + dt.timedelta(days=3)
    change = contact_move_stage(
        contact=contact, stage=Stage.CUSTOMER, at=at, by=sales_user, via=Via.ADMIN
    )
    contact.refresh_from_db()
    assert contact.stage == Stage.CUSTOMER
    assert contact.entered_at == T0  # already stamped: kept
    assert contact.became_lead_at == contact.became_qualified_at == contact.became_customer_at == at
    assert (change.from_stage, change.to_stage, change.changed_by, change.via, change.forced) == (
        "follower",
        "customer",
        sales_user,
        "admin",
        False,
    )


def test_each_move_writes_exactly_one_history_row(sales_user):
    contact = follower()
    contact_move_stage(
        contact=contact, stage="lead", at=T0 + dt.timedelta(days=1), by=sales_user, via=Via.API
    )
    contact_move_stage(
        contact=contact, stage="qualified", at=T0 + dt.timedelta(days=2), by=sales_user, via=Via.API
    )
    moves = list(StageChange.objects.filter(contact=contact).values_list("from_stage", "to_stage"))
    assert moves == [("", "follower"), ("follower", "lead"), ("lead", "qualified")]
    contact.refresh_from_db()
    assert contact.became_lead_at == T0 + dt.timedelta(days=1)
    assert contact.became_qualified_at == T0 + dt.timedelta(days=2)


def test_moving_to_the_current_stage_changes_nothing():
    contact = follower()
    contact_move_stage(contact=contact, stage="lead", at=T0 + dt.timedelta(days=1), via=Via.API)
    assert contact_move_stage(contact=contact, stage="lead", via=Via.API) is None
    assert StageChange.objects.filter(contact=contact).count() == 2


def test_a_backdated_move_pulls_earlier_stamps_back():
    # Entered 1 March, but the form fill that made it a lead happened on 20 February.
    contact = follower()
    earlier = T0 - dt.timedelta(days=9)
    contact_move_stage(contact=contact, stage="lead", at=earlier, via=Via.IMPORT)
    contact.refresh_from_db()
    assert contact.entered_at == contact.became_lead_at == earlier


def test_backward_moves_are_refused_without_force(sales_user):
    contact = follower()
    contact_move_stage(
        contact=contact, stage="qualified", at=T0 + dt.timedelta(days=1), via=Via.API
    )
    with pytest.raises(StageMoveRefused, match="only move forward"):
        contact_move_stage(contact=contact, stage="lead", by=sales_user, via=Via.ADMIN)
    contact.refresh_from_db()
    assert contact.stage == "qualified"
    assert StageChange.objects.filter(contact=contact).count() == 2


def test_forced_backward_move_needs_the_permission(sales_user):
    contact = follower()
    contact_move_stage(contact=contact, stage="customer", at=T0 + dt.timedelta(days=1), via=Via.API)
    with pytest.raises(NotPermitted):
        contact_move_stage(contact=contact, stage="lead", force=True, by=sales_user, via=Via.ADMIN)
    with pytest.raises(NotPermitted):
        contact_move_stage(contact=contact, stage="lead", force=True, by=None, via=Via.SYSTEM)
    contact.refresh_from_db()
    assert contact.stage == "customer"


def test_forced_backward_move_clears_stamps_above_and_is_recorded():
    manager = UserFactory(username="manager", groups=["Sales"])
    manager.user_permissions.add(Permission.objects.get(codename="force_stage_change"))
    contact = follower()
    at = T0 + dt.timedelta(days=1)
    contact_move_stage(contact=contact, stage="customer", at=at, via=Via.API)
    change = contact_move_stage(
        contact=contact, stage="lead", force=True, by=manager, via=Via.ADMIN, note="refund"
    )
    contact.refresh_from_db()
    assert contact.stage == "lead"
    assert contact.became_lead_at == at
    assert contact.became_qualified_at is None and contact.became_customer_at is None
    assert (change.from_stage, change.to_stage, change.forced, change.changed_by, change.note) == (
        "customer",
        "lead",
        True,
        manager,
        "refund",
    )


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"stage": "vip"}, "stage"),
        ({"stage": "lead", "at": dt.datetime(2026, 3, 2, 9, 0)}, "at"),  # naive
        ({"stage": "lead", "at": dt.datetime(2099, 1, 1, tzinfo=UTC)}, "at"),  # future
    ],
)
def test_bad_moves_are_invalid_input(kwargs, field):
    contact = follower()
    with pytest.raises(InvalidInput) as error:
        contact_move_stage(contact=contact, via=Via.API, **kwargs)
    assert error.value.field == field


def test_history_is_append_only():
    contact = follower()
    row = StageChange.objects.get(contact=contact)
    row.note = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        row.save()


def test_entering_at_a_later_stage_stamps_the_earlier_ones():
    contact = contact_create(
        email="form@example.com", stage="lead", entered_at=T0, source="linkedin", via=Via.API
    )
    assert contact.stage == "lead"
    assert contact.entered_at == contact.became_lead_at == T0
    assert contact.became_qualified_at is None
