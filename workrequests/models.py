"""Reliability thresholds and the work-request proposals made when a prediction falls below."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from cmms.models import Asset, FailureType
from predictions.models import ApiClient, AssetFailureType, Prediction


class ReliabilityThreshold(models.Model):
    """A planner's threshold for an asset failure type or a failure type (most specific wins).

    Without one, the global WORK_REQUEST_THRESHOLD setting applies.
    """

    asset_failure_type = models.OneToOneField(
        AssetFailureType, null=True, blank=True, on_delete=models.CASCADE, related_name="threshold"
    )
    failure_type = models.OneToOneField(
        FailureType, null=True, blank=True, on_delete=models.CASCADE, related_name="threshold"
    )
    threshold = models.FloatField(help_text="Propose a work request below this reliability.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(asset_failure_type__isnull=False) & Q(failure_type__isnull=True))
                | (Q(asset_failure_type__isnull=True) & Q(failure_type__isnull=False)),
                name="threshold_one_scope",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(threshold__lte=1), name="threshold_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_failure_type or self.failure_type}: {self.threshold}"


class ProposalStatus(models.TextChoices):
    """A proposal's life: open → approved → sent, or open → rejected; failed sends retry."""

    OPEN = "open", "Open"
    APPROVED = "approved", "Approved (sending)"
    SENT = "sent", "Sent to the CMMS"
    FAILED = "failed", "Send failed"
    REJECTED = "rejected", "Rejected"


ACTIVE_STATUSES = (ProposalStatus.OPEN, ProposalStatus.APPROVED, ProposalStatus.FAILED)


class WorkRequestProposal(models.Model):
    """dtwin proposes a work request; a planner approves it; it is posted to the CMMS once.

    At most one active (open, approved or failed) proposal per asset and failure type.
    """

    proposal_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="work_proposals")
    failure_type = models.ForeignKey(
        FailureType, null=True, blank=True, on_delete=models.CASCADE, related_name="work_proposals"
    )
    prediction = models.ForeignKey(
        Prediction, on_delete=models.PROTECT, related_name="work_proposals"
    )
    client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_proposals"
    )
    predicted_reliability = models.FloatField()
    threshold = models.FloatField()
    threshold_scope = models.CharField(max_length=32, help_text="Which threshold applied.")
    reason = models.TextField()
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    comment = models.TextField(blank=True, help_text="The planner's comment on the decision.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    auto_approved = models.BooleanField(default=False)
    work_request_id = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["predicted_reliability", "created_at"]
        permissions = [("decide_workrequestproposal", "Can approve or reject work requests")]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "failure_type"],
                condition=Q(status__in=["open", "approved", "failed"]),
                nulls_distinct=False,
                name="one_active_proposal_per_asset_failure_type",
            )
        ]
        indexes = [models.Index(fields=["client", "status"], name="proposal_client_status_idx")]
        verbose_name = "work request proposal"

    def __str__(self) -> str:
        what = self.failure_type.name if self.failure_type else "asset"
        return f"{self.asset} / {what}: {self.predicted_reliability:.3f} < {self.threshold}"
