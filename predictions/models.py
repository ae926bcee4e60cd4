"""Jobs, API clients, the reliability tables and stored predictions."""

import hashlib
import secrets
import uuid
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone

from cmms.models import Asset, AssetMaintenanceList, FailureType


class IllegalTransition(Exception):
    """A job was asked to move to a status its current status does not allow."""


class ApiClient(models.Model):
    """A plant system allowed to call the API. Jobs are scoped to their client."""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # DRF treats the authenticated principal as request.user.
    is_authenticated = True
    is_anonymous = False

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name


def hash_token(raw: str) -> str:
    """SHA-256 hex of a token: tokens are high-entropy, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A client's API token, stored hashed; it may expire or be revoked."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to tell tokens apart."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.client})"

    @classmethod
    def issue(
        cls, *, client: ApiClient, expires_at: datetime | None = None
    ) -> tuple["ApiToken", str]:
        """Create a token for `client`; returns the row and the raw token (shown once)."""
        raw = "dtw_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            client=client, key_hash=hash_token(raw), prefix=raw[:12], expires_at=expires_at
        )
        return token, raw

    def is_usable(self, now: datetime | None = None) -> bool:
        """True while neither revoked nor expired."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class EndpointType(models.TextChoices):
    """Which API endpoint a job came from."""

    ASSET = "asset_predict", "Asset"
    ASSET_FAILURE_TYPE = "asset_failure_type_predict", "Asset + failure type"


class JobStatus(models.TextChoices):
    """Where a job is in its life."""

    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    NOT_FOUND = "not_found", "Not found"
    ERROR = "error", "Error"


FINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.NOT_FOUND, JobStatus.ERROR})


class PredictionJob(models.Model):
    """A prediction request queued for a worker.

    Allowed transitions:
      queued     → processing (a worker claimed it)
      processing → done | not_found | error (the pipeline ended)
      processing → queued (its worker died: the lease expired; the sweeper requeues it)
      processing → processing (lease expired: a redelivered task takes it over)
      not_found | error → queued (a planner or operator retries it)
    `done` is final.
    """

    TRANSITIONS: dict[str, frozenset[str]] = {
        JobStatus.QUEUED: frozenset({JobStatus.PROCESSING}),
        JobStatus.PROCESSING: frozenset(
            {
                JobStatus.DONE,
                JobStatus.NOT_FOUND,
                JobStatus.ERROR,
                JobStatus.QUEUED,
                JobStatus.PROCESSING,
            }
        ),
        JobStatus.NOT_FOUND: frozenset({JobStatus.QUEUED}),
        JobStatus.ERROR: frozenset({JobStatus.QUEUED}),
        JobStatus.DONE: frozenset(),
    }

    job_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="jobs")
    request_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the canonical request; unique per client."
    )
    payload = models.JSONField(help_text="The validated, normalised request body.")
    endpoint_type = models.CharField(max_length=32, choices=EndpointType.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times a worker claimed it."
    )
    prediction_id = models.UUIDField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="Last claim by a worker.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("retry_predictionjob", "Can retry failed prediction jobs")]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "request_hash"], name="uniq_job_client_request_hash"
            )
        ]
        indexes = [
            # The sweeper and the admin look for unfinished jobs; keep that index small.
            models.Index(
                fields=["status", "updated_at"],
                name="job_unfinished_idx",
                condition=Q(status__in=["queued", "processing"]),
            ),
            models.Index(fields=["created_at"], name="job_created_idx"),
            # The admin finds an asset's or a failure type's jobs by the ids in the payload.
            models.Index(KT("payload__asset_id"), name="job_payload_asset_idx"),
            models.Index(KT("payload__failure_type_id"), name="job_payload_failure_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} ({self.status})"

    def check_transition(self, new_status: str) -> None:
        """Raise IllegalTransition unless the job may move from its status to `new_status`."""
        if new_status not in self.TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"job {self.job_id}: {self.status} → {new_status} is not allowed"
            )


class AssetFailureType(models.Model):
    """An asset paired with a way it can fail: what Weibull parameters and predictions hang on."""

    aft_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="failure_types")
    failure_type = models.ForeignKey(
        FailureType, on_delete=models.CASCADE, related_name="asset_failure_types"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "failure_type"], name="uniq_asset_failure_type"
            )
        ]
        verbose_name = "asset failure type"

    def __str__(self) -> str:
        return f"{self.asset} / {self.failure_type}"


