"""GET /jobs/<job_id>: the client's own job, 404 for anything else."""

import json
import uuid

import pytest

from predictions.models import JobStatus
from tests.factories import (
    AssetFactory,
    PredictionFactory,
    PredictionJobFactory,
    request_body,
)

pytestmark = pytest.mark.django_db


def test_it_shows_a_queued_job_without_prediction(api):
    job_id = api.post(
        "/asset_predict", data=json.dumps(request_body()), content_type="application/json"
    ).json()["prediction_id"]
    response = api.get(f"/jobs/{job_id}")
    assert response.status_code == 200
    data = response.json()
    assert data["job_id"] == job_id
    assert data["status"] == "queued"
    assert data["endpoint_type"] == "asset_predict"
    assert data["attempts"] == 0
    assert data["error_message"] == ""
    assert data["prediction"] is None
    assert {"created_at", "updated_at"} <= data.keys()


def test_it_shows_the_prediction_once_done(api, api_client_with_token):
    client, _ = api_client_with_token
    job = PredictionJobFactory(client=client, status=JobStatus.DONE)
    prediction = PredictionFactory(job=job, asset=AssetFactory(), predicted_reliability=0.9)
    job.prediction_id = prediction.prediction_id
    job.save()
    data = api.get(f"/jobs/{job.job_id}").json()
    assert data["status"] == "done"
    assert data["prediction"]["prediction_id"] == str(prediction.prediction_id)
    assert data["prediction"]["predicted_reliability"] == 0.9
    assert data["prediction"]["prediction_future_time"].startswith("2025-10-23T09:00:00")


def test_another_clients_job_is_404(api, other_api):
    job_id = api.post(
        "/asset_predict", data=json.dumps(request_body()), content_type="application/json"
    ).json()["prediction_id"]
    response = other_api.get(f"/jobs/{job_id}")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_an_unknown_job_is_404(api):
    assert api.get(f"/jobs/{uuid.uuid4()}").status_code == 404


def test_jobs_need_a_token(client):
    assert client.get(f"/jobs/{uuid.uuid4()}").status_code == 401
