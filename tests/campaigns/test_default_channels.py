"""The default channels keep their slugs and stay: integrations send them (SPEC §2)."""

from __future__ import annotations

import importlib

import pytest
from django.urls import reverse

from campaigns.errors import Conflict, InvalidInput
from campaigns.models import DEFAULT_CHANNEL_SLUGS, Channel
from campaigns.services import channel_delete, channel_save
from tests.api.conftest import token_client
from tests.factories import channel

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("campaigns.migrations.0002_default_channels")


def test_the_protected_slugs_are_the_ones_the_migration_creates():
    assert {slug for slug, *_ in MIGRATION.CHANNELS} == DEFAULT_CHANNEL_SLUGS


@pytest.mark.parametrize("slug", sorted(DEFAULT_CHANNEL_SLUGS))
def test_a_default_channel_cannot_be_renamed_or_deleted(slug):
    default = channel(slug)
    with pytest.raises(InvalidInput, match="default channel") as refused:
        channel_save(channel=default, slug=f"{slug}-old")
    assert refused.value.field == "slug"
    with pytest.raises(Conflict, match="cannot be deleted"):
        channel_delete(channel=default)
    assert Channel.objects.filter(slug=slug).exists()


def test_a_default_channels_name_and_kind_may_change():
    x = channel_save(channel=channel("x"), name="X", kind=Channel.Kind.SOCIAL, slug="x")
    assert (Channel.objects.get(slug="x").name, x.slug) == ("X", "x")


def test_other_channels_may_be_renamed_and_deleted():
    mastodon = channel_save(slug="mastodon", name="Mastodon", kind=Channel.Kind.SOCIAL)
    channel_save(channel=mastodon, slug="fediverse")
    assert Channel.objects.get(pk=mastodon.pk).slug == "fediverse"
    channel_delete(channel=mastodon)
    assert not Channel.objects.filter(pk=mastodon.pk).exists()


def test_the_api_refuses_a_new_slug_for_a_default_channel(marketing_user, superuser):
    marketing = token_client(marketing_user)
    response = marketing.patch("/api/v1/channels/facebook/", {"slug": "meta"}, format="json")
    assert response.status_code == 400
    assert "default channel" in response.json()["slug"][0]
    response = marketing.patch("/api/v1/channels/facebook/", {"name": "Meta"}, format="json")
    assert (response.status_code, response.json()["slug"]) == (200, "facebook")
    # The API offers no DELETE on channels at all.
    assert token_client(superuser).delete("/api/v1/channels/facebook/").status_code == 405


def _change_form(channel: Channel, **values) -> dict:
    body = {
        "slug": channel.slug,
        "name": channel.name,
        "kind": channel.kind,
        "aliases-TOTAL_FORMS": "0",
        "aliases-INITIAL_FORMS": "0",
        "aliases-MIN_NUM_FORMS": "0",
        "aliases-MAX_NUM_FORMS": "1000",
    }
    return {**body, **values}


def test_the_admin_shows_a_default_slug_read_only_and_offers_no_delete(admin_client):
    facebook = channel("facebook")
    url = reverse("admin:campaigns_channel_change", args=[facebook.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="slug"' not in page  # shown, not editable
    assert reverse("admin:campaigns_channel_delete", args=[facebook.pk]) not in page

    admin_client.post(url, _change_form(facebook, slug="meta", name="Meta"))
    facebook.refresh_from_db()
    assert (facebook.slug, facebook.name) == ("facebook", "Meta")  # the slug was not taken
    delete = reverse("admin:campaigns_channel_delete", args=[facebook.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Channel.objects.filter(slug="facebook").exists()


def test_the_admins_bulk_delete_refuses_default_channels(admin_client):
    mastodon = channel_save(slug="mastodon", name="Mastodon", kind=Channel.Kind.SOCIAL)
    response = admin_client.post(
        reverse("admin:campaigns_channel_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [mastodon.pk, channel("tiktok").pk],
            "post": "yes",
        },
    )
    # The admin finds an object it may not delete among the selection and refuses it all.
    assert response.status_code == 403
    assert Channel.objects.filter(slug__in=["mastodon", "tiktok"]).count() == 2


def test_the_admin_may_still_rename_other_channels(admin_client):
    mastodon = channel_save(slug="mastodon", name="Mastodon", kind=Channel.Kind.SOCIAL)
    url = reverse("admin:campaigns_channel_change", args=[mastodon.pk])
    assert 'name="slug"' in admin_client.get(url).content.decode()
    admin_client.post(url, _change_form(mastodon, slug="fediverse"))
    mastodon.refresh_from_db()
    assert mastodon.slug == "fediverse"
