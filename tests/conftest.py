"""Shared fixtures: API clients with tokens, and an authenticated DRF test client."""

import pytest
from rest_framework.test import APIClient

from predictions.models import ApiClient, ApiToken


@pytest.fixture
def api_client_with_token(db) -> tuple[ApiClient, str]:
    """A fresh API client and its raw token."""
    client = ApiClient.objects.create(name="plant-a")
    _, raw = ApiToken.issue(client=client)
    return client, raw


@pytest.fixture
def api(api_client_with_token) -> APIClient:
    """A DRF test client authenticated as `plant-a`."""
    _, raw = api_client_with_token
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return http


@pytest.fixture
def other_api(db) -> APIClient:
    """A DRF test client authenticated as a second client, `plant-b`."""
    client = ApiClient.objects.create(name="plant-b")
    _, raw = ApiToken.issue(client=client)
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return http
