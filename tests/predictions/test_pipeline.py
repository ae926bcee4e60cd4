"""The job's pipeline, step by step and whole, against the CMMS simulator over HTTP."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from cmms.models import Asset
from predictions import services
from predictions.models import (
    AssetFailureType,
    AssetFailureTypeMaintenanceList,
    EndpointType,
    EtaBeta,
    IllegalTransition,
    JobStatus,
    Prediction,
    PredictionJob,
)
from tests.factories import ApiClientFactory

pytestmark = pytest.mark.django_db

SEED_ASSET = "06fcd7d5-1fc6-4bc6-b00d-da274663d98d"
SEED_FT = "702ab05a-7427-4a36-a298-0331bd56510a"
SEED_OP = "06fad7d5-1fc6-4bd6-b00d-da274663d88a"
OP_WITHOUT_LISTS = "26480887-53d3-408b-b0db-7a3b792dfe02"


def seed_job(endpoint_type: EndpointType = EndpointType.ASSET, **overrides) -> PredictionJob:
    """A queued job for the seed's example request, created through the intake service."""
    data = {
        "operation_id": [uuid.UUID(SEED_OP)],
        "asset_id": uuid.UUID(SEED_ASSET),
        "failure_start_time": datetime(2025, 10, 2, 10, tzinfo=UTC),
        "maintenance_end_time": datetime(2025, 8, 16, 11, tzinfo=UTC),
        "source_sys_time": datetime(2025, 10, 16, 9, tzinfo=UTC),
        "default_reliability": [0.9],
    }
    if endpoint_type == EndpointType.ASSET_FAILURE_TYPE:
        data["failure_type_id"] = uuid.UUID(SEED_FT)
    data.update(overrides)
    job_id, _ = services.job_create(
        client=ApiClientFactory(), endpoint_type=endpoint_type, data=data
    )
    return PredictionJob.objects.get(pk=job_id)


def test_the_seed_asset_request_ends_done_with_0_9_a_file_a_row_and_one_post(
    cmms_sim, cmms_client, data_dir
):
    job = seed_job()
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert job.attempts == 1
    prediction = Prediction.objects.get(job=job)
    assert job.prediction_id == prediction.prediction_id
    assert prediction.predicted_reliability == 0.9
    assert prediction.asset_failure_type is None
    assert prediction.time == datetime(2025, 10, 16, 9, tzinfo=UTC)
    assert prediction.prediction_future_time == datetime(2025, 8, 23, 11, tzinfo=UTC)
    assert prediction.cmms_posted_at is not None
    document = json.loads((data_dir / f"{prediction.prediction_id}.json").read_text())
    assert document["prediction_id"] == str(prediction.prediction_id)
    assert document["predicted_reliability"] == 0.9
    assert document["failure_type_id"] is None
    posts = cmms_sim.posts()
    assert [p["path"] for p in posts] == ["/asset_prediction"]
    assert posts[0]["idempotency_key"] == str(prediction.prediction_id)
    assert posts[0]["body"] == document
    assert list(data_dir.iterdir()) == [data_dir / f"{prediction.prediction_id}.json"]


def test_the_seed_failure_type_request_builds_the_aft_and_its_links(
    cmms_sim, cmms_client, data_dir
):
    job = seed_job(EndpointType.ASSET_FAILURE_TYPE)
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    aft = AssetFailureType.objects.get()
    assert (str(aft.asset_id), str(aft.failure_type_id)) == (SEED_ASSET, SEED_FT)
    links = AssetFailureTypeMaintenanceList.objects.filter(asset_failure_type=aft)
    assert sorted(link.default_reliability for link in links) == [1.0, 1.0, 1.0]
    prediction = Prediction.objects.get(job=job)
    assert prediction.asset_failure_type == aft
    assert prediction.predicted_reliability == 0.9
    posts = cmms_sim.posts()
    assert [p["path"] for p in posts] == ["/asset_failure_type_prediction"]
    assert posts[0]["body"]["failure_type_id"] == SEED_FT


def test_a_second_delivery_of_the_task_does_nothing(cmms_sim, cmms_client, data_dir):
    job = seed_job()
    assert services.job_run(job_id=job.pk, client=cmms_client) is not None
    assert services.job_run(job_id=job.pk, client=cmms_client) is None
    assert Prediction.objects.count() == 1
    assert len(cmms_sim.posts()) == 1
    assert PredictionJob.objects.get(pk=job.pk).attempts == 1


