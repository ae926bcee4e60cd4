"""The intake's cost in queries: the token cache and the one-statement insert."""

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from predictions.authentication import token_lookup
from predictions.models import ApiClient, ApiToken, hash_token

BODY = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
}


def post(http: APIClient, body: dict) -> int:
    """POST /asset_predict; the number of queries it ran."""
    with CaptureQueriesContext(connection) as ctx:
        response = http.post(
            "/asset_predict", data=json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 202, response.content
    return len(ctx.captured_queries)


def test_a_new_request_costs_two_queries_and_a_replay_one_once_the_token_is_cached(api):
    post(api, {**BODY, "source_sys_time": "2025-01-01T00:00:00"})  # caches the token
    assert post(api, BODY) == 2  # the replay check, then job + task in one statement
    assert post(api, BODY) == 1  # the replay check only


def test_a_cached_token_is_refused_at_once_when_revoked_in_this_process(db):
    client = ApiClient.objects.create(name="plant-c")
    token, raw = ApiToken.issue(client=client)
    assert token_lookup(key_hash=hash_token(raw)) is not None
    with CaptureQueriesContext(connection) as ctx:
        assert token_lookup(key_hash=hash_token(raw)) is not None
    assert len(ctx.captured_queries) == 0
    token.revoked_at = timezone.now()
    token.save()
    assert token_lookup(key_hash=hash_token(raw)).revoked_at is not None


def test_the_token_cache_can_be_turned_off(db, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    client = ApiClient.objects.create(name="plant-d")
    _, raw = ApiToken.issue(client=client)
    token_lookup(key_hash=hash_token(raw))
    with CaptureQueriesContext(connection) as ctx:
        token_lookup(key_hash=hash_token(raw))
    assert len(ctx.captured_queries) == 1
