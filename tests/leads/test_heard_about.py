"""How did you hear about us (SPEC §10 "Self-reported source"): the person's words kept as given,
the channel they name resolved through the channel aliases by one rule
(`leads.rules.heard_channel_for`) at every door: the services, the batch door, the CSV import
(both paths), the admin, with erasure and merge keeping what they should."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse

from campaigns.changes import data_changed
from campaigns.csvimport import import_file
from campaigns.errors import InvalidInput
from campaigns.models import ChannelAlias
from leads.bulk import BatchRefs
from leads.imports import CONTACTS
from leads.models import Contact, Via
from leads.rules import REFS, heard_channel_for
from leads.services import contact_create, contact_erase, contact_merge, contact_update
from tests.factories import ContactFactory, UserFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def declared():
    """The moments every write declares changed, in order."""
    seen: list = []

    def capture(sender, moments, **kwargs):
        seen.extend(moments)

    data_changed.connect(capture, dispatch_uid="test-heard")
    yield seen
    data_changed.disconnect(dispatch_uid="test-heard")


# --- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words,slug",
    [
        # The whole answer: a channel's slug or name in any case, an alias, a host.
        ("Instagram", "instagram"),
        ("instagram", "instagram"),
        ("insta", "instagram"),
        ("IG", "instagram"),
        ("instagram.com", "instagram"),
        ("https://www.instagram.com/ourshop", "instagram"),  # a pasted address: its host
        ("  LinkedIn ", "linkedin"),
        # A word of a sentence names its channel too.
        ("saw you on Insta!", "instagram"),
        ("A post on Pinterest, I think", "pinterest"),
        ("my partner told me", "referral"),  # "partner" is an alias of referral
        ("Saw it on instagram (instagram.com)", "instagram"),  # one channel, named twice
        # Words that name no channel: none, never referral or direct by default.
        ("a friend", None),
        ("word of mouth", None),
        ("walked past the shop", None),
        ("big sign outside", None),  # "ig" inside a word is not the word "ig"
        ("", None),
        # Two channels named: no guess.
        ("Facebook, then Instagram", None),
        # `direct` is the absence of a referrer: "none" answers nothing.
        ("none", None),
        ("typein", None),
    ],
)
def test_words_name_their_channel_through_the_aliases(words, slug):
    found = heard_channel_for(words, REFS)
    assert (found.slug if found else None) == slug
    # The batch door's preloaded look-ups answer alike.
    batch = heard_channel_for(words, BatchRefs([]))
    assert (batch.slug if batch else None) == slug


def test_an_alias_added_by_the_marketer_is_read_at_once():
    assert heard_channel_for("word of mouth from a friend", REFS) is None
    ChannelAlias.objects.create(alias="word of mouth", channel=channel("referral"))
    # A run of three words matches a three-word alias.
    assert heard_channel_for("word of mouth from a friend", REFS) == channel("referral")


def test_the_rule_costs_two_queries_whatever_the_answer(django_assert_num_queries):
    with django_assert_num_queries(2):
        heard_channel_for("I think I saw a video of yours on TikTok last week at home", REFS)


# --- the services --------------------------------------------------------------------------------


def test_create_keeps_the_words_and_resolves_their_channel():
    contact = contact_create(
        email="a@example.com", heard_about="  saw you on Insta ", entered_at=T0, via=Via.API
    )
    contact.refresh_from_db()
    # Trimmed, otherwise as given; the channel is beside the tracked source (none here).
    assert (contact.heard_about, contact.heard_channel, contact.source_channel) == (
        "saw you on Insta",
        channel("instagram"),
        None,
    )


def test_unknown_words_are_kept_without_a_channel():
    contact = contact_create(email="a@example.com", heard_about="a friend", via=Via.API)
    contact.refresh_from_db()
    assert (contact.heard_about, contact.heard_channel) == ("a friend", None)


def test_a_channel_given_wins_over_the_words():
    contact = contact_create(
        email="a@example.com",
        heard_about="saw you on Insta",
        heard_channel=channel("tiktok"),
        via=Via.API,
    )
    assert contact.heard_channel == channel("tiktok")
    picked = contact_create(email="b@example.com", heard_channel=channel("youtube"), via=Via.API)
    assert (picked.heard_about, picked.heard_channel) == ("", channel("youtube"))


@pytest.mark.parametrize(
    "words,message",
    [
        ("nul\x00", "Must not contain NUL characters."),
        ("x" * 201, "Ensure this field has no more than 200 characters."),
    ],
)
def test_unstorable_words_are_refused_and_nothing_is_written(words, message):
    with pytest.raises(InvalidInput) as refused:
        contact_create(email="a@example.com", heard_about=words, via=Via.API)
    assert (refused.value.field, refused.value.message) == ("heard_about", message)
    assert not Contact.objects.exists()
    contact = contact_create(email="a@example.com", via=Via.API)
    with pytest.raises(InvalidInput):
        contact_update(contact=contact, heard_about=words)
    assert Contact.objects.get().heard_about == ""


def test_update_changes_and_clears_the_channel_and_declares_the_entry_day(declared):
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    declared.clear()
    # New words name their channel; the entry day's self-reported count changes.
    contact_update(contact=contact, heard_about="IG")
    assert Contact.objects.get().heard_channel == channel("instagram")
    assert declared == [T0]
    declared.clear()
    # Other words name another one.
    contact_update(contact=contact, heard_about="on YouTube")
    assert Contact.objects.get().heard_channel == channel("youtube")
    assert declared == [T0]
    declared.clear()
    # The same words again: the channel stays as it was set (here, by hand).
    contact_update(contact=contact, heard_channel=channel("tiktok"))
    declared.clear()
    contact_update(contact=contact, heard_about="on YouTube", first_name="Ada")
    assert Contact.objects.get().heard_channel == channel("tiktok")
    assert declared == []  # nothing a report shows changed
    # Words that name nothing: no channel, the words kept.
    contact_update(contact=contact, heard_about="a friend")
    assert (Contact.objects.get().heard_about, Contact.objects.get().heard_channel) == (
        "a friend",
        None,
    )
    # Blank words clear both.
    contact_update(contact=contact, heard_about="IG")
    contact_update(contact=contact, heard_about="")
    stored = Contact.objects.get()
    assert (stored.heard_about, stored.heard_channel) == ("", None)


def test_erasure_blanks_the_words_and_keeps_the_channel():
    contact = contact_create(
        email="a@example.com", heard_about="my friend Jo Bloggs on Instagram", via=Via.API
    )
    contact_erase(contact=contact, by=None, via=Via.ADMIN)
    stored = Contact.objects.get()
    # The words may name people; the channel is a figure, kept like the touches.
    assert (stored.heard_about, stored.heard_channel) == ("", channel("instagram"))


def test_a_merge_fills_a_blank_answer_from_the_other():
    keep = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    gone = contact_create(
        email="b@example.com",
        heard_about="insta",
        entered_at=T0 + dt.timedelta(days=1),
        via=Via.API,
    )
    contact_merge(survivor=keep, other=gone, by=None, via=Via.ADMIN)
    stored = Contact.objects.get()
    assert (stored.heard_about, stored.heard_channel) == ("insta", channel("instagram"))


def test_a_merge_keeps_the_survivors_answer():
    keep = contact_create(email="a@example.com", heard_about="a friend", via=Via.API)
    gone = contact_create(email="b@example.com", heard_about="insta", via=Via.API)
    contact_merge(survivor=keep, other=gone, by=None, via=Via.ADMIN)
    stored = Contact.objects.get()
    assert (stored.heard_about, stored.heard_channel) == ("a friend", None)


# --- the CSV import (the chunked path here; the bulk path below, on PostgreSQL) -----------------


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "email,first_name,source_channel,heard_about,heard_channel\n"
        "a@example.com,Ada,facebook,saw you on Insta,\n"  # line 2: words name instagram
        "b@example.com,Bo,,a friend,\n"  # line 3: words kept, no channel
        "c@example.com,Cy,,,youtube\n"  # line 4: a channel given
        "d@example.com,Di,,IG,tiktok\n"  # line 5: the channel given wins
        f"e@example.com,Ed,,{'x' * 201},\n"  # line 6: too long
        "f@example.com,Fi,,,myspace\n",  # line 7: unknown channel
        encoding="utf-8",
    )
    return path


def _imported(tmp_path: Path, *, bulk: bool):
    user = UserFactory(username="importer", is_superuser=True)
    outcome = import_file(_file(tmp_path), CONTACTS, user=user, bulk=bulk)
    rows = {
        c.email: (c.heard_about, c.heard_channel.slug if c.heard_channel else None)
        for c in Contact.objects.select_related("heard_channel")
    }
    return outcome, rows


EXPECTED_ROWS = {
    "a@example.com": ("saw you on Insta", "instagram"),
    "b@example.com": ("a friend", None),
    "c@example.com": ("", "youtube"),
    "d@example.com": ("IG", "tiktok"),
}
EXPECTED_REJECTED = [
    (6, "heard_about", "Ensure this field has no more than 200 characters."),
    (7, "heard_channel", "Unknown channel 'myspace'."),
]


def test_the_import_reads_the_words_and_the_channel(tmp_path, reference_data):
    outcome, rows = _imported(tmp_path, bulk=False)
    assert rows == EXPECTED_ROWS
    assert sorted((r.line, r.column, r.reason) for r in outcome.rejected) == EXPECTED_REJECTED


@pytest.mark.postgres
def test_the_bulk_import_reads_them_alike(tmp_path, reference_data):
    outcome, rows = _imported(tmp_path, bulk=True)
    assert rows == EXPECTED_ROWS
    assert sorted((r.line, r.column, r.reason) for r in outcome.rejected) == EXPECTED_REJECTED


# --- the admin -----------------------------------------------------------------------------------


def test_the_admin_adds_and_changes_the_answer_through_the_service(client, superuser, declared):
    client.force_login(superuser)
    added = client.post(
        reverse("admin:leads_contact_add"),
        {
            "email": "a@example.com",
            "stage": "follower",
            "entered_at_0": "2026-03-01",
            "entered_at_1": "09:00:00",
            "touch_kind": "follow",
            "heard_about": "saw you on insta",
            "heard_channel": "",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    contact = Contact.objects.get()
    assert (contact.heard_about, contact.heard_channel) == (
        "saw you on insta",
        channel("instagram"),
    )
    declared.clear()
    change = reverse("admin:leads_contact_change", args=[contact.pk])
    page = client.get(change)
    assert "How they heard about us" in page.content.decode()
    form = {
        "first_name": "",
        "last_name": "",
        "email": "a@example.com",
        "phone": "",
        "handle": "",
        "company": "",
        "source_channel": "",
        "source_campaign": "",
        "coupon": "",
        "referred_by": "",
        "owner": "",
        "notes": "",
        "external_id": "",
        "heard_about": "a pin on Pinterest",
        "heard_channel": str(channel("instagram").pk),  # as the form showed it: unchanged
    }
    changed = client.post(change, form)
    assert changed.status_code == 302, changed.content.decode()[:2000]
    contact.refresh_from_db()
    # New words name their channel again; the entry day is declared changed.
    assert contact.heard_channel == channel("pinterest")
    assert declared == [contact.entered_at]
    # The channel chosen by hand wins over the words.
    form.update(heard_channel=str(channel("tiktok").pk))
    client.post(change, form)
    contact.refresh_from_db()
    assert (contact.heard_about, contact.heard_channel) == ("a pin on Pinterest", channel("tiktok"))


def test_the_admin_list_filters_and_exports_the_answer(client, superuser, reference_data):
    ContactFactory(first_name="Ig", heard_about="insta", heard_channel=channel("instagram"))
    ContactFactory(first_name="Friend", heard_about="a friend")
    ContactFactory(first_name="Quiet")
    client.force_login(superuser)
    url = reverse("admin:leads_contact_changelist")

    def names(**params) -> list[str]:
        response = client.get(url, params)
        assert response.status_code == 200
        return [c.first_name for c in response.context["cl"].result_list]

    assert names(heard="instagram") == ["Ig"]
    assert names(heard="unnamed") == ["Friend"]  # words to map to a channel (a new alias)
    assert names(heard="unsaid") == ["Quiet"]
    exported = client.get(reverse("admin:leads_contact_export_csv"), {"heard": "instagram"})
    body = b"".join(exported.streaming_content).decode("utf-8").lstrip("\ufeff").splitlines()
    assert "Heard via" in body[0] and "Heard about us" in body[0]
    assert "Instagram,insta" in body[1]
