"""The sales admin: lists, filters, search, actions through the services, merge and erase."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from leads.admin_utils import COUNT_CAP, CappedCountPaginator
from leads.models import Contact, ContactMerge, Purchase, StageChange, Touchpoint, Via
from leads.services import contact_create, contact_move_stage, purchase_record
from tests.factories import CampaignFactory, ContactFactory, CouponFactory, PurchaseFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CHANGELIST = reverse("admin:leads_contact_changelist")


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


def make_contacts(count: int) -> list[Contact]:
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    coupon = CouponFactory(campaign=pins)
    contacts = []
    for i in range(count):
        contact = ContactFactory(
            source_channel=channel("pinterest"), source_campaign=pins, coupon=coupon
        )
        PurchaseFactory(contact=contact, amount=Decimal("10.00") + i)
        contacts.append(contact)
    return contacts


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?stage=follower",
        "?source_channel__id__exact=1",
        "?source_campaign__id__exact=1",
        "?coupon__id__exact=1",
        "?owner__id__exact=1",
        "?q=ada@example.com",
        "?q=Lov",
        "?q=%2B1555",
    ],
)
def test_changelist_renders_with_each_filter_and_search(sales_client, query):
    make_contacts(3)
    ContactFactory(email="Ada@Example.com", last_name="Lovelace", phone="+15550001")
    response = sales_client.get(CHANGELIST + query)
    assert response.status_code == 200


def test_search_by_email_is_exact_and_case_insensitive(sales_client):
    ada = ContactFactory(email="Ada@Example.com")
    ContactFactory(email="ada@example.org")
    response = sales_client.get(CHANGELIST, {"q": "ADA@example.COM"})
    assert [c.pk for c in response.context["cl"].result_list] == [ada.pk]


def test_search_matches_the_start_of_names_companies_handles(sales_client):
    ada = ContactFactory(last_name="Lovelace", company="Analytical Engines", handle="@countess")
    ContactFactory(last_name="Turing")
    for term in ("Love", "analyt", "@count"):
        response = sales_client.get(CHANGELIST, {"q": term})
        assert [c.pk for c in response.context["cl"].result_list] == [ada.pk], term


def test_lifetime_revenue_column(sales_client):
    contact = ContactFactory()
    PurchaseFactory(contact=contact, amount=Decimal("10.00"))
    PurchaseFactory(contact=contact, amount=Decimal("2.50"))
    response = sales_client.get(CHANGELIST)
    (row,) = response.context["cl"].result_list
    assert row.lifetime_revenue_value == Decimal("12.50")


def test_changelist_query_count_does_not_grow_with_contacts(
    sales_client, django_assert_max_num_queries
):
    make_contacts(5)
    with django_assert_max_num_queries(20) as few:
        sales_client.get(CHANGELIST)
    make_contacts(45)
    with django_assert_max_num_queries(len(few.captured_queries)):
        sales_client.get(CHANGELIST)


def test_the_paginator_caps_its_count():
    ContactFactory.create_batch(3)
    assert CappedCountPaginator(Contact.objects.all(), 2).count == 3
    # The cap is what a filtered count costs at most; unfiltered PostgreSQL uses the estimate.
    assert COUNT_CAP == 10_000


def test_move_actions_go_through_the_service_and_leave_history(sales_client, sales_user):
    a = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    b = contact_create(email="b@example.com", entered_at=T0, via=Via.API)
    response = sales_client.post(
        CHANGELIST, {"action": "move_to_qualified", "_selected_action": [a.pk, b.pk]}, follow=True
    )
    assert "Moved 2 contact(s) to qualified" in response.content.decode()
    for contact in (a, b):
        contact.refresh_from_db()
        assert (
            contact.stage == "qualified" and contact.became_lead_at == contact.became_qualified_at
        )
        move = StageChange.objects.filter(contact=contact).last()
        assert (move.to_stage, move.via, move.changed_by) == ("qualified", "admin", sales_user)


def test_a_refused_backward_move_says_so_and_changes_nothing(sales_client):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    contact_move_stage(contact=contact, stage="customer", at=T0, via=Via.API)
    response = sales_client.post(
        CHANGELIST, {"action": "move_to_lead", "_selected_action": [contact.pk]}, follow=True
    )
    assert "cannot move back to lead" in response.content.decode()
    contact.refresh_from_db()
    assert contact.stage == "customer"
    assert StageChange.objects.filter(contact=contact).count() == 2


def test_assign_to_me(sales_client, sales_user):
    contacts = ContactFactory.create_batch(2)
    sales_client.post(
        CHANGELIST, {"action": "assign_to_me", "_selected_action": [c.pk for c in contacts]}
    )
    assert set(Contact.objects.values_list("owner", flat=True)) == {sales_user.pk}


def test_the_add_form_records_entry_history_and_first_touch(sales_client, sales_user):
    response = sales_client.post(
        reverse("admin:leads_contact_add"),
        {
            "email": "form@example.com",
            "first_name": "Form",
            "stage": "lead",
            "entered_at_0": "2026-03-01",
            "entered_at_1": "09:00:00",
            "source_channel": channel("linkedin").pk,
            "touch_kind": "form",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = Contact.objects.get(email="form@example.com")
    assert contact.stage == "lead" and contact.became_lead_at == contact.entered_at
    entry = StageChange.objects.get(contact=contact)
    assert (entry.from_stage, entry.to_stage, entry.via, entry.changed_by) == (
        "",
        "lead",
        "admin",
        sales_user,
    )
    touch = Touchpoint.objects.get(contact=contact)
    assert (touch.kind, touch.channel.slug) == ("form", "linkedin")


def test_the_add_form_refuses_an_email_in_another_case(sales_client):
    ContactFactory(email="Ada@Example.com")
    response = sales_client.post(
        reverse("admin:leads_contact_add"),
        {
            "email": "ada@example.com",
            "stage": "follower",
            "entered_at_0": "2026-03-01",
            "entered_at_1": "09:00:00",
            "source_channel": channel("x").pk,
            "touch_kind": "follow",
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Contact.objects.count() == 1


def test_stage_is_read_only_on_the_change_form(sales_client):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    response = sales_client.get(reverse("admin:leads_contact_change", args=[contact.pk]))
    assert "stage" not in response.context["adminform"].form.fields
    assert "Move stage" in response.content.decode()


def test_contact_page_shows_one_timeline_instead_of_the_tables(
    sales_client, django_assert_max_num_queries
):
    contact = contact_create(email="a@example.com", source="fb", entered_at=T0, via=Via.API)
    purchase_record(
        contact=contact, amount="25.00", occurred_at=T0 + dt.timedelta(days=1), via=Via.API
    )
    with django_assert_max_num_queries(25):
        response = sales_client.get(reverse("admin:leads_contact_change", args=[contact.pk]))
    assert response.context["inline_admin_formsets"] == []
    body = response.content.decode()
    assert 'id="timeline-title"' in body
    assert "Purchase 25.00 USD" in body
    assert "Entered the funnel as a follower" in body
    # The full lists, filtered to this contact, for whoever may read them.
    touches = reverse("admin:leads_touchpoint_changelist") + f"?contact__id__exact={contact.pk}"
    assert touches in body
    listed = sales_client.get(touches)
    assert listed.status_code == 200
    assert [t.contact_id for t in listed.context["cl"].result_list] == [contact.pk]


def test_move_stage_page_and_force_permission(sales_client, sales_user):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    url = reverse("admin:leads_contact_move", args=[contact.pk])
    sales_client.post(url, {"stage": "customer", "note": "signed"})
    contact.refresh_from_db()
    assert contact.stage == "customer"
    response = sales_client.post(url, {"stage": "lead", "force": "on"})
    assert "force stage change" in response.content.decode()
    contact.refresh_from_db()
    assert contact.stage == "customer"
    sales_user.user_permissions.add(Permission.objects.get(codename="force_stage_change"))
    sales_client.post(url, {"stage": "lead", "force": "on"})
    contact.refresh_from_db()
    assert contact.stage == "lead"
    assert (
        StageChange.objects.filter(contact=contact, forced=True, changed_by=sales_user).count() == 1
    )


def test_record_purchase_page(sales_client, sales_user):
    CouponFactory(code="PIN10", campaign=CampaignFactory(channel=channel("pinterest")))
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    url = reverse("admin:leads_contact_purchase", args=[contact.pk])
    response = sales_client.post(
        url, {"amount": "30.00", "coupon": "pin10", "external_id": "shop-1"}
    )
    assert response.status_code == 302
    purchase = Purchase.objects.get(contact=contact)
    assert purchase.coupon.code == "PIN10"
    contact.refresh_from_db()
    assert contact.stage == "customer"
    response = sales_client.post(url, {"amount": "30.00", "coupon": "nope"})
    assert "Unknown coupon" in response.content.decode()


def test_record_purchase_coupon_is_an_autocomplete(sales_client):
    from django.contrib.admin.widgets import AutocompleteSelect

    pins = CouponFactory(code="PIN10", campaign=CampaignFactory(channel=channel("pinterest")))
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    url = reverse("admin:leads_contact_purchase", args=[contact.pk])
    response = sales_client.get(url)
    assert isinstance(response.context["form"].fields["coupon"].widget, AutocompleteSelect)
    page = response.content.decode()
    assert 'class="admin-autocomplete' in page and 'data-field-name="coupon"' in page
    assert '<label for="id_coupon">Coupon:</label>' in page
    assert "admin/js/autocomplete.js" in page  # the form's media
    # The box asks the admin's autocomplete, which finds the coupon by part of its code.
    found = sales_client.get(
        reverse("admin:autocomplete"),
        {"term": "pin", "app_label": "leads", "model_name": "purchase", "field_name": "coupon"},
    )
    assert [r["id"] for r in found.json()["results"]] == [str(pins.pk)]

    # A chosen coupon comes back after another field's error.
    response = sales_client.post(url, {"amount": "", "coupon": str(pins.pk)})
    assert response.status_code == 200
    assert f'<option value="{pins.pk}" selected>' in response.content.decode()

    response = sales_client.post(url, {"amount": "30.00", "coupon": str(pins.pk)})
    assert response.status_code == 302
    assert Purchase.objects.get(contact=contact).coupon == pins


@pytest.mark.parametrize("forged", ["999999", "0", "-1", "9" * 30, "\uff11\uff12", "\u00b2", "<b>"])
def test_record_purchase_unknown_coupon_id_is_a_form_error(sales_client, forged):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    url = reverse("admin:leads_contact_purchase", args=[contact.pk])
    response = sales_client.post(url, {"amount": "30.00", "coupon": forged})
    assert response.status_code == 200
    assert "Unknown coupon" in response.content.decode()
    assert not Purchase.objects.exists()


def test_merge_two_contacts_from_the_admin(sales_client, sales_user):
    keep = contact_create(email="ada@example.com", entered_at=T0, via=Via.API)
    other = contact_create(handle="@ada", entered_at=T0, via=Via.API)
    data = {"action": "merge_two", "_selected_action": [keep.pk, other.pk]}
    response = sales_client.post(CHANGELIST, data)
    assert (
        response.status_code == 200 and "Merge" in response.content.decode()
    )  # asks which survives
    response = sales_client.post(CHANGELIST, {**data, "survivor": keep.pk})
    assert response.status_code == 302
    assert list(Contact.objects.values_list("pk", flat=True)) == [keep.pk]
    assert ContactMerge.objects.get(survivor=keep).merged_by == sales_user


def test_merge_needs_exactly_two(sales_client):
    contacts = ContactFactory.create_batch(3)
    response = sales_client.post(
        CHANGELIST,
        {"action": "merge_two", "_selected_action": [c.pk for c in contacts]},
        follow=True,
    )
    assert "exactly two" in response.content.decode()
    assert Contact.objects.count() == 3


def test_erase_needs_its_permission_and_confirmation(sales_client, client, superuser):
    contact = contact_create(email="eve@example.com", first_name="Eve", entered_at=T0, via=Via.API)
    data = {"action": "erase_contacts", "_selected_action": [contact.pk]}
    # Sales does not hold leads.erase_contact: the action is not offered.
    response = sales_client.post(CHANGELIST, {**data, "confirm": "yes"}, follow=True)
    contact.refresh_from_db()
    assert contact.email == "eve@example.com"
    client.force_login(superuser)
    response = client.post(CHANGELIST, data)
    assert "cannot be undone" in response.content.decode()
    client.post(CHANGELIST, {**data, "confirm": "yes"})
    contact.refresh_from_db()
    assert (contact.email, contact.first_name) == ("", "") and contact.erased_at is not None


def test_sales_cannot_delete_contacts_or_edit_history(sales_client):
    contact = ContactFactory()
    assert (
        sales_client.get(reverse("admin:leads_contact_delete", args=[contact.pk])).status_code
        == 403
    )
    assert sales_client.get(reverse("admin:leads_stagechange_add")).status_code == 403


def test_marketing_reads_contacts_but_cannot_change_them(client, marketing_user):
    contact = ContactFactory()
    client.force_login(marketing_user)
    assert client.get(CHANGELIST).status_code == 200
    response = client.post(
        reverse("admin:leads_contact_change", args=[contact.pk]), {"first_name": "X"}
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:leads_contact_move", args=[contact.pk])).status_code == 403


def test_campaign_admin_totals_and_roles(client, sales_user, marketing_user):
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    pins.costs.create(incurred_on=T0.date(), amount=Decimal("100.00"))
    pins.costs.create(incurred_on=T0.date(), amount=Decimal("50.00"), category="staff_time")
    CouponFactory(code="PIN10", campaign=pins)
    purchase_record(
        email="a@example.com", amount="40.00", coupon="PIN10", occurred_at=T0, via=Via.API
    )
    client.force_login(marketing_user)
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    (row,) = response.context["cl"].result_list
    assert (row.total_cost_value, row.coupon_revenue_value) == (Decimal("150.00"), Decimal("40.00"))
    page = client.get(reverse("admin:campaigns_campaign_change", args=[pins.pk])).content.decode()
    assert "Ad spend: 100.00" in page and "Staff time: 50.00" in page
    client.force_login(sales_user)
    assert client.get(reverse("admin:campaigns_campaign_changelist")).status_code == 200
    assert client.get(reverse("admin:campaigns_campaign_add")).status_code == 403


def test_touchpoint_and_purchase_lists(root_client):
    make_contacts(2)
    assert (
        root_client.get(reverse("admin:leads_touchpoint_changelist") + "?kind=follow").status_code
        == 200
    )
    assert root_client.get(reverse("admin:leads_purchase_changelist")).status_code == 200


# --- issue 11: admin rough edges ------------------------------------------------------------


def test_stage_messages_read_naturally(sales_client):
    contact = contact_create(
        email="leo@example.com", first_name="Leo", last_name="Haddad", entered_at=T0, via=Via.API
    )
    url = reverse("admin:leads_contact_move", args=[contact.pk])
    page = sales_client.get(url).content.decode()
    assert "Leo Haddad is at the <strong>Follower</strong> stage." in page
    body = sales_client.post(url, {"stage": "qualified"}, follow=True).content.decode()
    assert "Leo Haddad is now Qualified." in body
    body = sales_client.post(url, {"stage": "qualified"}, follow=True).content.decode()
    assert "Leo Haddad is already at Qualified." in body
    body = sales_client.post(
        CHANGELIST, {"action": "move_to_qualified", "_selected_action": [contact.pk]}, follow=True
    ).content.decode()
    assert "The selected contacts were already at Qualified." in body
    assert " a qualified" not in body and "qualifieds" not in body


def test_lifetime_revenue_is_money_sortable_and_right_aligned(sales_client, settings):
    settings.DEFAULT_CURRENCY = "EUR"
    rich, poor = ContactFactory(), ContactFactory()
    PurchaseFactory(contact=rich, amount=Decimal("1200.00"))
    PurchaseFactory(contact=rich, amount=Decimal("47.49"))
    PurchaseFactory(contact=poor, amount=Decimal("3.00"))
    response = sales_client.get(CHANGELIST)
    body = response.content.decode()
    assert "1,247.49 EUR" in body and "3.00 EUR" in body and "0.00 EUR" not in body
    assert "247.490000" not in body
    # Sortable: the column header links to an ordering, and the ordering is by the total.
    index = response.context["cl"].list_display.index("lifetime_revenue")
    ascending = sales_client.get(CHANGELIST, {"o": str(index)}).context["cl"].result_list
    assert [c.pk for c in ascending] == [poor.pk, rich.pk]
    descending = sales_client.get(CHANGELIST, {"o": f"-{index}"}).context["cl"].result_list
    assert [c.pk for c in descending] == [rich.pk, poor.pk]
    assert "sortable column-lifetime_revenue" in body
    from django.contrib.staticfiles import finders

    css = Path(finders.find("campaigns/admin-a11y.css")).read_text()
    assert "td.field-lifetime_revenue { text-align: right; }" in css
    assert "campaigns/admin-a11y.css" in body


def test_sorting_by_lifetime_revenue_keeps_the_query_count(
    sales_client, django_assert_max_num_queries
):
    make_contacts(5)
    with django_assert_max_num_queries(20) as few:
        sales_client.get(CHANGELIST, {"o": "-8"})
    make_contacts(45)
    with django_assert_max_num_queries(len(few.captured_queries)):
        sales_client.get(CHANGELIST, {"o": "-8"})


def test_timeline_rows_name_the_channel_and_campaign(sales_client, django_assert_max_num_queries):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    url = reverse("admin:leads_contact_change", args=[contact.pk])

    def touch(n: int) -> None:
        campaign = CampaignFactory(name=f"Spring pins {n}", channel=channel("pinterest"))
        Touchpoint.objects.create(
            contact=contact,
            kind="coupon",
            channel=campaign.channel,
            campaign=campaign,
            occurred_at=T0 + dt.timedelta(hours=n),
        )

    touch(1)
    with django_assert_max_num_queries(30) as few:
        body = sales_client.get(url).content.decode()
    assert "Coupon on Pinterest, Spring pins 1 campaign" in body
    assert f"coupon on {channel('pinterest').pk} " not in body
    for n in range(2, 8):
        touch(n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = sales_client.get(url).content.decode()
    assert "Spring pins 7" in body


def test_force_box_only_for_who_may_force_and_the_server_refuses_without(sales_client, sales_user):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    contact_move_stage(contact=contact, stage="customer", at=T0, via=Via.API)
    url = reverse("admin:leads_contact_move", args=[contact.pk])
    response = sales_client.get(url)
    assert "force" not in response.context["form"].fields
    assert 'name="force"' not in response.content.decode()
    # Posted anyway (a crafted request): the service refuses it.
    response = sales_client.post(url, {"stage": "lead", "force": "on"})
    assert "force stage change" in response.content.decode()
    contact.refresh_from_db()
    assert contact.stage == "customer"
    sales_user.user_permissions.add(Permission.objects.get(codename="force_stage_change"))
    response = sales_client.get(url)
    assert 'name="force"' in response.content.decode()


def test_coupon_is_an_autocomplete_on_the_contact_forms(sales_client):
    from django.contrib.admin.widgets import AutocompleteSelect

    contact = ContactFactory()
    for url in (
        reverse("admin:leads_contact_add"),
        reverse("admin:leads_contact_change", args=[contact.pk]),
    ):
        form = sales_client.get(url).context["adminform"].form
        assert isinstance(form.fields["coupon"].widget.widget, AutocompleteSelect), url
    coupon = CouponFactory(code="PIN10", campaign=CampaignFactory(name="Spring pins"))
    response = sales_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "spring",
            "app_label": "leads",
            "model_name": "contact",
            "field_name": "coupon",
        },
    )
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(coupon.pk)]


def test_date_filters_on_entry_and_becoming_a_customer(sales_client):
    old = contact_create(
        email="old@example.com", entered_at=T0 - dt.timedelta(days=400), via=Via.API
    )
    new = contact_create(email="new@example.com", via=Via.API)
    contact_move_stage(contact=new, stage="customer", via=Via.API)
    # The filter's own "Past 7 days" links: aware bounds (local midnight with its offset), as
    # a click sends them; a bare date in the URL would be a naive datetime.
    cl = sales_client.get(CHANGELIST).context["cl"]
    past_week = {
        spec.field_path: next(
            choice["query_string"]
            for choice in spec.choices(cl)
            if choice["display"] == "Past 7 days"
        )
        for spec in cl.filter_specs
        if getattr(spec, "field_path", None) in ("entered_at", "became_customer_at")
    }
    assert "+" in past_week["entered_at"] or "%2B" in past_week["entered_at"]
    response = sales_client.get(CHANGELIST + past_week["entered_at"])
    assert [c.pk for c in response.context["cl"].result_list] == [new.pk]
    response = sales_client.get(CHANGELIST + past_week["became_customer_at"])
    assert [c.pk for c in response.context["cl"].result_list] == [new.pk]
    response = sales_client.get(CHANGELIST, {"became_customer_at__isnull": "True"})
    assert [c.pk for c in response.context["cl"].result_list] == [old.pk]
    body = sales_client.get(CHANGELIST).content.decode()
    assert "By entered at" in body and "By became customer at" in body
