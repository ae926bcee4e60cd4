"""The whole system: API → PostgreSQL queue → real qcluster → CMMS simulator over HTTP."""

import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from predictions.models import ApiClient, ApiToken, JobStatus, Prediction, PredictionJob
from tests.e2e.conftest import wait_for
from tests.factories import SEED_FAILURE_TYPE_ID, SEED_REQUEST

pytestmark = [pytest.mark.e2e]

SEED = SEED_REQUEST
SEED_FT = SEED_FAILURE_TYPE_ID
FINAL = {JobStatus.DONE, JobStatus.NOT_FOUND, JobStatus.ERROR}


@pytest.fixture
def http(transactional_db) -> APIClient:
    """An authenticated API client (the DB is the transactional test DB)."""
    client = ApiClient.objects.create(name="plant-e2e")
    _, raw = ApiToken.issue(client=client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return api


def submit(http: APIClient, url: str, body: dict) -> str:
    """POST a prediction request; returns the job id."""
    response = http.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["prediction_id"]


def final_status(job_id: str) -> str | None:
    """The job's status once final, else None."""
    status = PredictionJob.objects.values_list("status", flat=True).get(pk=job_id)
    return status if status in FINAL else None


def test_the_seed_requests_end_done_with_files_rows_and_one_post_each(
    http, qcluster_factory, cmms_sim, data_dir
):
    cluster = qcluster_factory()
    asset_job = submit(http, "/asset_predict", SEED)
    aft_job = submit(http, "/asset_failure_type_predict", {**SEED, "failure_type_id": SEED_FT})
    for job_id in (asset_job, aft_job):
        wait_for(
            lambda j=job_id: final_status(j), timeout=60, what=f"job {job_id}", log=cluster.log
        )
    for job_id, aft, path in [
        (asset_job, False, "/asset_prediction"),
        (aft_job, True, "/asset_failure_type_prediction"),
    ]:
        job = PredictionJob.objects.get(pk=job_id)
        assert job.status == JobStatus.DONE, job.error_message
        prediction = Prediction.objects.get(job=job)
        assert prediction.predicted_reliability == 0.9
        assert (prediction.asset_failure_type_id is not None) == aft
        assert (
            json.loads((data_dir / f"{prediction.prediction_id}.json").read_text())[
                "predicted_reliability"
            ]
            == 0.9
        )
        posts = cmms_sim.posts(path)
        assert [p["idempotency_key"] for p in posts] == [str(prediction.prediction_id)]
        shown = http.get(f"/jobs/{job_id}").json()
        assert shown["status"] == "done"
        assert shown["prediction"]["prediction_id"] == str(prediction.prediction_id)
        assert shown["prediction"]["predicted_reliability"] == 0.9


def test_unknown_ids_end_not_found_and_a_dead_cmms_ends_error(http, qcluster_factory, cmms_sim):
    cluster = qcluster_factory()
    unknown_asset = submit(http, "/asset_predict", {**SEED, "asset_id": str(uuid.uuid4())})
    unknown_ft = submit(
        http, "/asset_failure_type_predict", {**SEED, "failure_type_id": str(uuid.uuid4())}
    )
    unknown_op = submit(http, "/asset_predict", {**SEED, "operation_id": [str(uuid.uuid4())]})
    for job_id in (unknown_asset, unknown_ft, unknown_op):
        wait_for(lambda j=job_id: final_status(j), timeout=60, what="not_found", log=cluster.log)
    messages = {
        job_id: PredictionJob.objects.get(pk=job_id)
        for job_id in (unknown_asset, unknown_ft, unknown_op)
    }
    assert {job.status for job in messages.values()} == {JobStatus.NOT_FOUND}
    assert "Asset" in messages[unknown_asset].error_message
    assert "Failure type" in messages[unknown_ft].error_message
    assert "Operation" in messages[unknown_op].error_message

    cmms_sim.add_fault(method="*", path=".*", status=503)
    down = submit(http, "/asset_predict", {**SEED, "source_sys_time": "2025-10-17T09:00:00"})
    wait_for(lambda: final_status(down), timeout=60, what="error", log=cluster.log)
    job = PredictionJob.objects.get(pk=down)
    assert job.status == JobStatus.ERROR
    assert "503" in job.error_message


def test_cmms_500s_then_recovery_end_done(http, qcluster_factory, cmms_sim):
    cmms_sim.add_fault(method="GET", path="/assets/.*", status=500, times=2)
    cmms_sim.add_fault(method="POST", path=".*", status=502, times=1)
    cluster = qcluster_factory()
    job_id = submit(http, "/asset_predict", SEED)
    wait_for(lambda: final_status(job_id), timeout=60, what="done", log=cluster.log)
    assert PredictionJob.objects.get(pk=job_id).status == JobStatus.DONE
    assert len(cmms_sim.posts()) == 1


def test_a_worker_killed_mid_job_completes_once_after_restart(
    http, qcluster_factory, cmms_sim, data_dir
):
    # Hold the CMMS POST for 3 s so the kill lands after the prediction row, before the answer.
    cmms_sim.add_fault(method="POST", path=".*", delay_ms=3000, times=1)
    settings = {"Q_TIMEOUT": "5", "Q_RETRY": "8", "JOB_LEASE_SECONDS": "6"}
    cluster = qcluster_factory(**settings)
    job_id = submit(http, "/asset_predict", SEED)
    wait_for(
        lambda: Prediction.objects.filter(job_id=job_id).exists(),
        timeout=30,
        what="prediction row",
        log=cluster.log,
    )
    time.sleep(0.5)
    cluster.kill()
    assert PredictionJob.objects.get(pk=job_id).status == JobStatus.PROCESSING

    restarted = qcluster_factory(**settings)
    wait_for(lambda: final_status(job_id), timeout=60, what="job after restart", log=restarted.log)
    job = PredictionJob.objects.get(pk=job_id)
    assert job.status == JobStatus.DONE, job.error_message
    assert job.attempts == 2
    assert Prediction.objects.filter(job_id=job_id).count() == 1
    prediction = Prediction.objects.get(job_id=job_id)
    assert [p["idempotency_key"] for p in cmms_sim.posts()] == [str(prediction.prediction_id)]
    assert [p.name for p in data_dir.iterdir()] == [f"{prediction.prediction_id}.json"]