class AssetFailureTypeMaintenanceList(models.Model):
    """Link AFT ↔ asset maintenance list, with the reliability that maintenance restores."""

    asset_failure_type = models.ForeignKey(
        AssetFailureType, on_delete=models.CASCADE, related_name="maintenance_links"
    )
    asset_maintenance_list = models.ForeignKey(
        AssetMaintenanceList, on_delete=models.CASCADE, related_name="failure_type_links"
    )
    default_reliability = models.FloatField(default=1.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset_failure_type", "asset_maintenance_list"], name="uniq_aft_aml"
            ),
            models.CheckConstraint(
                condition=Q(default_reliability__gte=0) & Q(default_reliability__lte=1),
                name="aft_aml_reliability_range",
            ),
        ]
        verbose_name = "asset failure type ↔ maintenance list"
        verbose_name_plural = "asset failure type ↔ maintenance lists"

    def __str__(self) -> str:
        return f"{self.asset_failure_type} ↔ {self.asset_maintenance_list.maintenance_list}"


class Sensor(models.Model):
    """A sensor mounted on an asset (condition monitoring)."""

    sensor_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="sensors")
    name = models.CharField(max_length=255)
    unit = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SensorFailureType(models.Model):
    """Link: a sensor whose signal indicates a failure type."""

    sensor = models.ForeignKey(Sensor, on_delete=models.CASCADE, related_name="failure_types")
    failure_type = models.ForeignKey(FailureType, on_delete=models.CASCADE, related_name="sensors")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sensor", "failure_type"], name="uniq_sensor_failure_type"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sensor} → {self.failure_type}"


class Gamma(models.Model):
    """Gamma-process degradation parameters for a sensor and failure type.

    Kept from the seed's schema for the degradation model; the prediction does not use it yet.
    """

    sensor_failure_type = models.ForeignKey(
        SensorFailureType, on_delete=models.CASCADE, related_name="gammas"
    )
    shape = models.FloatField(help_text="Gamma shape α (per hour).")
    scale = models.FloatField(help_text="Gamma scale β (signal units).")
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "gamma parameters"
        verbose_name_plural = "gamma parameters"

    def __str__(self) -> str:
        return f"Γ(α={self.shape}, β={self.scale}) for {self.sensor_failure_type}"


class ParameterSource(models.TextChoices):
    """Where Weibull parameters came from."""

    MANUAL = "manual", "Entered by a planner"
    FITTED = "fitted", "Fitted from failure history"