@pytest.mark.parametrize(
    ("overrides", "endpoint", "message"),
    [
        (
            {"asset_id": uuid.UUID(int=1)},
            EndpointType.ASSET,
            "Asset 00000000-0000-0000-0000-000000000001 not found",
        ),
        (
            {"failure_type_id": uuid.UUID(int=2)},
            EndpointType.ASSET_FAILURE_TYPE,
            "Failure type 00000000-0000-0000-0000-000000000002 not found",
        ),
        (
            {"operation_id": [uuid.UUID(int=3)]},
            EndpointType.ASSET,
            "Operation 00000000-0000-0000-0000-000000000003 not found",
        ),
        (
            {"operation_id": [uuid.UUID(OP_WITHOUT_LISTS)]},
            EndpointType.ASSET,
            "has no maintenance lists",
        ),
    ],
)
def test_unknown_master_data_ends_not_found_with_a_clear_message(
    cmms_sim, cmms_client, data_dir, overrides, endpoint, message
):
    job = seed_job(endpoint, **overrides)
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.NOT_FOUND
    assert message in job.error_message
    assert not Prediction.objects.exists()
    assert cmms_sim.posts() == []


def test_cmms_errors_then_recovery_end_done(cmms_sim, cmms_client, data_dir):
    cmms_sim.add_fault(method="GET", path="/assets/.*", status=500, times=2)
    job = seed_job()
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    assert cmms_sim.request_count(f"/assets/{SEED_ASSET}") == 3


def test_a_cmms_down_for_good_ends_error_with_the_reason(cmms_sim, cmms_client, data_dir):
    cmms_sim.add_fault(method="*", path=".*", status=503)
    job = seed_job()
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.ERROR
    assert job.error_message.startswith("CMMS: ")
    assert "503" in job.error_message
    assert "test-cmms-token" not in job.error_message


def test_a_failed_post_keeps_the_prediction_and_a_retry_resends_the_same_one(
    cmms_sim, cmms_client, data_dir
):
    cmms_sim.add_fault(method="POST", path="/asset_prediction", status=400, times=1)
    job = seed_job()
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.ERROR
    first = Prediction.objects.get(job=job)
    assert first.cmms_posted_at is None
    assert cmms_sim.posts() == []

    assert services.job_retry(job=job) is True
    assert OrmQ.objects.count() == 2  # the intake's task and the retry's
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.attempts == 2
    assert Prediction.objects.get(job=job).prediction_id == first.prediction_id
    assert [p["idempotency_key"] for p in cmms_sim.posts()] == [str(first.prediction_id)]


def test_stored_weibull_parameters_drive_the_prediction(cmms_sim, cmms_client, data_dir):
    asset = Asset.objects.create(asset_id=SEED_ASSET, name="Feed pump P-101")
    EtaBeta.objects.create(asset=asset, eta_hours=1000, beta=1.5)
    job = seed_job()
    services.job_run(job_id=job.pk, client=cmms_client)
    # t = 7 days = 168 h: exp(-(168/1000)^1.5)
    assert Prediction.objects.get(job=job).predicted_reliability == 0.933458


def test_without_request_defaults_the_stored_link_defaults_multiply(
    cmms_sim, cmms_client, data_dir
):
    first = seed_job(EndpointType.ASSET_FAILURE_TYPE)
    services.job_run(job_id=first.pk, client=cmms_client)
    # the seed operation carries out two of the asset's three lists: give them 0.9 and 0.8
    links = AssetFailureTypeMaintenanceList.objects.select_related("asset_maintenance_list").filter(
        asset_maintenance_list__maintenance_list__operation_links__operation_id=SEED_OP
    )
    assert links.count() == 2
    for link, value in zip(links, [0.9, 0.8], strict=True):
        link.default_reliability = value
        link.save()
    job = seed_job(EndpointType.ASSET_FAILURE_TYPE, default_reliability=None)
    services.job_run(job_id=job.pk, client=cmms_client)
    assert Prediction.objects.get(job=job).predicted_reliability == 0.72


def test_step_horizon_adds_the_configured_days():
    end = datetime(2025, 8, 16, 11, tzinfo=UTC)
    assert services.prediction_horizon(maintenance_end_time=end, days=7) == datetime(
        2025, 8, 23, 11, tzinfo=UTC
    )


