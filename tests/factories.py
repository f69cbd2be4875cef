"""Typed factories for the test suite. They write rows directly (fast, no history); tests of the
rules themselves go through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import Campaign, Channel, Cost, Coupon, EngagementStat
from leads.models import Contact, Purchase, Stage, Touchpoint


def channel(slug: str) -> Channel:
    """One of the channels the data migration created."""
    return Channel.objects.get(slug=slug)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("pw-for-tests-1")  # tests.reports.browser.PASSWORD

    @factory.post_generation
    def groups(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
            self.save()


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = factory.LazyFunction(lambda: channel("facebook"))
    objective = Campaign.Objective.SALES
    starts_on = dt.date(2026, 1, 1)
    budget = Decimal("1000.00")


class CostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cost

    campaign = factory.SubFactory(CampaignFactory)
    incurred_on = dt.date(2026, 3, 1)
    amount = Decimal("100.00")
    category = Cost.Category.AD_SPEND


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"CODE{n}")
    campaign = factory.SubFactory(CampaignFactory)


class EngagementStatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementStat

    campaign = factory.SubFactory(CampaignFactory)
    date = dt.date(2026, 3, 1)
    impressions = 1000
    reactions = 30
    comments = 5
    shares = 5
    clicks = 10


class ContactFactory(factory.django.DjangoModelFactory):
    """A follower by default; pass stage= and the matching stamps for a later stage."""

    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    source_channel = factory.LazyFunction(lambda: channel("facebook"))
    stage = Stage.FOLLOWER
    entered_at = factory.LazyFunction(timezone.now)


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    contact = factory.SubFactory(ContactFactory)
    channel = factory.LazyFunction(lambda: channel("facebook"))
    kind = Touchpoint.Kind.VISIT
    occurred_at = factory.LazyFunction(timezone.now)


class PurchaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purchase

    contact = factory.SubFactory(ContactFactory)
    amount = Decimal("50.00")
    occurred_at = factory.LazyFunction(timezone.now)
