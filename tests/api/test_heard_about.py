"""How did you hear about us over the API: `heard_about` written on create and update (the
channel it names read back as `heard_channel`, or given as a slug), refused with field messages,
filtered by channel, and taken by the batch events endpoint alike."""

from __future__ import annotations

import pytest

from leads.models import Contact, Via
from leads.services import contact_create
from tests.factories import channel

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def test_create_reads_the_channel_from_the_words(api):
    response = api.post(URL, {"email": "a@example.com", "heard_about": "saw you on Insta"})
    assert response.status_code == 201, response.json()
    data = response.json()
    # Beside the tracked source (none given: unattributed), never instead of it.
    assert (data["heard_about"], data["heard_channel"], data["source_channel"]) == (
        "saw you on Insta",
        "instagram",
        None,
    )


def test_create_keeps_unknown_words_and_takes_a_channel_slug(api):
    unknown = api.post(URL, {"email": "a@example.com", "heard_about": "a friend"}).json()
    assert (unknown["heard_about"], unknown["heard_channel"]) == ("a friend", None)
    chosen = api.post(
        URL, {"email": "b@example.com", "heard_about": "IG", "heard_channel": "TikTok"}
    ).json()
    # A slug in any case; the channel given wins over the words.
    assert (chosen["heard_about"], chosen["heard_channel"]) == ("IG", "tiktok")


@pytest.mark.parametrize(
    "body,field,message",
    [
        ({"heard_about": "nul\x00"}, "heard_about", "Must not contain NUL characters."),
        (
            {"heard_about": "x" * 201},
            "heard_about",
            "Ensure this field has no more than 200 characters.",
        ),
        ({"heard_channel": "myspace"}, "heard_channel", "Unknown channel 'myspace'."),
        ({"heard_channel": 7}, "heard_channel", "Invalid value."),
        ({"heard_about": ["IG"]}, "heard_about", "Not a valid string."),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, body, field, message):
    response = api.post(URL, {"email": "a@example.com", **body}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()[field] == [message]
    assert not Contact.objects.exists()


def test_update_names_the_channel_again_or_clears_it(api):
    contact = contact_create(email="a@example.com", heard_about="IG", via=Via.API)
    item = f"{URL}{contact.pk}/"
    changed = api.patch(item, {"heard_about": "a pin on Pinterest"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["heard_channel"] == "pinterest"
    cleared = api.patch(item, {"heard_channel": None}, format="json").json()
    assert (cleared["heard_about"], cleared["heard_channel"]) == ("a pin on Pinterest", None)
    set_by_hand = api.patch(item, {"heard_channel": "youtube"}, format="json").json()
    assert set_by_hand["heard_channel"] == "youtube"
    refused = api.patch(item, {"heard_about": "x" * 201}, format="json")
    assert refused.status_code == 400 and "heard_about" in refused.json()
    assert Contact.objects.get().heard_channel == channel("youtube")


def test_filter_by_the_channel_heard(api, django_assert_max_num_queries):
    contact_create(email="a@example.com", heard_about="insta", via=Via.API)
    contact_create(email="b@example.com", heard_about="on YouTube", via=Via.API)
    contact_create(email="c@example.com", heard_about="Instagram", source="fb", via=Via.API)
    contact_create(email="d@example.com", via=Via.API)

    def emails(query: str) -> list[str]:
        response = api.get(URL + query)
        assert response.status_code == 200, response.json()
        return [c["email"] for c in response.json()["results"]]

    assert emails("?heard_channel=instagram") == ["c@example.com", "a@example.com"]
    assert emails("?heard_channel=YouTube") == ["b@example.com"]
    assert emails("?heard_channel=myspace") == []
    # The heard channel is joined with the page: no query per contact.
    with django_assert_max_num_queries(8):
        assert len(emails("")) == 4


def test_the_batch_endpoint_takes_the_words_alike(api):
    response = api.post(
        "/api/v1/events/",
        {
            "events": [
                {
                    "type": "contact",
                    "external_id": "c1",
                    "email": "a@example.com",
                    "heard_about": "saw you on Insta",
                },
                {
                    "type": "contact",
                    "external_id": "c2",
                    "email": "b@example.com",
                    "heard_about": "a friend",
                },
                {
                    "type": "contact",
                    "external_id": "c3",
                    "email": "c@example.com",
                    "heard_channel": "linkedin",
                },
                {
                    "type": "contact",
                    "external_id": "c4",
                    "email": "d@example.com",
                    "heard_about": "nul\x00",
                },
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "created", "created", "error"]
    assert results[3]["errors"] == {"heard_about": ["Must not contain NUL characters."]}
    stored = {
        c.email: (c.heard_about, c.heard_channel.slug if c.heard_channel else None)
        for c in Contact.objects.select_related("heard_channel")
    }
    assert stored == {
        "a@example.com": ("saw you on Insta", "instagram"),
        "b@example.com": ("a friend", None),
        "c@example.com": ("", "linkedin"),
    }
