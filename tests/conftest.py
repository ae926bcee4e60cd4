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


CMMS_TEST_TOKEN = "test-cmms-token"


@pytest.fixture
def cmms_sim():
    """The CMMS simulator with the demo data, over real HTTP on a free port (page size 2)."""
    from cmms.simulator.server import CmmsSimulator, load_data

    sim = CmmsSimulator(data=load_data(), token=CMMS_TEST_TOKEN, page_size=2).start()
    yield sim
    sim.stop()


@pytest.fixture
def cmms_client(cmms_sim, settings):
    """A CMMS client for the simulator, with fast retries; also what get_client() returns."""
    from cmms.client import CmmsClient

    settings.CMMS_BASE_URL = cmms_sim.base_url
    settings.CMMS_TOKEN = CMMS_TEST_TOKEN
    client = CmmsClient(
        base_url=cmms_sim.base_url,
        token=CMMS_TEST_TOKEN,
        connect_timeout=1,
        read_timeout=2,
        total_timeout=5,
        max_retries=2,
        backoff_factor=0,
    )
    yield client
    client.close()


@pytest.fixture
def data_dir(tmp_path, settings):
    """DATA_DIR pointed at a fresh temporary folder."""
    settings.DATA_DIR = tmp_path / "predictions"
    return settings.DATA_DIR
