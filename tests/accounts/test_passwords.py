"""Password rules: long enough, not common, and none of the patterns guessed first."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from leads.management.commands.demo_setup import new_password
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSED = [
    "Summer2026",  # the audit's example: short, and a season with a year
    "Summer2026!!",  # long enough, still a word with a number
    "SummerTime2026",
    "January2026!",
    "2026Autumn#",
    "Jennifer1987!",
    "Sally-1234567",
    "my-winter-2025-pw",  # a season with a year, whatever is around it
    "may-2026-welcome",
    "password1234",
    "123456789012",
    "qwertyuiop",
]
ACCEPTED = [
    "correct horse battery staple",
    "kX9_f2Lq-Tz8wP",
    "Marketing-Team-2026",  # "mar" inside a word is not March
    "tidy-lamp-orbit-42",
]


@pytest.mark.parametrize("password", REFUSED)
def test_predictable_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


@pytest.mark.parametrize("password", ACCEPTED)
def test_strong_passwords_pass(password):
    validate_password(password)


def test_a_password_like_the_username_is_refused():
    user = UserFactory(username="jennifer.walsh")
    with pytest.raises(ValidationError):
        validate_password("jennifer.walsh!", user=user)


def test_the_demo_password_passes_the_rules():
    for _ in range(50):
        password = new_password()
        assert len(password) >= 12
        validate_password(password)
