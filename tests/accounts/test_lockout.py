"""Login lockout (django-axes): per (username, address), in the database, before any hashing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.lockout import client_ip
from tests.reports.test_csp import forbidden_markup

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
RIGHT = "pw-for-tests-1"  # the factories' password
FORMS = ["/login/", "/admin/login/"]


def attempt(client: Client, path: str, username: str, password: str, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock(client: Client, path: str, username: str = "sally", **extra) -> None:
    for n in range(LIMIT - 1):
        response = attempt(client, path, username, f"wrong-{n}", **extra)
        assert response.status_code == 200  # the form again, with its error
    assert attempt(client, path, username, "wrong-last", **extra).status_code == 429


@pytest.mark.parametrize("path", FORMS)
def test_the_right_password_is_refused_once_locked(client, sales_user, path):
    lock(client, path)
    response = attempt(client, path, "sally", RIGHT)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert "Login locked" in page
    assert f"Try again in {minutes} minutes" in page
    assert response["Retry-After"] == str(minutes * 60)
    # Under the same Content-Security-Policy as every page, with nothing it forbids.
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert forbidden_markup(page) == []


@pytest.mark.parametrize("path", FORMS)
def test_after_the_cool_off_the_right_password_works(client, sales_user, path):
    lock(client, path)
    later = timezone.now() + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1)
    with time_machine.travel(later):
        response = attempt(client, path, "sally", RIGHT)
        assert response.status_code == 302
        assert logged_in(client)


@pytest.mark.parametrize("path", FORMS)
def test_other_users_and_other_addresses_are_not_locked(sales_user, marketing_user, path):
    lock(Client(), path)
    # Another user from the same address.
    same_address = Client()
    assert attempt(same_address, path, "mark", RIGHT).status_code == 302
    # The same user from elsewhere: an attacker cannot lock the real user out.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert attempt(elsewhere, path, "sally", RIGHT).status_code == 302


def test_both_forms_share_one_count(client, sales_user):
    for n in range(LIMIT - 1):
        attempt(client, FORMS[n % 2], "sally", f"wrong-{n}")
    assert attempt(client, "/login/", "sally", "wrong-last").status_code == 429
    assert attempt(client, "/admin/login/", "sally", RIGHT).status_code == 429


def test_a_locked_pair_is_refused_before_any_password_is_hashed(client, sales_user, monkeypatch):
    lock(client, "/login/")
    checked = []
    original = ModelBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    for _ in range(20):
        assert attempt(client, "/login/", "sally", "flood").status_code == 429
    assert checked == []
    # The count is one row per (username, address, browser) in the database, not one per try.
    assert AccessAttempt.objects.count() == 1


def test_an_admin_lifts_a_lock(client, sales_user, admin_client):
    lock(client, "/login/")
    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "sally" in listing.content.decode()
    call_command("axes_reset_username", "sally")
    assert attempt(client, "/login/", "sally", RIGHT).status_code == 302


def test_a_success_clears_the_failures(client, sales_user):
    for n in range(LIMIT - 1):
        attempt(client, "/login/", "sally", f"wrong-{n}")
    assert attempt(client, "/login/", "sally", RIGHT).status_code == 302
    client.logout()
    # A fresh count: LIMIT - 1 more failures do not lock.
    for n in range(LIMIT - 1):
        assert attempt(client, "/login/", "sally", f"again-{n}").status_code == 200


def test_no_password_is_kept_in_the_attempt_records(client, sales_user):
    attempt(client, "/login/", "sally", "My-Secret-Guess-42")
    stored = AccessAttempt.objects.get()
    assert "My-Secret-Guess-42" not in f"{stored.post_data} {stored.get_data}"


def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(rf, settings):
    request = rf.post("/login/", REMOTE_ADDR="10.0.0.1")
    request.META["HTTP_X_FORWARDED_FOR"] = "198.51.100.7, 192.0.2.44"
    settings.BEHIND_PROXY = False
    assert client_ip(request) == "10.0.0.1"  # the header is not trusted without a proxy
    settings.BEHIND_PROXY = True
    # The right-most entry is what the proxy appended; the ones before it the client sent.
    assert client_ip(request) == "192.0.2.44"
    request.META["HTTP_X_FORWARDED_FOR"] = "not-an-address"
    assert client_ip(request) == "10.0.0.1"


def test_behind_the_proxy_clients_are_locked_apart(sales_user, settings):
    settings.BEHIND_PROXY = True
    attacker = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    lock(attacker, "/login/")
    user = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.44")
    assert attempt(user, "/login/", "sally", RIGHT).status_code == 302
