"""Learning end to end: requests → failure history → refit task on a real qcluster → fitted."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from rest_framework.test import APIClient
from scipy import stats

from predictions import fitting
from predictions.models import (
    ApiClient,
    ApiToken,
    FailureObservation,
    FitStatus,
    JobStatus,
    Prediction,
    PredictionJob,
    WeibullFit,
)
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.e2e]

SEED = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_type_id": "702ab05a-7427-4a36-a298-0331bd56510a",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
    "default_reliability": [0.90],
}
URL = "/asset_failure_type_predict"
FINAL = {JobStatus.DONE, JobStatus.NOT_FOUND, JobStatus.ERROR}


@pytest.fixture
def http(transactional_db) -> APIClient:
    """An authenticated API client (the DB is the transactional test DB)."""
    client = ApiClient.objects.create(name="plant-learning")
    _, raw = ApiToken.issue(client=client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return api


def submit(http: APIClient, body: dict) -> str:
    """POST a failure-type prediction request; returns the job id."""
    response = http.post(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["prediction_id"]


def wait_done(job_id: str, log) -> Prediction:
    """Wait for the job to end; it must end done. Returns its prediction."""
    wait_for(
        lambda: PredictionJob.objects.filter(pk=job_id, status__in=FINAL).exists(),
        timeout=60,
        what=f"job {job_id}",
        log=log,
    )
    job = PredictionJob.objects.get(pk=job_id)
    assert job.status == JobStatus.DONE, job.error_message
    return Prediction.objects.get(job=job)


def iso(value: datetime) -> str:
    """UTC ISO-8601."""
    return value.astimezone(UTC).isoformat()


def test_after_enough_failures_a_new_request_uses_the_fitted_parameters(
    http, qcluster_factory, cmms_sim, data_dir
):
    cluster = qcluster_factory()
    first = wait_done(submit(http, SEED), cluster.log)
    assert (first.source, first.predicted_reliability) == ("request_default", 0.9)

    # More lifetimes of the same asset and failure type, as the plant reports them.
    lifetimes = stats.weibull_min.rvs(
        1.8, scale=900.0, size=fitting.MIN_FAILURES, random_state=np.random.default_rng(4)
    )
    start = datetime(2024, 1, 1, 6, tzinfo=UTC)
    jobs = []
    for i, hours in enumerate(lifetimes):
        maintenance = start + timedelta(days=120 * i)
        body = {
            **SEED,
            "maintenance_end_time": iso(maintenance),
            "failure_start_time": iso(maintenance + timedelta(hours=float(hours))),
            "source_sys_time": iso(maintenance + timedelta(hours=1)),
        }
        jobs.append(submit(http, body))
        submit(http, body)  # a replay: same job, no second observation
    for job_id in jobs:
        wait_done(job_id, cluster.log)
    failures = fitting.MIN_FAILURES + 1
    assert FailureObservation.objects.filter(censored=False).count() == failures

    def fitted() -> bool:
        fit = WeibullFit.objects.filter(
            asset_failure_type=first.asset_failure_type, status=FitStatus.FITTED
        ).first()
        return bool(fit and fit.n_failures == failures and fit.refit_requested_at is None)

    wait_for(fitted, timeout=60, what="the refit task", log=cluster.log)

    later = {**SEED, "source_sys_time": "2025-10-17T09:00:00"}
    job_id = submit(http, later)
    prediction = wait_done(job_id, cluster.log)
    fit = WeibullFit.objects.get(asset_failure_type=first.asset_failure_type)
    assert prediction.source == "fitted"
    assert (prediction.eta_hours, prediction.beta) == (fit.eta_hours, fit.beta)
    assert prediction.predicted_reliability != 0.9
    shown = http.get(f"/jobs/{job_id}").json()["prediction"]
    assert shown["source"] == "fitted"
    assert shown["eta_hours"] == pytest.approx(fit.eta_hours)
    posted = cmms_sim.posts("/asset_failure_type_prediction")[-1]["body"]
    assert posted["predicted_reliability"] == prediction.predicted_reliability
