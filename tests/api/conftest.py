"""API clients per persona, authenticated with API keys as integrations are."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create


def token_client(user) -> APIClient:
    """A client sending `Authorization: Token <key>` with a new API key of `user`."""
    client = APIClient()
    if user is not None:
        _, raw_key = api_key_create(user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
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
