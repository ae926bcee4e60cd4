"""Per-client rate limits (429 + Retry-After) and the body limit (413), also over real HTTP."""

import http.client
import json
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from predictions.models import ApiClient, ApiToken, PredictionJob
from tests.e2e.conftest import database_url
from tests.security.servers import Gunicorn

JOB = f"/jobs/{uuid.uuid4()}"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Rate counters live in the cache: start and end every test with none."""
    cache.clear()
    yield
    cache.clear()


def test_a_client_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    api, other_api, settings
):
    settings.API_RATE_LIMIT = "3/min"
    assert [api.get(JOB).status_code for _ in range(3)] == [404, 404, 404]
    refused = api.get(JOB)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json() == {"detail": refused.json()["detail"]}
    assert "throttled" in refused.json()["detail"].lower()
    assert other_api.get(JOB).status_code == 404


def test_the_rate_limit_can_be_turned_off(api, settings):
    settings.API_RATE_LIMIT = ""
    assert {api.get(JOB).status_code for _ in range(20)} == {404}


def test_the_throttle_adds_no_database_query(api, settings):
    settings.API_RATE_LIMIT = ""
    api.get(JOB)  # warm whatever the authentication caches
    with CaptureQueriesContext(connection) as without:
        api.get(JOB)
    settings.API_RATE_LIMIT = "100/min"
    with CaptureQueriesContext(connection) as with_throttle:
        api.get(JOB)
    assert len(with_throttle) == len(without)


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn against the test database; yields (server, raw token)."""
    client = ApiClient.objects.create(name="plant-http")
    _, raw = ApiToken.issue(client=client)
    server = Gunicorn(
        {"DATABASE_URL": database_url(), "API_MAX_BODY_BYTES": "4096"},
        tmp_path / "gunicorn.log",
        workers=1,
    ).start()
    yield server, raw
    server.stop()


def _post(server: Gunicorn, token: str, chunks: list[bytes], *, chunked: bool) -> tuple[int, dict]:
    """POST /asset_predict over a raw connection, chunked or with a Content-Length."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = iter(chunks) if chunked else b"".join(chunks)
    conn.request("POST", "/asset_predict", body=body, headers=headers, encode_chunked=chunked)
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


SEED = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
}


def test_over_real_http_big_bodies_get_413_declared_or_chunked(gunicorn):
    server, token = gunicorn
    big = [b'{"pad": "' + b"x" * 1000 for _ in range(8)] + [b'"}']
    assert _post(server, token, big, chunked=False)[0] == 413
    status, data = _post(server, token, big, chunked=True)
    assert status == 413
    assert "too large" in data["detail"]
    assert PredictionJob.objects.count() == 0


def test_over_real_http_a_small_chunked_body_is_read_like_a_declared_one(gunicorn):
    server, token = gunicorn
    raw = json.dumps(SEED).encode()
    status, data = _post(server, token, [raw[:50], raw[50:]], chunked=True)
    assert status == 202, data
    assert PredictionJob.objects.filter(pk=data["prediction_id"]).exists()


def test_errors_inside_a_list_are_flattened_to_per_field_messages(api):
    body = {**SEED, "operation_id": ["not-a-uuid", SEED["operation_id"][0]]}
    response = api.post("/asset_predict", data=body, format="json")
    assert response.status_code == 400
    (message,) = response.json()["errors"]["operation_id"]
    assert message.startswith("item 0: Must be a UUID")
