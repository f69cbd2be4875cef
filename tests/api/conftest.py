"""API clients per persona, authenticated with tokens as integrations are."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(superuser):
    return token_client(superuser)


@pytest.fixture
def clients(sales_user, marketing_user, integration_user, superuser):
    return {
        "sales": token_client(sales_user),
        "marketing": token_client(marketing_user),
        "integration": token_client(integration_user),
        "superuser": token_client(superuser),
        "anonymous": token_client(None),
    }
