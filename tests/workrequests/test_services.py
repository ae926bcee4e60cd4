"""Work-request proposals: thresholds, cooldown, one active proposal, send once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cmms.models import Asset, FailureType
from predictions.models import AssetFailureType, Prediction
from tests.factories import AssetFailureTypeFactory, PredictionFactory, PredictionJobFactory
from workrequests import services
from workrequests.models import ProposalStatus, ReliabilityThreshold, WorkRequestProposal

pytestmark = pytest.mark.django_db


def low_prediction(aft: AssetFailureType | None = None, value: float = 0.5, **kwargs) -> Prediction:
    """A stored prediction of `value` for an AFT (a new one by default), with its job."""
    aft = aft or AssetFailureTypeFactory()
    return PredictionFactory(
        asset=aft.asset,
        asset_failure_type=aft,
        predicted_reliability=value,
        job=PredictionJobFactory(),
        **kwargs,
    )


def test_threshold_precedence_is_aft_then_failure_type_then_global(settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    aft = AssetFailureTypeFactory()
    assert services.threshold_for(aft=aft, failure_type=aft.failure_type) == (0.8, "global default")
    ReliabilityThreshold.objects.create(failure_type=aft.failure_type, threshold=0.7)
    assert services.threshold_for(aft=aft, failure_type=aft.failure_type) == (0.7, "failure type")
    ReliabilityThreshold.objects.create(asset_failure_type=aft, threshold=0.95)
    assert services.threshold_for(aft=aft, failure_type=aft.failure_type) == (
        0.95,
        "asset failure type",
    )
    other = AssetFailureTypeFactory(failure_type=aft.failure_type)
    assert services.threshold_for(aft=other, failure_type=other.failure_type) == (
        0.7,
        "failure type",
    )
    assert services.threshold_for(aft=None, failure_type=None) == (0.8, "global default")


def test_a_prediction_below_the_threshold_proposes_one_work_request(settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    prediction = low_prediction(value=0.62)
    proposal = services.proposal_consider(prediction=prediction)
    assert proposal.status == ProposalStatus.OPEN
    assert (proposal.predicted_reliability, proposal.threshold) == (0.62, 0.8)
    assert "0.620" in proposal.reason and "global default threshold 0.8" in proposal.reason
    assert proposal.client == prediction.job.client
    assert (
        services.proposal_consider(
            prediction=low_prediction(aft=prediction.asset_failure_type, value=0.1)
        )
        is None
    )
    assert WorkRequestProposal.objects.count() == 1


def test_a_prediction_at_or_above_the_threshold_proposes_nothing(settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    assert services.proposal_consider(prediction=low_prediction(value=0.8)) is None
    assert not WorkRequestProposal.objects.exists()


def test_an_asset_prediction_without_failure_type_can_propose_too(settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    asset = Asset.objects.create(asset_id="06fcd7d5-1fc6-4bc6-b00d-da274663d98d", name="Feed pump")
    first = PredictionFactory(asset=asset, predicted_reliability=0.5, job=PredictionJobFactory())
    second = PredictionFactory(asset=asset, predicted_reliability=0.4, job=PredictionJobFactory())
    assert services.proposal_consider(prediction=first).failure_type is None
    assert services.proposal_consider(prediction=second) is None  # one active per (asset, none)


def test_no_proposal_within_the_cooldown_after_one_was_sent_or_rejected(settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    settings.WORK_REQUEST_COOLDOWN_DAYS = 2
    prediction = low_prediction()
    proposal = services.proposal_consider(prediction=prediction)
    services.proposals_reject(
        proposals=WorkRequestProposal.objects.all(), user=None, comment="known"
    )
    aft = prediction.asset_failure_type
    assert services.proposal_consider(prediction=low_prediction(aft=aft)) is None
    WorkRequestProposal.objects.filter(pk=proposal.pk).update(
        decided_at=timezone.now() - timedelta(days=3)
    )
    assert services.proposal_consider(prediction=low_prediction(aft=aft)) is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_low_predictions_make_one_open_proposal(settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    aft = AssetFailureTypeFactory()
    predictions = [low_prediction(aft=aft, value=0.3 + i / 100) for i in range(8)]
    barrier = threading.Barrier(len(predictions))
    results: list[object] = []

    def consider(prediction: Prediction) -> None:
        barrier.wait()
        try:
            results.append(services.proposal_consider(prediction=prediction))
        finally:
            connection.close()

    threads = [threading.Thread(target=consider, args=(p,)) for p in predictions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert WorkRequestProposal.objects.count() == 1
    assert sum(r is not None for r in results) == 1


def test_approval_posts_once_even_when_the_task_is_delivered_twice(cmms_sim, cmms_client, settings):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    proposal = services.proposal_consider(prediction=low_prediction())
    assert (
        services.proposals_approve(
            proposals=WorkRequestProposal.objects.all(), user=None, comment="go"
        )
        == 1
    )
    sent = services.proposal_send(proposal_id=proposal.pk, client=cmms_client)
    assert sent.status == ProposalStatus.SENT and sent.work_request_id
    assert services.proposal_send(proposal_id=proposal.pk, client=cmms_client) is None
    posts = cmms_sim.posts("/work_requests")
    assert len(posts) == 1
    assert posts[0]["idempotency_key"] == str(proposal.pk)
    assert posts[0]["body"]["predicted_reliability"] == 0.5
    assert "go" in posts[0]["body"]["description"]


def test_a_failing_cmms_marks_the_proposal_failed_and_a_second_approval_sends_it_once(
    cmms_sim, cmms_client
):
    proposal = services.proposal_consider(prediction=low_prediction(value=0.1))
    services.proposals_approve(proposals=WorkRequestProposal.objects.all(), user=None)
    cmms_sim.add_fault(method="POST", path="/work_requests", status=503)
    failed = services.proposal_send(proposal_id=proposal.pk, client=cmms_client)
    assert failed.status == ProposalStatus.FAILED
    assert "503" in failed.error_message
    cmms_sim.clear_faults()
    assert services.proposals_approve(proposals=WorkRequestProposal.objects.all(), user=None) == 1
    sent = services.proposal_send(proposal_id=proposal.pk, client=cmms_client)
    assert (sent.status, sent.send_attempts) == (ProposalStatus.SENT, 2)
    assert len(cmms_sim.posts("/work_requests")) == 1


def test_rejection_posts_nothing(cmms_sim, cmms_client):
    proposal = services.proposal_consider(prediction=low_prediction(value=0.1))
    services.proposals_reject(
        proposals=WorkRequestProposal.objects.all(), user=None, comment="false alarm"
    )
    assert services.proposal_send(proposal_id=proposal.pk, client=cmms_client) is None
    assert WorkRequestProposal.objects.get().status == ProposalStatus.REJECTED
    assert cmms_sim.posts("/work_requests") == []


def test_auto_approval_below_the_second_threshold_only(
    settings, django_capture_on_commit_callbacks
):
    settings.WORK_REQUEST_THRESHOLD = 0.8
    settings.WORK_REQUEST_AUTO_APPROVE_BELOW = 0.3
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        mild = services.proposal_consider(prediction=low_prediction(value=0.6))
        severe = services.proposal_consider(prediction=low_prediction(value=0.2))
    assert mild.status == ProposalStatus.OPEN and not mild.auto_approved
    assert severe.status == ProposalStatus.APPROVED and severe.auto_approved
    assert len(callbacks) == 1  # the send task for the severe one only


def test_auto_approval_is_off_by_default():
    from django.conf import settings

    assert settings.WORK_REQUEST_AUTO_APPROVE_BELOW is None


def test_a_failing_proposal_never_fails_the_job(
    cmms_sim, cmms_client, data_dir, monkeypatch, settings
):
    from predictions import services as prediction_services
    from predictions.models import JobStatus
    from tests.predictions.test_pipeline import seed_job

    def explode(**kwargs):
        raise RuntimeError("threshold table on fire")

    monkeypatch.setattr("workrequests.receivers.proposal_consider", explode)
    job = seed_job()
    prediction_services.job_run(job_id=job.pk, client=cmms_client)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_a_done_job_below_the_threshold_leaves_an_open_proposal(
    cmms_sim, cmms_client, data_dir, settings
):
    from predictions import services as prediction_services
    from tests.predictions.test_pipeline import seed_job

    settings.WORK_REQUEST_THRESHOLD = 0.95
    job = seed_job()
    prediction_services.job_run(job_id=job.pk, client=cmms_client)
    proposal = WorkRequestProposal.objects.get()
    assert proposal.prediction.job == job
    assert proposal.predicted_reliability == 0.9
    assert FailureType.objects.count() == 0 and proposal.failure_type is None
