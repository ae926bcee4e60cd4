"""Two qcluster processes on one queue: every job runs exactly once."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from predictions.models import ApiClient, ApiToken, JobStatus, Prediction, PredictionJob
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.e2e]

JOBS = 40
SEED = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_type_id": "702ab05a-7427-4a36-a298-0331bd56510a",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "default_reliability": [0.9],
}
FINAL = [JobStatus.DONE, JobStatus.NOT_FOUND, JobStatus.ERROR]


@pytest.fixture
def http(transactional_db) -> APIClient:
    """An authenticated API client on the transactional test DB."""
    client = ApiClient.objects.create(name="plant-multi")
    _, raw = ApiToken.issue(client=client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return api


def test_two_clusters_on_one_queue_run_each_job_exactly_once(http, qcluster_factory, cmms_sim):
    # A little CMMS latency keeps both clusters busy at the same time.
    cmms_sim.set_latency(20)
    first = qcluster_factory(Q_WORKERS="2", Q_BULK="4")
    second = qcluster_factory(Q_WORKERS="2", Q_BULK="4")
    base = datetime(2024, 1, 1, tzinfo=UTC)
    job_ids = []
    for i in range(JOBS):
        body = {**SEED, "source_sys_time": (base + timedelta(seconds=i)).isoformat()}
        response = http.post(
            "/asset_failure_type_predict", data=json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 202, response.content
        job_ids.append(response.json()["prediction_id"])
    assert len(set(job_ids)) == JOBS

    wait_for(
        lambda: PredictionJob.objects.filter(status__in=FINAL).count() == JOBS,
        timeout=120,
        what=f"{JOBS} jobs to finish",
        log=lambda: first.log() + second.log(),
    )

    jobs = list(PredictionJob.objects.filter(pk__in=job_ids))
    assert Counter(job.status for job in jobs) == {JobStatus.DONE: JOBS}
    assert [job.attempts for job in jobs] == [1] * JOBS
    per_job = Counter(Prediction.objects.filter(job__in=jobs).values_list("job_id", flat=True))
    assert len(per_job) == JOBS and set(per_job.values()) == {1}
    posts = cmms_sim.posts("/asset_failure_type_prediction")
    keys = Counter(post["idempotency_key"] for post in posts)
    predictions = {str(p) for p in Prediction.objects.values_list("prediction_id", flat=True)}
    assert set(keys) == predictions
    assert set(keys.values()) == {1}, "a prediction was posted twice"
    assert cmms_sim.request_count("/asset_failure_type_prediction", "POST") == JOBS
    # Both clusters took part: the queue really was shared.
    for cluster in (first, second):
        assert "Processed 'predictions.tasks.job_run_task'" in cluster.log(), cluster.log()[-2000:]
