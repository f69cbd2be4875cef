"""Saved views of the admin's lists: a changelist's filters, search and sort kept under a name,
picked again from "My views", shared or private, deleted by their owner only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SavedView
from accounts.services import VIEWS_PER_LIST
from leads.models import Via
from leads.services import contact_create
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

CONTACTS = reverse("admin:leads_contact_changelist")
SAVE = reverse("admin:leads_contact_save_view")


@pytest.fixture
def sally(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def other_client(db):
    other = Client()
    other.force_login(UserFactory(username="sam", groups=["Sales"]))
    return other


def save(client, name: str, query: str, **extra):
    return client.post(SAVE, {"name": name, "query": query, **extra})


def test_save_keeps_the_lists_own_parameters_without_the_page(sally, sales_user):
    response = save(sally, "Hot leads", "stage__exact=lead&q=ada&o=-8&p=3")
    view = SavedView.objects.get()
    assert (view.user, view.model_label, view.name) == (sales_user, "leads.contact", "Hot leads")
    assert view.query == "o=-8&q=ada&stage__exact=lead"
    assert not view.shared
    assert response.status_code == 302
    assert response["Location"] == f"{CONTACTS}?o=-8&q=ada&stage__exact=lead"


def test_the_changelist_offers_the_saved_view_and_its_link_reproduces_the_list(sally):
    lead = contact_create(first_name="Ada", stage="lead", via=Via.API)
    contact_create(first_name="Ada", via=Via.API)
    contact_create(first_name="Bob", stage="lead", via=Via.API)
    save(sally, "Ada the lead", "stage__exact=lead&q=ada")
    listed = sally.get(CONTACTS)
    body = listed.content.decode()
    assert "My views" in body and "Ada the lead" in body
    url = listed.context["saved_views"][0]["url"]
    assert url == f"{CONTACTS}?q=ada&stage__exact=lead"
    applied = sally.get(url)
    assert [c.pk for c in applied.context["cl"].result_list] == [lead.pk]
    assert applied.context["saved_views"][0]["current"] is True
    assert 'aria-current="page"' in applied.content.decode()


def test_saving_a_name_again_replaces_its_filters(sally):
    save(sally, "Mine", "stage__exact=lead")
    save(sally, "  Mine ", "stage__exact=customer", shared="on")
    view = SavedView.objects.get()
    assert view.query == "stage__exact=customer" and view.shared


def test_private_views_are_the_owners_shared_ones_everyones(sally, other_client):
    save(sally, "Private", "stage__exact=lead")
    save(sally, "For the team", "stage__exact=customer", shared="on")
    body = other_client.get(CONTACTS).content.decode()
    assert "For the team" in body and "(shared by sally)" in body
    assert "Private" not in body
    # A view of one list is not offered on another.
    assert sally.get(reverse("admin:leads_purchase_changelist")).context["saved_views"] == []


def test_only_the_owner_deletes(sally, other_client):
    save(sally, "For the team", "stage__exact=customer", shared="on")
    view = SavedView.objects.get()
    url = reverse("admin:leads_contact_delete_view", args=[view.pk])
    response = other_client.post(url, {"query": ""}, follow=True)
    assert response.status_code == 200
    assert "No such view of yours." in response.content.decode()
    assert SavedView.objects.filter(pk=view.pk).exists()
    # Nor is there a delete button for it.
    assert url not in other_client.get(CONTACTS).content.decode()
    response = sally.post(url, {"query": "stage__exact=customer&p=2"})
    assert response.status_code == 302
    assert response["Location"] == f"{CONTACTS}?stage__exact=customer"
    assert not SavedView.objects.exists()
    assert other_client.post(url).status_code == 302  # already gone: a message, not a 500


@pytest.mark.parametrize(
    ("name", "query", "error"),
    [
        ("", "stage__exact=lead", "This field is required."),
        ("   ", "stage__exact=lead", "This field is required."),
        ("x" * 81, "stage__exact=lead", "at most 80 characters"),
        ("Bad", "password=1", "This list has no filter"),
        ("Bad", "owner__password__startswith=pbkdf2", "This list has no filter"),
        ("Bad", "nosuchfield__exact=1", "This list has no filter"),
        ("Too long", "q=" + "a" * 1000, "at most 1000 characters"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(sally, name, query, error):
    response = save(sally, name, query)
    assert response.status_code == 400
    assert error.lower() in response.content.decode().lower()
    assert not SavedView.objects.exists()


def test_a_list_without_search_keeps_no_search(client, superuser):
    client.force_login(superuser)
    url = reverse("admin:leads_stagechange_save_view")
    assert client.post(url, {"name": "x", "query": "q=ada"}).status_code == 400
    response = client.post(url, {"name": "Forced moves", "query": "forced__exact=1&o=1"})
    assert response.status_code == 302
    assert SavedView.objects.get().model_label == "leads.stagechange"


def test_the_report_lists_have_saved_views_too(client, marketing_user):
    client.force_login(marketing_user)
    url = reverse("admin:reports_report_save_view")
    response = client.post(url, {"name": "Failed monthly", "query": "status__exact=failed"})
    assert response.status_code == 302
    assert SavedView.objects.get().model_label == "reports.report"
    listed = client.get(reverse("admin:reports_report_changelist"))
    assert [v["view"].name for v in listed.context["saved_views"]] == ["Failed monthly"]
    url = reverse("admin:reports_reportsubscription_save_view")
    response = client.post(url, {"name": "Weekly", "query": "granularity__exact=weekly"})
    assert response.status_code == 302


def test_saving_needs_post_csrf_and_the_lists_permission(sales_user, integration_user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(sales_user)
    assert strict.get(SAVE).status_code == 405
    assert strict.post(SAVE, {"name": "x", "query": ""}).status_code == 403
    assert not SavedView.objects.exists()
    # Marketing reads contacts, so may keep views of them; a list one may not read is refused.
    outsider = Client()
    outsider.force_login(UserFactory(username="nobody", is_staff=True))
    assert outsider.post(SAVE, {"name": "x", "query": ""}).status_code == 403


def test_views_per_list_are_capped(sally, sales_user):
    SavedView.objects.bulk_create(
        SavedView(user=sales_user, model_label="leads.contact", name=f"v{n}")
        for n in range(VIEWS_PER_LIST)
    )
    response = save(sally, "one more", "")
    assert response.status_code == 400
    assert "delete one first" in response.content.decode()


def test_the_menu_costs_one_query_whatever_the_number_of_views(
    sally, sales_user, django_assert_max_num_queries
):
    ContactFactory.create_batch(3)
    with django_assert_max_num_queries(30) as few:
        sally.get(CONTACTS)
    owners = [UserFactory(username=f"owner{n}", groups=["Sales"]) for n in range(5)]
    SavedView.objects.bulk_create(
        [SavedView(user=sales_user, model_label="leads.contact", name=f"v{n}") for n in range(10)]
        + [SavedView(user=u, model_label="leads.contact", name="team", shared=True) for u in owners]
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = sally.get(CONTACTS)
    assert len(response.context["saved_views"]) == 15


def test_a_view_whose_value_no_longer_reads_opens_as_the_admin_opens_a_bad_filter(sally):
    save(sally, "Odd", "entered_at__gte=not-a-date")
    view = SavedView.objects.get()
    response = sally.get(f"{CONTACTS}?{view.query}")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert sally.get(response["Location"]).status_code == 200
