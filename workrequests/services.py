"""The work-request loop: threshold → proposal → planner decision → one POST to the CMMS."""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from cmms.client import CmmsClient, CmmsError, get_client
from cmms.models import Asset, FailureType
from predictions.models import AssetFailureType, Prediction
from workrequests.models import (
    ProposalStatus,
    ReliabilityThreshold,
    WorkRequestProposal,
)

logger = logging.getLogger(__name__)

SEND_TASK = "workrequests.tasks.proposal_send_task"


def threshold_for(
    *, aft: AssetFailureType | None, failure_type: FailureType | None
) -> tuple[float, str]:
    """The threshold that applies and its scope: AFT, else failure type, else the global one."""
    rows = {}
    query = ReliabilityThreshold.objects.none()
    if aft is not None:
        query = query | ReliabilityThreshold.objects.filter(asset_failure_type=aft)
    if failure_type is not None:
        query = query | ReliabilityThreshold.objects.filter(failure_type=failure_type)
    for row in query:
        rows["aft" if row.asset_failure_type_id else "failure_type"] = row.threshold
    if "aft" in rows:
        return rows["aft"], "asset failure type"
    if "failure_type" in rows:
        return rows["failure_type"], "failure type"
    return settings.WORK_REQUEST_THRESHOLD, "global default"


def _in_cooldown(*, asset: Asset, failure_type: FailureType | None) -> bool:
    """True when a proposal for the pair was sent or rejected within the cooldown."""
    since = timezone.now() - timedelta(days=settings.WORK_REQUEST_COOLDOWN_DAYS)
    recent = WorkRequestProposal.objects.filter(
        asset=asset,
        failure_type=failure_type,
        status__in=[ProposalStatus.SENT, ProposalStatus.REJECTED],
        decided_at__gte=since,
    )
    return recent.exists()


def proposal_consider(*, prediction: Prediction) -> WorkRequestProposal | None:
    """Propose a work request when the prediction is below its threshold.

    None when above the threshold, when an active proposal exists for the asset and failure
    type, or within the cooldown after the last one was sent or rejected. Below the
    auto-approve threshold (if set) the proposal is approved and sent at once.
    """
    aft = prediction.asset_failure_type
    failure_type = aft.failure_type if aft is not None else None
    threshold, scope = threshold_for(aft=aft, failure_type=failure_type)
    value = prediction.predicted_reliability
    if value >= threshold:
        return None
    if _in_cooldown(asset=prediction.asset, failure_type=failure_type):
        return None
    auto_below = settings.WORK_REQUEST_AUTO_APPROVE_BELOW
    auto = auto_below is not None and value < auto_below
    what = failure_type.name if failure_type else "any failure"
    reason = (
        f"Predicted reliability {value:.3f} against {what} by "
        f"{prediction.prediction_future_time:%Y-%m-%d %H:%M} UTC is below the {scope} "
        f"threshold {threshold:g}."
    )
    try:
        with transaction.atomic():
            proposal = WorkRequestProposal.objects.create(
                asset=prediction.asset,
                failure_type=failure_type,
                prediction=prediction,
                client=prediction.job.client if prediction.job_id else None,
                predicted_reliability=value,
                threshold=threshold,
                threshold_scope=scope,
                reason=reason,
                status=ProposalStatus.APPROVED if auto else ProposalStatus.OPEN,
                auto_approved=auto,
                decided_at=timezone.now() if auto else None,
                comment=f"Approved automatically: below {auto_below:g}." if auto else "",
            )
            if auto:
                transaction.on_commit(lambda: proposal_enqueue(proposal_id=proposal.pk))
    except IntegrityError:
        # Another active proposal for the same asset and failure type exists (or just won).
        return None
    return proposal


def proposal_enqueue(*, proposal_id: uuid.UUID) -> None:
    """Queue the task that posts an approved proposal to the CMMS."""
    async_task(SEND_TASK, str(proposal_id), task_name=f"work request {proposal_id}")


def proposals_approve(
    *, proposals: QuerySet, user: AbstractBaseUser | None, comment: str = ""
) -> int:
    """Approve open proposals (and re-send failed ones); each is posted by a task."""
    now = timezone.now()
    approved = 0
    for proposal in proposals.filter(status__in=[ProposalStatus.OPEN, ProposalStatus.FAILED]):
        with transaction.atomic():
            updated = WorkRequestProposal.objects.filter(
                pk=proposal.pk, status__in=[ProposalStatus.OPEN, ProposalStatus.FAILED]
            ).update(
                status=ProposalStatus.APPROVED,
                decided_by=user,
                decided_at=now,
                comment=comment or proposal.comment,
                error_message="",
            )
            if updated:
                transaction.on_commit(lambda pk=proposal.pk: proposal_enqueue(proposal_id=pk))
                approved += updated
    return approved


def proposals_reject(*, proposals: QuerySet, user: AbstractBaseUser | None, comment: str) -> int:
    """Reject open proposals: nothing is posted; the cooldown starts."""
    return proposals.filter(status=ProposalStatus.OPEN).update(
        status=ProposalStatus.REJECTED, decided_by=user, decided_at=timezone.now(), comment=comment
    )


def proposal_send(
    *, proposal_id: uuid.UUID, client: CmmsClient | None = None
) -> WorkRequestProposal | None:
    """POST an approved proposal to the CMMS once (Idempotency-Key = proposal id).

    A second delivery finds it no longer `approved` (or locked) and does nothing; a CMMS that
    answered before but whose answer was lost answers the replayed key with the same id.
    """
    with transaction.atomic():
        proposal = (
            WorkRequestProposal.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("asset", "failure_type", "prediction")
            .filter(pk=proposal_id, status=ProposalStatus.APPROVED)
            .first()
        )
        if proposal is None:
            return None
        proposal.send_attempts += 1
        body = {
            "asset_id": str(proposal.asset_id),
            "failure_type_id": str(proposal.failure_type_id) if proposal.failure_type_id else None,
            "prediction_id": str(proposal.prediction_id),
            "predicted_reliability": proposal.predicted_reliability,
            "description": proposal.reason
            + (f" Planner's comment: {proposal.comment}" if proposal.comment else ""),
        }
        try:
            # The row stays locked during the POST: a concurrent delivery skips it.
            work_request_id = (client or get_client()).post_work_request(
                body, idempotency_key=str(proposal.pk)
            )
        except CmmsError as exc:
            proposal.status = ProposalStatus.FAILED
            proposal.error_message = f"CMMS: {exc}"
            proposal.save(update_fields=["status", "error_message", "send_attempts"])
            logger.warning("work request %s not sent: %s", proposal.pk, exc)
            return proposal
        proposal.status = ProposalStatus.SENT
        proposal.work_request_id = work_request_id
        proposal.sent_at = timezone.now()
        proposal.error_message = ""
        proposal.save(
            update_fields=["status", "work_request_id", "sent_at", "error_message", "send_attempts"]
        )
    return proposal


def proposals_for_client(*, client: object, status: str | None = None) -> QuerySet:
    """A client's own proposals, newest first, optionally of one status."""
    query = WorkRequestProposal.objects.filter(client=client).order_by("-created_at")
    if status:
        query = query.filter(status=status)
    return query