def test_step_file_write_is_atomic_and_leaves_no_temp_files(data_dir):
    from tests.factories import PredictionFactory

    prediction = PredictionFactory(predicted_reliability=0.5)
    path = services.prediction_file_write(prediction=prediction, data_dir=data_dir)
    services.prediction_file_write(prediction=prediction, data_dir=data_dir)
    assert json.loads(path.read_text())["predicted_reliability"] == 0.5
    assert [p.name for p in data_dir.iterdir()] == [path.name]


def test_a_stored_payload_that_no_longer_validates_ends_error(cmms_client, data_dir):
    job = seed_job()
    PredictionJob.objects.filter(pk=job.pk).update(payload={"asset_id": "nope"})
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.ERROR
    assert "stored payload is invalid" in job.error_message


def test_illegal_transitions_are_refused():
    job = seed_job()
    with pytest.raises(IllegalTransition):
        job.check_transition(JobStatus.DONE)
    job.status = JobStatus.DONE
    with pytest.raises(IllegalTransition):
        services.job_retry(job=job)


def test_the_sweeper_requeues_jobs_whose_worker_died_and_gives_up_after_max_attempts(settings):
    settings.JOB_MAX_ATTEMPTS = 3
    old = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 5)
    alive, dead, hopeless = (
        seed_job(),
        seed_job(source_sys_time=datetime(2025, 1, 1, tzinfo=UTC)),
        seed_job(source_sys_time=datetime(2025, 1, 2, tzinfo=UTC)),
    )
    PredictionJob.objects.filter(pk=alive.pk).update(
        status=JobStatus.PROCESSING, attempts=1, updated_at=timezone.now()
    )
    PredictionJob.objects.filter(pk=dead.pk).update(
        status=JobStatus.PROCESSING, attempts=1, updated_at=old
    )
    PredictionJob.objects.filter(pk=hopeless.pk).update(
        status=JobStatus.PROCESSING, attempts=3, updated_at=old
    )
    OrmQ.objects.all().delete()
    assert services.jobs_requeue_stale() == 2
    statuses = dict(PredictionJob.objects.values_list("pk", "status"))
    assert statuses == {alive.pk: "processing", dead.pk: "queued", hopeless.pk: "error"}
    assert OrmQ.objects.count() == 1
    assert "Gave up after 3 attempts" in PredictionJob.objects.get(pk=hopeless.pk).error_message


def test_the_sweeper_reenqueues_queued_jobs_whose_task_was_lost(settings):
    job = seed_job()
    fresh = seed_job(source_sys_time=datetime(2025, 1, 1, tzinfo=UTC))
    OrmQ.objects.all().delete()  # the tasks were lost
    PredictionJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS + 1)
    )
    assert services.jobs_requeue_stale() == 1
    assert OrmQ.objects.count() == 1
    assert PredictionJob.objects.get(pk=fresh.pk).status == "queued"
    assert services.jobs_requeue_stale() == 0


def test_the_requeue_schedule_exists_after_migrations():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="predictions.tasks.jobs_requeue_stale_task")
    assert schedule.repeats == -1
    assert schedule.schedule_type == Schedule.MINUTES


def test_step_aft_and_its_links_are_created_once(cmms_client):
    from cmms import services as cmms_services

    asset = cmms_services.asset_ensure(asset_id=uuid.UUID(SEED_ASSET), client=cmms_client)
    ft = cmms_services.failure_type_ensure(failure_type_id=uuid.UUID(SEED_FT), client=cmms_client)
    lists = cmms_services.asset_maintenance_lists_ensure(asset=asset, client=cmms_client)
    aft = services.asset_failure_type_ensure(asset=asset, failure_type=ft)
    assert services.asset_failure_type_ensure(asset=asset, failure_type=ft) == aft
    links = services.asset_failure_type_maintenance_lists_ensure(
        aft=aft, asset_maintenance_lists=lists
    )
    again = services.asset_failure_type_maintenance_lists_ensure(
        aft=aft, asset_maintenance_lists=lists
    )
    assert len(links) == len(again) == 3
    assert AssetFailureTypeMaintenanceList.objects.count() == 3


def test_a_processing_job_whose_lease_expired_is_taken_over_by_a_redelivered_task(
    cmms_sim, cmms_client, data_dir, settings
):
    job = seed_job()
    expired = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    PredictionJob.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, attempts=1, updated_at=expired
    )
    services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)


def test_a_live_processing_job_is_not_taken_over(cmms_client, data_dir):
    job = seed_job()
    PredictionJob.objects.filter(pk=job.pk).update(
        status=JobStatus.PROCESSING, attempts=1, updated_at=timezone.now()
    )
    assert services.job_run(job_id=job.pk, client=cmms_client) is None
