"""No secret in any log: a whole run (web, worker, CMMS, errors) logged at DEBUG, then searched.

The CMMS token, the API client's token and the SECRET_KEY are fresh random values, so any
occurrence in the output is a leak, not a coincidence.
"""

import os
import secrets
import time

import pytest
import requests

from cmms.simulator.server import CmmsSimulator, load_data
from predictions.models import ApiClient, ApiToken, JobStatus, PredictionJob
from tests.e2e.conftest import ROOT, QCluster, database_url, wait_for
from tests.security.servers import Gunicorn

pytestmark = [pytest.mark.e2e]

SEED = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
    "default_reliability": [0.90],
}
SEED_FT = "702ab05a-7427-4a36-a298-0331bd56510a"
FINAL = {JobStatus.DONE, JobStatus.NOT_FOUND, JobStatus.ERROR}


def final(job_id: str) -> str | None:
    """The job's status once final."""
    status = PredictionJob.objects.values_list("status", flat=True).get(pk=job_id)
    return status if status in FINAL else None


def test_no_secret_reaches_any_log_across_a_full_run(transactional_db, tmp_path, settings):
    cmms_token = "cmms-" + secrets.token_urlsafe(24)
    secret_key = "sk-" + secrets.token_urlsafe(50)
    client = ApiClient.objects.create(name="plant-logs")
    _, raw = ApiToken.issue(client=client)
    sim = CmmsSimulator(data=load_data(), token=cmms_token, page_size=2).start()
    env = {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": secret_key,
        "CMMS_BASE_URL": sim.base_url,
        "CMMS_TOKEN": cmms_token,
        "DATA_DIR": str(tmp_path / "out"),
        "LOG_LEVEL": "DEBUG",
        "WEB_ACCESS_LOG": "-",
        "CMMS_MAX_RETRIES": "1",
        "CMMS_BACKOFF_FACTOR": "0.05",
        "Q_WORKERS": "1",
        "Q_POLL": "0.05",
        "CONN_MAX_AGE": "0",
    }
    web = Gunicorn(env, tmp_path / "web.log", workers=1).start()
    worker = QCluster({**os.environ, **env}, tmp_path / "worker.log").start()
    auth = {"Authorization": f"Token {raw}"}
    try:
        # A job through the whole pipeline.
        ok = requests.post(f"{web.url}/asset_predict", json=SEED, headers=auth, timeout=10)
        assert ok.status_code == 202
        done = ok.json()["prediction_id"]
        wait_for(lambda: final(done), timeout=60, what="the job", log=worker.log)
        assert final(done) == JobStatus.DONE
        assert requests.get(f"{web.url}/jobs/{done}", headers=auth, timeout=10).ok
        # Client errors: a wrong token, the token in a malformed header, a bad body.
        for headers in (
            {"Authorization": f"Token {raw}x"},
            {"Authorization": f"Basic {raw}"},
            {"Authorization": f"Token {raw} {secret_key}"},
        ):
            response = requests.post(
                f"{web.url}/asset_predict", json=SEED, headers=headers, timeout=10
            )
            assert response.status_code == 401
        bad = requests.post(
            f"{web.url}/asset_predict", json={"asset_id": raw}, headers=auth, timeout=10
        )
        assert bad.status_code == 400
        # The CMMS rejects the token (401), then fails with 500s (retries are logged).
        sim.add_fault(method="GET", path="/failure_types/", status=401, times=1)
        rejected = requests.post(
            f"{web.url}/asset_failure_type_predict",
            json={**SEED, "failure_type_id": SEED_FT},
            headers=auth,
            timeout=10,
        ).json()["prediction_id"]
        wait_for(lambda: final(rejected), timeout=60, what="the 401 job", log=worker.log)
        assert "401" in PredictionJob.objects.get(pk=rejected).error_message
        sim.add_fault(method="POST", path="/asset_prediction", status=500)
        failing = requests.post(
            f"{web.url}/asset_predict",
            json={**SEED, "source_sys_time": "2025-10-17T09:00:00"},
            headers=auth,
            timeout=10,
        ).json()["prediction_id"]
        wait_for(lambda: final(failing), timeout=60, what="the 500 job", log=worker.log)
        time.sleep(0.5)
    finally:
        worker.stop()
        web.stop()
        sim.stop()

    logs = {"web": web.log(), "worker": worker.log()}
    assert "GET /api/assets/" in logs["worker"]  # urllib3's DEBUG lines: the capture works
    assert "/asset_predict" in logs["web"]
    stored = " ".join(PredictionJob.objects.values_list("error_message", flat=True))
    for where, text in {**logs, "job errors": stored}.items():
        for name, secret in {
            "CMMS token": cmms_token,
            "client token": raw,
            "client token body": raw[12:],
            "SECRET_KEY": secret_key,
        }.items():
            assert secret not in text, f"the {name} appears in the {where} log"
    # The run left its logs in the repo's .local/ for a person to read, when asked to.
    if os.environ.get("DTWIN_KEEP_LOGS"):
        for name, text in logs.items():
            (ROOT / ".local" / f"secrets-run-{name}.log").write_text(text)
