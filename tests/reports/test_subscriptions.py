"""Email delivery to any address list (issue 11): the page, the service, delivery, migration."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from campaigns.errors import InvalidInput
from reports import services
from reports.models import ReportSubscription


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


def subscriptions() -> set[tuple[str, str]]:
    return set(ReportSubscription.objects.values_list("email", "granularity"))


def test_a_marketer_adds_any_address_with_its_kinds(marketer_client, marketing_user):
    response = marketer_client.post(
        reverse("reports:subscriptions"),
        {"email": "  Boss@Example.COM ", "kinds": ["daily", "monthly"]},
    )
    assert response.status_code == 302
    marketer_client.post(
        reverse("reports:subscriptions"), {"email": "team@example.com", "kinds": ["weekly"]}
    )
    # Stored in lower case, trimmed: one inbox, one row per kind.
    assert subscriptions() == {
        ("boss@example.com", "daily"),
        ("boss@example.com", "monthly"),
        ("team@example.com", "weekly"),
    }
    assert ReportSubscription.objects.get(email="team@example.com").added_by == marketing_user
    page = marketer_client.get(reverse("reports:subscriptions")).content.decode()
    assert "boss@example.com" in page and "team@example.com" in page
    # Typed again in another case with other kinds: the address's kinds are replaced.
    marketer_client.post(
        reverse("reports:subscriptions"), {"email": "BOSS@example.com", "kinds": ["weekly"]}
    )
    assert ("boss@example.com", "weekly") in subscriptions()
    assert ("boss@example.com", "daily") not in subscriptions()
    # Remove.
    marketer_client.post(
        reverse("reports:subscriptions"), {"email": "boss@example.com", "remove": "1"}
    )
    assert subscriptions() == {("team@example.com", "weekly")}


@pytest.mark.parametrize(
    "email", ["", "not-an-address", "a@b", "jörg@example.com", "two@@example.com"]
)
def test_bad_addresses_are_refused_with_a_message(marketer_client, email):
    response = marketer_client.post(
        reverse("reports:subscriptions"), {"email": email, "kinds": ["weekly"]}
    )
    assert response.status_code == 400
    assert "valid email" in response.content.decode() or "ASCII" in response.content.decode()
    assert subscriptions() == set()


def test_an_international_domain_is_stored_in_its_ascii_form(marketing_user):
    address = services.subscription_set(
        email="anna@bücher.example", granularities=["weekly"], by=marketing_user
    )
    assert address == "anna@xn--bcher-kva.example"


def test_unknown_kinds_are_refused(marketing_user):
    with pytest.raises(InvalidInput):
        services.subscription_set(
            email="a@example.com", granularities=["custom"], by=marketing_user
        )


def test_only_users_with_the_report_permission_manage_deliveries(client, sales_user):
    client.force_login(sales_user)
    response = client.post(
        reverse("reports:subscriptions"), {"email": "x@example.com", "kinds": ["weekly"]}
    )
    assert response.status_code == 403
    assert subscriptions() == set()


def test_the_database_refuses_a_duplicate_address_and_kind(db):
    ReportSubscription.objects.create(email="a@example.com", granularity="weekly")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportSubscription.objects.create(email="a@example.com", granularity="weekly")


def test_delivery_goes_to_every_address_of_the_kind_once(scenario, mailoutbox, marketing_user):
    for email, kinds in {
        "boss@example.com": ["monthly"],
        "team@example.com": ["monthly", "weekly"],
        "daily@example.com": ["daily"],
    }.items():
        services.subscription_set(email=email, granularities=kinds, by=marketing_user)
    reports = services.periodic_reports(granularity="monthly", today=dt.date(2026, 4, 2))
    assert len(mailoutbox) == 2  # by channel and by campaign
    assert sorted(mailoutbox[0].bcc) == ["boss@example.com", "team@example.com"]
    # The emailed_at claim: the same generation is never mailed twice.
    assert services.report_deliver(report=reports[0]) == 0
    assert len(mailoutbox) == 2


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_each_users_subscriptions_under_their_address():
    """Before: (user, granularity). After: the user's address, lower case; a user with no
    address or an inactive one received nothing and loses the row; two accounts sharing an
    address keep one row per kind."""
    executor = MigrationExecutor(connection)
    before = [("reports", "0012_marketing_may_delete_reports")]
    after = [("reports", "0015_subscription_address_constraints")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        User = old.get_model("auth", "User")
        Sub = old.get_model("reports", "ReportSubscription")
        ada = User.objects.create(username="ada", email="Ada@Example.com")
        twin = User.objects.create(username="ada2", email="ada@example.com")
        nomail = User.objects.create(username="nomail", email="")
        gone = User.objects.create(username="gone", email="gone@example.com", is_active=False)
        for user, kind in [
            (ada, "monthly"),
            (ada, "weekly"),
            (twin, "monthly"),
            (nomail, "daily"),
            (gone, "daily"),
        ]:
            Sub.objects.create(user=user, granularity=kind)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        rows = set(
            new.get_model("reports", "ReportSubscription").objects.values_list(
                "email", "granularity", "added_by__username"
            )
        )
        assert rows == {
            ("ada@example.com", "monthly", "ada"),
            ("ada@example.com", "weekly", "ada"),
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
