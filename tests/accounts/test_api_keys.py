"""API keys: hashed at rest, revocable, expiring, per integration, acting with the user's role."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import types

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.crypto import KeyGenerator

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, api_key_update
from campaigns.errors import InvalidInput
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_only_a_hash_of_the_key_is_stored(integration_user):
    api_key, raw = api_key_create(user=integration_user, name="Shopify store")
    prefix, secret = raw.split(".")
    assert (api_key.prefix, len(secret)) == (prefix, 32)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")  # noqa: S608 - a model's table
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert secret not in stored
    assert raw not in stored
    assert api_key.hashed_key.startswith("sha512$$")
    # The plaintext token table of rest_framework.authtoken is gone.
    assert "authtoken_token" not in connection.introspection.table_names()


def test_a_key_acts_with_its_users_role(integration_user, marketing_user):
    shop = client_with(api_key_create(user=integration_user, name="shop")[1])
    marketer = client_with(api_key_create(user=marketing_user, name="sheet")[1])
    # Integration reads channels but not costs; Marketing reads costs (SPEC §8).
    assert shop.get("/api/v1/channels/").status_code == 200
    assert shop.get("/api/v1/costs/").status_code == 403
    assert marketer.get("/api/v1/costs/").status_code == 200
    assert shop.post("/api/v1/contacts/", {"email": "k@example.com"}).status_code == 201
    assert marketer.post("/api/v1/contacts/", {"email": "m@example.com"}).status_code == 403


def test_a_revoked_key_is_refused_with_a_clear_message(integration_user):
    api_key, raw = api_key_create(user=integration_user, name="old form tool")
    client = client_with(raw)
    assert client.get("/api/v1/channels/").status_code == 200
    api_key_revoke(api_key=api_key)
    response = client.get("/api/v1/channels/")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API key has been revoked."}
    with pytest.raises(InvalidInput):
        api_key_update(api_key=api_key, revoked=False)  # revoking cannot be undone


def test_an_expired_key_is_refused_with_a_clear_message(integration_user):
    expires = timezone.now() + dt.timedelta(days=30)
    _, raw = api_key_create(user=integration_user, name="trial", expires_at=expires)
    client = client_with(raw)
    assert client.get("/api/v1/channels/").status_code == 200
    with time_machine.travel(expires + dt.timedelta(seconds=1)):
        response = client.get("/api/v1/channels/")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("This API key expired at ")


def test_a_key_of_an_inactive_user_is_refused(integration_user):
    _, raw = api_key_create(user=integration_user, name="shop")
    integration_user.is_active = False
    integration_user.save()
    assert client_with(raw).get("/api/v1/channels/").status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Token nonsense",
        "Token a.b",
        "Token " + "x" * 5000,
        "Token abcdefgh.wrongsecretwrongsecretwrongsecret",
        "Token",
        "Token two words",
        "Bearer abc",
        "Basic c2FsbHk6cHctZm9yLXRlc3RzLTE=",  # sally's password: the API takes none
    ],
)
def test_a_bad_key_is_a_401_not_a_500(header, sales_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/channels/").status_code == 401


def test_the_right_prefix_with_a_wrong_secret_is_refused(integration_user):
    api_key, raw = api_key_create(user=integration_user, name="shop")
    forged = f"{api_key.prefix}.{'A' * 32}"
    response = client_with(forged).get("/api/v1/channels/")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid API key."})
    assert client_with(raw).get("/api/v1/channels/").status_code == 200


def test_a_prefix_drawn_twice_is_drawn_again(integration_user, monkeypatch):
    first, _ = api_key_create(user=integration_user, name="one")
    draws = iter([first.prefix, "Zz000001"])
    monkeypatch.setattr(KeyGenerator, "get_prefix", lambda self: next(draws))
    second, raw = api_key_create(user=integration_user, name="two")
    assert second.prefix == "Zz000001"
    assert client_with(raw).get("/api/v1/channels/").status_code == 200
    assert ApiKey.objects.get(prefix=first.prefix).name == "one"  # untouched


def test_last_use_is_written_at_most_once_a_minute(integration_user):
    api_key, raw = api_key_create(user=integration_user, name="shop")
    client = client_with(raw)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get("/api/v1/channels/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        client.get("/api/v1/channels/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start  # within the minute: no write
    later = start + dt.timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        client.get("/api/v1/channels/")
    api_key.refresh_from_db()
    assert api_key.last_used_at == later


def test_an_authenticated_request_costs_few_queries(integration_user, django_assert_num_queries):
    _, raw = api_key_create(user=integration_user, name="shop")
    client = client_with(raw)
    client.get("/api/v1/coupons/")  # the key's first use of the minute writes its last use
    # The key with its user (1), the user's permissions (2: its own and its groups'), the
    # page's count (1; no coupons, so no rows to read). A plaintext token took the same.
    with django_assert_num_queries(4):
        assert client.get("/api/v1/coupons/").status_code == 200


def test_create_api_key_prints_the_key_once(integration_user):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_key",
        "shopbot",
        "--name",
        "Shopify store",
        "--expires",
        "90",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    api_key = ApiKey.objects.get(prefix=raw.split(".")[0])
    assert (api_key.name, api_key.user) == ("Shopify store", integration_user)
    assert dt.timedelta(days=89) < api_key.expiry_date - timezone.now() <= dt.timedelta(days=90)
    assert raw not in err.getvalue()
    assert client_with(raw).get("/api/v1/channels/").status_code == 200


def test_create_api_key_refuses_an_unknown_user_and_a_blank_name(integration_user):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_key", "nobody", "--name", "x", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Name the integration"):
        call_command("create_api_key", "shopbot", "--name", "  ", stdout=io.StringIO())


def test_plaintext_tokens_become_hashed_keys_that_keep_working(integration_user):
    """The data migration, run against a table laid out as rest_framework.authtoken's."""
    legacy = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    timestamp = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, '
            f'"created" {timestamp} NOT NULL, "user_id" integer NOT NULL)'
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [legacy, dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC), integration_user.pk],
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
            ["authtoken", "0001_initial", timezone.now()],
        )
    migration = importlib.import_module("accounts.migrations.0002_hash_plaintext_tokens")
    state = MigrationLoader(connection).project_state()
    migration.hash_plaintext_tokens(state.apps, types.SimpleNamespace(connection=connection))

    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    api_key = ApiKey.objects.get(user=integration_user)
    assert (api_key.prefix, api_key.created) == (
        legacy[:8],
        dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC),
    )
    assert legacy not in api_key.hashed_key
    # The integration's string goes on working until the key is revoked.
    client = client_with(legacy)
    assert client.get("/api/v1/channels/").status_code == 200
    api_key_revoke(api_key=api_key)
    assert client.get("/api/v1/channels/").status_code == 401