class EtaBeta(models.Model):
    """Weibull parameters: scale η in hours, shape β; for an AFT or for a whole asset."""

    asset_failure_type = models.ForeignKey(
        AssetFailureType, null=True, blank=True, on_delete=models.CASCADE, related_name="eta_betas"
    )
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="eta_betas"
    )
    eta_hours = models.FloatField(help_text="Weibull scale η, in hours.")
    beta = models.FloatField(help_text="Weibull shape β (dimensionless).")
    source = models.CharField(
        max_length=16, choices=ParameterSource.choices, default=ParameterSource.MANUAL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Weibull parameters (η, β)"
        verbose_name_plural = "Weibull parameters (η, β)"
        constraints = [
            models.CheckConstraint(
                condition=Q(eta_hours__gt=0) & Q(beta__gt=0), name="eta_beta_positive"
            ),
            models.CheckConstraint(
                condition=(Q(asset_failure_type__isnull=False) & Q(asset__isnull=True))
                | (Q(asset_failure_type__isnull=True) & Q(asset__isnull=False)),
                name="eta_beta_one_owner",
            ),
            models.UniqueConstraint(
                fields=["asset_failure_type", "source"],
                condition=Q(asset_failure_type__isnull=False),
                name="uniq_eta_beta_aft_source",
            ),
            models.UniqueConstraint(
                fields=["asset", "source"],
                condition=Q(asset__isnull=False),
                name="uniq_eta_beta_asset_source",
            ),
        ]

    def __str__(self) -> str:
        return f"η={self.eta_hours} h, β={self.beta}"


class ObservationSource(models.TextChoices):
    """Where a failure observation came from."""

    REQUEST = "request", "Prediction request"
    CSV = "csv", "CSV import"


class FailureObservation(models.Model):
    """One lifetime of an AFT after a maintenance: hours to failure, or survived (censored).

    `duration_hours` runs from `maintenance_end_time` to `end_time` (the failure's start,
    or the last time the asset was seen running when `censored`). `source_key` is a hash of
    (AFT, maintenance end, end time, censored): the same lifetime is stored once, whether
    it came from a request (replayed or not) or from a CSV row.
    """

    asset_failure_type = models.ForeignKey(
        AssetFailureType, on_delete=models.CASCADE, related_name="failure_observations"
    )
    duration_hours = models.FloatField(help_text="Hours from maintenance end to end_time.")
    censored = models.BooleanField(
        default=False, help_text="True: still running at end_time (right-censored)."
    )
    maintenance_end_time = models.DateTimeField()
    end_time = models.DateTimeField(help_text="Failure start, or when last seen running.")
    source = models.CharField(max_length=16, choices=ObservationSource.choices)
    source_key = models.CharField(
        max_length=64, editable=False, help_text="SHA-256 of the lifetime's natural key."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["asset_failure_type", "maintenance_end_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset_failure_type", "source_key"], name="uniq_failure_observation"
            ),
            models.CheckConstraint(
                condition=Q(duration_hours__gt=0), name="failure_observation_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        kind = "survived" if self.censored else "failed after"
        return f"{self.asset_failure_type}: {kind} {self.duration_hours:.1f} h"


class FitStatus(models.TextChoices):
    """Outcome of the last Weibull fit of an AFT."""

    FITTED = "fitted", "Fitted"
    TOO_FEW_FAILURES = "too_few_failures", "Too few failures"
    FAILED = "failed", "Fit failed"


class WeibullFit(models.Model):
    """The last Weibull fit of an AFT's failure history and its quality; a refit marker.

    When `status` is `fitted`, the same η, β are in the AFT's `EtaBeta(source=fitted)`.
    `refit_requested_at` is set while a refit task is pending (at most one per AFT).
    """

    asset_failure_type = models.OneToOneField(
        AssetFailureType, on_delete=models.CASCADE, related_name="weibull_fit"
    )
    status = models.CharField(max_length=20, choices=FitStatus.choices, blank=True)
    message = models.TextField(blank=True)
    n_failures = models.PositiveIntegerField(default=0)
    n_censored = models.PositiveIntegerField(default=0)
    eta_hours = models.FloatField(null=True, blank=True, help_text="Fitted scale η, in hours.")
    beta = models.FloatField(null=True, blank=True, help_text="Fitted shape β.")
    log_likelihood = models.FloatField(null=True, blank=True)
    confidence_level = models.FloatField(default=0.95)
    eta_lower_hours = models.FloatField(null=True, blank=True)
    eta_upper_hours = models.FloatField(null=True, blank=True)
    beta_lower = models.FloatField(null=True, blank=True)
    beta_upper = models.FloatField(null=True, blank=True)
    fitted_at = models.DateTimeField(null=True, blank=True)
    refit_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Weibull fit"

    def __str__(self) -> str:
        if self.status == FitStatus.FITTED:
            return f"{self.asset_failure_type}: η={self.eta_hours:.1f} h, β={self.beta:.3f}"
        return f"{self.asset_failure_type}: {self.status or 'never fitted'}"


class PredictionSource(models.TextChoices):
    """Which model gave a prediction, in order of precedence."""

    FITTED = "fitted", "Weibull fitted from failure history"
    MANUAL = "manual", "Weibull entered by a planner"
    REQUEST_DEFAULT = "request_default", "Request's default_reliability"
    STORED_DEFAULT = "stored_default", "Stored AFT ↔ maintenance-list defaults"


class Prediction(models.Model):
    """A computed reliability: stored, written to a file and posted to the CMMS."""

    prediction_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField(
        PredictionJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="prediction"
    )
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="predictions")
    asset_failure_type = models.ForeignKey(
        AssetFailureType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="predictions",
    )
    predicted_reliability = models.FloatField(
        help_text="R(t), t = prediction_future_time − maintenance_end_time (hours)."
    )
    source = models.CharField(
        max_length=16,
        choices=PredictionSource.choices,
        blank=True,
        help_text="The model that gave the value; empty on rows made before it was recorded.",
    )
    eta_hours = models.FloatField(null=True, blank=True, help_text="Weibull η used, in hours.")
    beta = models.FloatField(null=True, blank=True, help_text="Weibull β used.")
    conditional_reliability = models.FloatField(
        null=True,
        blank=True,
        help_text="R(t) / R(T), T = source_sys_time − maintenance_end_time (hours); Weibull only.",
    )
    failure_probability = models.FloatField(
        null=True, blank=True, help_text="1 − conditional_reliability: failure before the horizon."
    )
    time = models.DateTimeField(help_text="The request's source_sys_time.")
    prediction_future_time = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    cmms_posted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the CMMS acknowledged it."
    )

    class Meta:
        ordering = ["-time"]
        indexes = [
            models.Index(fields=["asset", "time"], name="prediction_asset_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(predicted_reliability__gte=0) & Q(predicted_reliability__lte=1),
                name="prediction_reliability_range",
            ),
            models.CheckConstraint(
                condition=Q(conditional_reliability__isnull=True)
                | (Q(conditional_reliability__gte=0) & Q(conditional_reliability__lte=1)),
                name="prediction_conditional_range",
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.prediction_future_time:%Y-%m-%d}"
        return f"{self.asset}: {self.predicted_reliability:.3f} at {when}"
