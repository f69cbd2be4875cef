"""A contact's owner works contacts: an active member of Sales, or a superuser (SPEC §8)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.errors import InvalidInput
from leads.models import Contact, Via
from leads.services import contact_assign_owner, contact_create, contact_update
from tests.api.conftest import token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    return contact_create(email="ada@example.com", source="fb", via=Via.API)


def test_sales_members_and_superusers_may_own_contacts(ada, sales_user, superuser):
    contact_update(contact=ada, owner=sales_user)
    assert Contact.objects.get(pk=ada.pk).owner == sales_user
    contact_update(contact=ada, owner=superuser)
    contact_update(contact=ada, owner=None)  # nobody is fine too
    created = contact_create(email="b@example.com", owner=sales_user, via=Via.ADMIN)
    assert created.owner == sales_user


@pytest.mark.parametrize("who", ["marketing", "integration", "no role", "inactive sales"])
def test_others_are_refused_by_every_write(ada, who, marketing_user, integration_user):
    owner = {
        "marketing": marketing_user,
        "integration": integration_user,
        "no role": UserFactory(username="visitor"),
        "inactive sales": UserFactory(username="gone", groups=["Sales"], is_active=False),
    }[who]
    with pytest.raises(InvalidInput, match="cannot own contacts") as refused:
        contact_update(contact=ada, owner=owner)
    assert refused.value.field == "owner"
    with pytest.raises(InvalidInput, match="cannot own contacts"):
        contact_create(email="c@example.com", owner=owner, via=Via.API)
    with pytest.raises(InvalidInput, match="cannot own contacts"):
        contact_assign_owner(contacts=Contact.objects.all(), owner=owner)
    assert Contact.objects.get(pk=ada.pk).owner is None
    assert not Contact.objects.filter(email="c@example.com").exists()


def test_the_api_answers_400_with_a_field_message(ada, sales_user, marketing_user):
    api = token_client(sales_user)
    response = api.post(
        "/api/v1/contacts/", {"email": "d@example.com", "owner": marketing_user.pk}, format="json"
    )
    assert response.status_code == 400
    assert "cannot own contacts" in response.json()["owner"][0]
    response = api.patch(f"/api/v1/contacts/{ada.pk}/", {"owner": marketing_user.pk}, format="json")
    assert response.status_code == 400
    assert "cannot own contacts" in response.json()["owner"][0]
    response = api.patch(f"/api/v1/contacts/{ada.pk}/", {"owner": sales_user.pk}, format="json")
    assert (response.status_code, response.json()["owner"]) == (200, sales_user.pk)


def test_the_admin_offers_only_eligible_owners(ada, admin_client, sales_user, marketing_user):
    found = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "leads", "model_name": "contact", "field_name": "owner", "term": ""},
    ).json()["results"]
    # Sales' sally and the admin_client's own superuser; not Marketing's mark.
    assert {row["text"] for row in found} == {"sally", "admin"}

    url = reverse("admin:leads_contact_change", args=[ada.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    body = {name: form[name].value() or "" for name in form.fields}
    body.update(
        {
            "owner": marketing_user.pk,
            **{
                f"{prefix}-{key}": value
                for prefix in ("stage_changes", "touchpoints", "purchases", "merges")
                for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
            },
        }
    )
    response = admin_client.post(url, body)
    assert response.status_code == 200  # the form again, with its error
    assert "owner" in response.context["adminform"].form.errors
    assert Contact.objects.get(pk=ada.pk).owner is None