def test_the_admin_lists_keys_without_their_secret_and_shows_a_new_one_once(
    admin_client, integration_user
):
    api_key, first_raw = api_key_create(user=integration_user, name="shop")
    listing = admin_client.get("/admin/accounts/apikey/").content.decode()
    assert api_key.prefix in listing and "shop" in listing
    assert first_raw.split(".")[1] not in listing

    response = admin_client.post(
        "/admin/accounts/apikey/add/",
        {
            "user": integration_user.pk,
            "name": "Form tool",
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    new = ApiKey.objects.get(name="Form tool")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for m in shown for word in m.split() if word.startswith(f"{new.prefix}."))
    assert client_with(raw).get("/api/v1/channels/").status_code == 200
    # Shown once: the next page no longer has it.
    assert raw not in admin_client.get("/admin/accounts/apikey/").content.decode()

    admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_keys", "_selected_action": [new.pk]},
    )
    new.refresh_from_db()
    assert new.revoked
    assert client_with(raw).get("/api/v1/channels/").status_code == 401


def test_keys_are_not_deleted_in_the_admin(admin_client, integration_user):
    api_key, _ = api_key_create(user=integration_user, name="shop")
    response = admin_client.post(f"/admin/accounts/apikey/{api_key.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


def test_a_key_needs_a_name_and_a_future_expiry(integration_user):
    with pytest.raises(InvalidInput, match="Name the integration"):
        api_key_create(user=integration_user, name=" ")
    with pytest.raises(InvalidInput, match="future"):
        api_key_create(
            user=integration_user, name="x", expires_at=timezone.now() - dt.timedelta(days=1)
        )
    assert not ApiKey.objects.exists()
    assert UserFactory(username="nobody-yet").api_keys.count() == 0
