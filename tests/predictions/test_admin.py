"""The admin's job list: filters, search by id or hash."""

import pytest

from predictions.models import JobStatus
from tests.factories import PredictionJobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs():
    """Three jobs in different states."""
    return [
        PredictionJobFactory(status=JobStatus.QUEUED),
        PredictionJobFactory(status=JobStatus.ERROR, error_message="CMMS: down"),
        PredictionJobFactory(status=JobStatus.DONE, endpoint_type="asset_failure_type_predict"),
    ]


def ids_listed(response) -> set[str]:
    """Job ids on a changelist page."""
    return {str(job.pk) for job in response.context["cl"].result_list}


def test_the_job_list_filters_by_status_and_endpoint(admin_client, jobs):
    assert ids_listed(admin_client.get("/admin/predictions/predictionjob/")) == {
        str(j.pk) for j in jobs
    }
    assert ids_listed(
        admin_client.get("/admin/predictions/predictionjob/?status__exact=error")
    ) == {str(jobs[1].pk)}
    response = admin_client.get(
        "/admin/predictions/predictionjob/?endpoint_type__exact=asset_failure_type_predict"
    )
    assert ids_listed(response) == {str(jobs[2].pk)}


def test_the_job_list_searches_by_job_id_and_by_hash(admin_client, jobs):
    by_id = admin_client.get("/admin/predictions/predictionjob/", {"q": str(jobs[0].pk).upper()})
    assert ids_listed(by_id) == {str(jobs[0].pk)}
    by_hash = admin_client.get("/admin/predictions/predictionjob/", {"q": jobs[1].request_hash})
    assert ids_listed(by_hash) == {str(jobs[1].pk)}
    assert (
        ids_listed(admin_client.get("/admin/predictions/predictionjob/", {"q": "nothing"})) == set()
    )


def test_a_job_page_renders(admin_client, jobs):
    response = admin_client.get(f"/admin/predictions/predictionjob/{jobs[1].pk}/change/")
    assert response.status_code == 200
    assert b"CMMS: down" in response.content
