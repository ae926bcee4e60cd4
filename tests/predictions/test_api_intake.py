"""POST /asset_predict and /asset_failure_type_predict: validation, idempotency, storage."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from predictions.models import ApiClient, ApiToken, PredictionJob
from tests.factories import request_body

FT_ID = "702ab05a-7427-4a36-a298-0331bd56510a"
AFT_URL = "/asset_failure_type_predict"
ASSET_URL = "/asset_predict"

pytestmark = pytest.mark.django_db


def post(api, url: str, body: object):
    """POST a JSON body."""
    return api.post(url, data=json.dumps(body), content_type="application/json")


def test_it_accepts_the_seed_asset_request_with_202_location_and_a_queued_job(api):
    response = post(api, ASSET_URL, request_body())
    assert response.status_code == 202
    job_id = uuid.UUID(response.json()["prediction_id"])
    assert response["Location"].endswith(f"/jobs/{job_id}")
    job = PredictionJob.objects.get(pk=job_id)
    assert job.status == "queued"
    assert job.endpoint_type == "asset_predict"
    assert job.payload["source_sys_time"] == "2025-10-16T09:00:00Z"
    assert "failure_type_id" not in job.payload


def test_it_enqueues_one_task_for_the_job_in_the_same_transaction(api):
    response = post(api, AFT_URL, request_body(failure_type_id=FT_ID))
    job_id = response.json()["prediction_id"]
    tasks = [SignedPackage.loads(q.payload) for q in OrmQ.objects.all()]
    assert [t["args"] for t in tasks] == [(job_id,)]
    assert tasks[0]["func"] == "predictions.tasks.job_run_task"


def test_the_same_request_again_returns_the_same_id_and_creates_nothing(api):
    body = request_body(failure_type_id=FT_ID)
    first = post(api, AFT_URL, body)
    second = post(api, AFT_URL, dict(body))
    assert second.status_code == 202
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert PredictionJob.objects.count() == 1
    assert OrmQ.objects.count() == 1


def test_the_same_instant_with_another_offset_or_case_is_the_same_request(api):
    op = str(uuid.uuid4())
    a = request_body(operation_id=[op], asset_id="06FCD7D5-1FC6-4BC6-B00D-DA274663D98D")
    b = request_body(
        operation_id=[op.upper()],
        asset_id="06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
        failure_start_time="2025-10-02T12:00:00+02:00",
        maintenance_end_time="2025-08-16T11:00:00Z",
        source_sys_time="2025-10-16T04:00:00-05:00",
        default_reliability=[0.90],
    )
    assert post(api, ASSET_URL, a).json() == post(api, ASSET_URL, b).json()
    assert PredictionJob.objects.count() == 1


def test_a_different_instant_or_endpoint_is_a_different_request(api):
    body = request_body()
    first = post(api, ASSET_URL, body).json()
    later = post(api, ASSET_URL, {**body, "source_sys_time": "2025-10-16T09:00:01"}).json()
    other_endpoint = post(api, AFT_URL, {**body, "failure_type_id": FT_ID}).json()
    assert (
        len({first["prediction_id"], later["prediction_id"], other_endpoint["prediction_id"]}) == 3
    )


def test_two_clients_sending_the_same_body_get_two_jobs(api, other_api):
    body = request_body()
    mine = post(api, ASSET_URL, body).json()["prediction_id"]
    theirs = post(other_api, ASSET_URL, body).json()["prediction_id"]
    assert mine != theirs
    assert PredictionJob.objects.count() == 2


VALID = request_body(operation_id=["06fad7d5-1fc6-4bd6-b00d-da274663d88a"])


@pytest.mark.parametrize(
    ("url", "change", "field"),
    [
        (ASSET_URL, {"unexpected": 1}, "unexpected"),
        (ASSET_URL, {"failure_type_id": FT_ID}, "failure_type_id"),
        (AFT_URL, {}, "failure_type_id"),
        (AFT_URL, {"failure_type_id": "not-a-uuid"}, "failure_type_id"),
        (ASSET_URL, {"asset_id": "1234"}, "asset_id"),
        (ASSET_URL, {"asset_id": 12}, "asset_id"),
        (ASSET_URL, {"asset_id": "06fcd7d51fc64bc6b00dda274663d98d"}, "asset_id"),
        (ASSET_URL, {"asset_id": None}, "asset_id"),
        (ASSET_URL, {"operation_id": []}, "operation_id"),
        (ASSET_URL, {"operation_id": "06fad7d5-1fc6-4bd6-b00d-da274663d88a"}, "operation_id"),
        (ASSET_URL, {"operation_id": ["nope"]}, "operation_id"),
        (ASSET_URL, {"operation_id": [str(uuid.uuid4()) for _ in range(101)]}, "operation_id"),
        (ASSET_URL, {"failure_start_time": "yesterday"}, "failure_start_time"),
        (ASSET_URL, {"failure_start_time": "2025-13-02T10:00:00"}, "failure_start_time"),
        (ASSET_URL, {"maintenance_end_time": 1700000000}, "maintenance_end_time"),
        (ASSET_URL, {"source_sys_time": ""}, "source_sys_time"),
        (ASSET_URL, {"default_reliability": [1.5]}, "default_reliability"),
        (ASSET_URL, {"default_reliability": [-0.1]}, "default_reliability"),
        (ASSET_URL, {"default_reliability": ["0.5"]}, "default_reliability"),
        (ASSET_URL, {"default_reliability": [True]}, "default_reliability"),
        (ASSET_URL, {"default_reliability": []}, "default_reliability"),
        (ASSET_URL, {"default_reliability": 0.5}, "default_reliability"),
        (ASSET_URL, {"default_reliability": [0.5, 0.5]}, "default_reliability"),
    ],
)
def test_it_rejects_invalid_bodies_with_a_per_field_400_and_stores_nothing(api, url, change, field):
    body = {**VALID, **change}
    if url == AFT_URL and "failure_type_id" not in change:
        body.pop("failure_type_id", None)
    response = post(api, url, body)
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["detail"] == "Invalid request."
    assert field in data["errors"], data
    assert data["errors"][field]
    assert PredictionJob.objects.count() == 0
    assert OrmQ.objects.count() == 0


@pytest.mark.parametrize("field", ["operation_id", "asset_id", "failure_start_time"])
def test_it_names_each_missing_required_field(api, field):
    body = dict(VALID)
    body.pop(field)
    response = post(api, ASSET_URL, body)
    assert response.status_code == 400
    assert response.json()["errors"][field] == ["This field is required."]


def test_it_accepts_one_default_reliability_per_operation_or_none(api):
    ops = [str(uuid.uuid4()) for _ in range(3)]
    assert (
        post(
            api, ASSET_URL, request_body(operation_id=ops, default_reliability=[0.9, 1, 0])
        ).status_code
        == 202
    )
    no_defaults = request_body(operation_id=ops)
    no_defaults.pop("default_reliability")
    assert post(api, ASSET_URL, no_defaults).status_code == 202
    assert post(api, ASSET_URL, request_body(default_reliability=None)).status_code == 202


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        (b'{"operation_id": [', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b'{"default_reliability": [NaN]}', "application/json", 400),
        (b"", "application/json", 400),
        (b"operation_id=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_broken_or_non_object_json_gets_a_json_4xx(api, raw, content_type, expected):
    response = api.generic("POST", ASSET_URL, raw, content_type=content_type)
    assert response.status_code == expected
    assert "detail" in response.json()
    assert PredictionJob.objects.count() == 0


def test_an_oversized_body_gets_413_json_and_stores_nothing(api, settings):
    body = request_body(padding="x" * (settings.API_MAX_BODY_BYTES + 10))
    response = post(api, ASSET_URL, body)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert PredictionJob.objects.count() == 0


@pytest.mark.parametrize("header", [None, "Token wrong", "Bearer wrong", "Token", "Basic abc"])
def test_it_requires_a_valid_token(db, header):
    from rest_framework.test import APIClient

    http = APIClient()
    if header:
        http.credentials(HTTP_AUTHORIZATION=header)
    response = post(http, ASSET_URL, request_body())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert PredictionJob.objects.count() == 0


def test_revoked_expired_and_inactive_tokens_are_refused(db):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    client = ApiClient.objects.create(name="plant-x")
    revoked, raw_revoked = ApiToken.issue(client=client)
    revoked.revoked_at = timezone.now()
    revoked.save()
    _, raw_expired = ApiToken.issue(client=client, expires_at=timezone.now() - timedelta(seconds=1))
    _, raw_ok = ApiToken.issue(client=client)
    for raw, expected in [(raw_revoked, 401), (raw_expired, 401), (raw_ok, 202)]:
        http = APIClient()
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert post(http, ASSET_URL, request_body()).status_code == expected
    client.is_active = False
    client.save()
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {raw_ok}")
    assert post(http, ASSET_URL, request_body()).status_code == 401


def test_tokens_are_stored_hashed(db):
    client = ApiClient.objects.create(name="plant-h")
    token, raw = ApiToken.issue(client=client)
    assert raw not in token.key_hash
    assert not ApiToken.objects.filter(key_hash=raw).exists()


@pytest.mark.django_db(transaction=True)
def test_identical_requests_in_parallel_against_a_real_server_create_one_job(live_server):
    client = ApiClient.objects.create(name="plant-race")
    _, raw = ApiToken.issue(client=client)
    body = request_body()
    headers = {"Authorization": f"Token {raw}"}

    def send(_: int) -> tuple[int, str]:
        response = requests.post(
            f"{live_server.url}{ASSET_URL}", json=body, headers=headers, timeout=30
        )
        return response.status_code, response.json()["prediction_id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, range(48)))
    assert {status for status, _ in results} == {202}
    assert len({job_id for _, job_id in results}) == 1
    assert PredictionJob.objects.count() == 1
    assert OrmQ.objects.count() == 1
