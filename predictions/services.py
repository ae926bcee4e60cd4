"""The business steps of dtwin: intake of prediction requests and the job's pipeline."""

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from cmms import services as cmms_services
from cmms.client import CmmsClient, CmmsError, get_client
from cmms.models import Asset, AssetMaintenanceList, FailureType
from cmms.services import MasterDataMissing
from predictions import reliability
from predictions.models import (
    ApiClient,
    AssetFailureType,
    AssetFailureTypeMaintenanceList,
    EndpointType,
    EtaBeta,
    JobStatus,
    ParameterSource,
    Prediction,
    PredictionJob,
)
from predictions.signals import prediction_done

logger = logging.getLogger(__name__)

JOB_TASK = "predictions.tasks.job_run_task"


def _utc_iso(value: datetime) -> str:
    """A datetime as UTC ISO-8601 with a Z suffix (the canonical form)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def request_canonical_payload(*, data: dict[str, Any]) -> dict[str, Any]:
    """The validated body in canonical form: lowercase UUIDs, UTC datetimes, floats."""
    payload: dict[str, Any] = {
        "operation_id": [str(op) for op in data["operation_id"]],
        "asset_id": str(data["asset_id"]),
        "failure_start_time": _utc_iso(data["failure_start_time"]),
        "maintenance_end_time": _utc_iso(data["maintenance_end_time"]),
        "source_sys_time": _utc_iso(data["source_sys_time"]),
    }
    if data.get("failure_type_id") is not None:
        payload["failure_type_id"] = str(data["failure_type_id"])
    if data.get("default_reliability") is not None:
        payload["default_reliability"] = [float(v) for v in data["default_reliability"]]
    return payload


def request_hash(*, endpoint_type: str, payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the endpoint type plus the canonical body."""
    canonical = json.dumps(
        {"endpoint_type": endpoint_type, "body": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def job_enqueue(*, job_id: uuid.UUID) -> None:
    """Queue the django-q2 task that runs a job (on the caller's transaction)."""
    async_task(JOB_TASK, str(job_id), task_name=f"job {job_id}", broker=get_broker())


_INSERT_OR_GET_SQL = """
WITH ins AS (
    INSERT INTO {table} (job_id, client_id, request_hash, payload, endpoint_type, status,
                         attempts, error_message, created_at, updated_at)
    VALUES (%s, %s, %s, %s::jsonb, %s, %s, 0, '', %s, %s)
    ON CONFLICT (client_id, request_hash) DO NOTHING
    RETURNING job_id
)
SELECT job_id, TRUE FROM ins
UNION ALL
SELECT job_id, FALSE FROM {table} WHERE client_id = %s AND request_hash = %s
LIMIT 1
"""


def job_create(
    *, client: ApiClient, endpoint_type: EndpointType, data: dict[str, Any]
) -> tuple[uuid.UUID, bool]:
    """Accept a validated request: return (job_id, created).

    The same canonical request from the same client returns the existing job and creates
    nothing, also when identical requests race: the unique (client, request_hash) index
    decides, and the loser reads the winner's row. The job row and its django-q2 task are
    committed in one transaction.
    """
    payload = request_canonical_payload(data=data)
    digest = request_hash(endpoint_type=endpoint_type, payload=payload)
    now = timezone.now()
    sql = _INSERT_OR_GET_SQL.format(table=PredictionJob._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    uuid.uuid4(),
                    client.pk,
                    digest,
                    json.dumps(payload),
                    str(endpoint_type),
                    JobStatus.QUEUED,
                    now,
                    now,
                    client.pk,
                    digest,
                ],
            )
            row = cursor.fetchone()
        if row is not None and row[1]:
            job_enqueue(job_id=row[0])
            return row[0], True
    if row is None:
        # A concurrent request inserted the same hash after this statement's snapshot;
        # ON CONFLICT waited for it to commit, so a fresh read finds it.
        row = (
            PredictionJob.objects.filter(client=client, request_hash=digest)
            .values_list("job_id", flat=True)
            .get(),
            False,
        )
    return row[0], False


def job_get_for_client(*, client: ApiClient, job_id: uuid.UUID) -> PredictionJob | None:
    """The client's own job with its prediction, or None (unknown or another client's)."""
    job = (
        PredictionJob.objects.filter(pk=job_id, client=client).select_related("prediction").first()
    )
    if job is not None:
        job.prediction_or_none = getattr(job, "prediction", None)
    return job


# --- The job's pipeline ---------------------------------------------------------------------


def job_claim(*, job_id: uuid.UUID) -> PredictionJob | None:
    """Claim a job for this worker with FOR UPDATE SKIP LOCKED; None if not claimable.

    Claimable: `queued`, or `processing` with an expired lease (its worker died; django-q2
    redelivers the task). A job claimed JOB_MAX_ATTEMPTS times without finishing ends `error`.
    """
    lease_cutoff = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    with transaction.atomic():
        job = (
            PredictionJob.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=JobStatus.QUEUED)
                | Q(status=JobStatus.PROCESSING, updated_at__lt=lease_cutoff),
                pk=job_id,
            )
            .first()
        )
        if job is None:
            return None
        now = timezone.now()
        if job.status == JobStatus.PROCESSING and job.attempts >= settings.JOB_MAX_ATTEMPTS:
            job.status = JobStatus.ERROR
            job.error_message = _gave_up_message(job.attempts)
            job.finished_at = job.updated_at = now
            job.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
            return None
        job.check_transition(JobStatus.PROCESSING)
        job.status = JobStatus.PROCESSING
        job.attempts += 1
        job.started_at = now
        job.finished_at = None
        job.updated_at = now
        job.save(update_fields=["status", "attempts", "started_at", "finished_at", "updated_at"])
    return job


def _gave_up_message(attempts: int) -> str:
    """The error of a job whose worker stopped every time."""
    return (
        f"Gave up after {attempts} attempts: the worker stopped each time before the job finished."
    )


def job_finish(
    *,
    job: PredictionJob,
    status: JobStatus,
    error_message: str = "",
    prediction_id: uuid.UUID | None = None,
) -> bool:
    """Record the job's final status, unless another worker has taken it over meanwhile."""
    job.check_transition(status)
    now = timezone.now()
    updated = PredictionJob.objects.filter(
        pk=job.pk, status=JobStatus.PROCESSING, attempts=job.attempts
    ).update(
        status=status,
        error_message=error_message[:4000],
        prediction_id=prediction_id,
        finished_at=now,
        updated_at=now,
    )
    if updated:
        job.status, job.error_message, job.prediction_id = status, error_message, prediction_id
        job.finished_at = job.updated_at = now
    else:
        logger.warning("job %s was taken over by another worker; result not recorded", job.pk)
    return bool(updated)


@dataclass(frozen=True, slots=True)
class JobInput:
    """A job's payload, re-validated and typed."""

    endpoint_type: EndpointType
    operation_ids: list[uuid.UUID]
    asset_id: uuid.UUID
    failure_type_id: uuid.UUID | None
    failure_start_time: datetime
    maintenance_end_time: datetime
    source_sys_time: datetime
    default_reliability: list[float] | None


def job_input_parse(*, job: PredictionJob) -> JobInput:
    """Re-validate the stored payload with the endpoint's input serializer."""
    from predictions.serializers import (
        AssetFailureTypePredictInputSerializer,
        AssetPredictInputSerializer,
    )

    endpoint_type = EndpointType(job.endpoint_type)
    serializer_class = (
        AssetPredictInputSerializer
        if endpoint_type == EndpointType.ASSET
        else AssetFailureTypePredictInputSerializer
    )
    serializer = serializer_class(data=job.payload)
    if not serializer.is_valid():
        raise ValueError(f"stored payload is invalid: {json.dumps(serializer.errors)}")
    data = serializer.validated_data
    return JobInput(
        endpoint_type=endpoint_type,
        operation_ids=list(data["operation_id"]),
        asset_id=data["asset_id"],
        failure_type_id=data.get("failure_type_id"),
        failure_start_time=data["failure_start_time"],
        maintenance_end_time=data["maintenance_end_time"],
        source_sys_time=data["source_sys_time"],
        default_reliability=data.get("default_reliability"),
    )


def asset_failure_type_ensure(*, asset: Asset, failure_type: FailureType) -> AssetFailureType:
    """The AFT row for (asset, failure type), created if missing."""
    aft, _ = AssetFailureType.objects.get_or_create(asset=asset, failure_type=failure_type)
    return aft


def asset_failure_type_maintenance_lists_ensure(
    *, aft: AssetFailureType, asset_maintenance_lists: list[AssetMaintenanceList]
) -> list[AssetFailureTypeMaintenanceList]:
    """AFT ↔ asset-maintenance-list rows for every list of the asset (new ones at 1.0)."""
    AssetFailureTypeMaintenanceList.objects.bulk_create(
        [
            AssetFailureTypeMaintenanceList(
                asset_failure_type=aft, asset_maintenance_list=aml, default_reliability=1.0
            )
            for aml in asset_maintenance_lists
        ],
        ignore_conflicts=True,
    )
    return list(
        AssetFailureTypeMaintenanceList.objects.filter(asset_failure_type=aft).select_related(
            "asset_maintenance_list"
        )
    )


def prediction_horizon(*, maintenance_end_time: datetime, days: int) -> datetime:
    """prediction_future_time = maintenance_end_time + the horizon in days."""
    return maintenance_end_time + timedelta(days=days)


def weibull_parameters_for(*, asset: Asset, aft: AssetFailureType | None) -> EtaBeta | None:
    """The Weibull parameters for the AFT (or the asset, without AFT): fitted before manual."""
    owner = {"asset_failure_type": aft} if aft is not None else {"asset": asset}
    rows = {row.source: row for row in EtaBeta.objects.filter(**owner)}
    return rows.get(ParameterSource.FITTED) or rows.get(ParameterSource.MANUAL)


def reliability_compute(
    *,
    asset: Asset,
    aft: AssetFailureType | None,
    job_input: JobInput,
    performed_maintenance_list_ids: set[uuid.UUID],
    prediction_future_time: datetime,
) -> float:
    """The predicted reliability, from the best source (see reliability.predict_reliability).

    The stored defaults are the AFT ↔ maintenance-list rows of the lists the request's
    operations carried out (on the asset endpoint: of every AFT of the asset).
    """
    horizon_hours = (prediction_future_time - job_input.maintenance_end_time).total_seconds() / 3600
    params = weibull_parameters_for(asset=asset, aft=aft)
    stored: list[float] = []
    if params is None and job_input.default_reliability is None:
        links = AssetFailureTypeMaintenanceList.objects.filter(
            asset_maintenance_list__maintenance_list_id__in=performed_maintenance_list_ids
        )
        if aft is not None:
            links = links.filter(asset_failure_type=aft)
        else:
            links = links.filter(asset_failure_type__asset=asset)
        stored = list(links.values_list("default_reliability", flat=True))
    return reliability.predict_reliability(
        horizon_hours=horizon_hours,
        eta_hours=params.eta_hours if params else None,
        beta=params.beta if params else None,
        default_reliability=job_input.default_reliability,
        stored_defaults=stored,
    )


def prediction_store(
    *,
    job: PredictionJob,
    asset: Asset,
    aft: AssetFailureType | None,
    predicted_reliability: float,
    job_input: JobInput,
    prediction_future_time: datetime,
) -> Prediction:
    """The job's Prediction row: created once (a job has at most one, by a unique key)."""
    prediction, _ = Prediction.objects.get_or_create(
        job=job,
        defaults={
            "prediction_id": uuid.uuid4(),
            "asset": asset,
            "asset_failure_type": aft,
            "predicted_reliability": predicted_reliability,
            "time": job_input.source_sys_time,
            "prediction_future_time": prediction_future_time,
        },
    )
    return prediction


def prediction_document(*, prediction: Prediction) -> dict[str, Any]:
    """The prediction as the CMMS contract and the JSON file describe it."""
    aft = prediction.asset_failure_type
    return {
        "prediction_id": str(prediction.prediction_id),
        "predicted_reliability": prediction.predicted_reliability,
        "asset_id": str(prediction.asset_id),
        "failure_type_id": str(aft.failure_type_id) if aft is not None else None,
        "prediction_future_time": _utc_iso(prediction.prediction_future_time),
        "source_sys_time": _utc_iso(prediction.time),
    }


def prediction_file_write(*, prediction: Prediction, data_dir: Path) -> Path:
    """Write <DATA_DIR>/<prediction_id>.json atomically: temp file, fsync, rename, fsync dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{prediction.prediction_id}.json"
    content = json.dumps(prediction_document(prediction=prediction), indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{prediction.prediction_id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def prediction_post(*, prediction: Prediction, endpoint_type: str, client: CmmsClient) -> None:
    """POST the prediction to the CMMS with Idempotency-Key = prediction_id (replays are safe)."""
    document = prediction_document(prediction=prediction)
    key = str(prediction.prediction_id)
    if endpoint_type == EndpointType.ASSET:
        client.post_asset_prediction(document, idempotency_key=key)
    else:
        client.post_asset_failure_type_prediction(document, idempotency_key=key)
    Prediction.objects.filter(pk=prediction.pk).update(cmms_posted_at=timezone.now())


def job_predict(*, job: PredictionJob, client: CmmsClient) -> Prediction:
    """Steps 1–8 of the spec: master data, horizon, reliability, the stored prediction."""
    job_input = job_input_parse(job=job)
    asset = cmms_services.asset_ensure(asset_id=job_input.asset_id, client=client)
    failure_type = None
    if job_input.endpoint_type == EndpointType.ASSET_FAILURE_TYPE:
        failure_type = cmms_services.failure_type_ensure(
            failure_type_id=job_input.failure_type_id, client=client
        )
    performed: set[uuid.UUID] = set()
    for operation_id in dict.fromkeys(job_input.operation_ids):
        performed.update(
            cmms_services.operation_maintenance_lists_ensure(
                operation_id=operation_id, client=client
            )
        )
    aft = None
    if failure_type is not None:
        aft = asset_failure_type_ensure(asset=asset, failure_type=failure_type)
    asset_lists = cmms_services.asset_maintenance_lists_ensure(asset=asset, client=client)
    if aft is not None:
        asset_failure_type_maintenance_lists_ensure(aft=aft, asset_maintenance_lists=asset_lists)
    future_time = prediction_horizon(
        maintenance_end_time=job_input.maintenance_end_time,
        days=settings.PREDICTION_HORIZON_DAYS,
    )
    value = reliability_compute(
        asset=asset,
        aft=aft,
        job_input=job_input,
        performed_maintenance_list_ids=performed,
        prediction_future_time=future_time,
    )
    return prediction_store(
        job=job,
        asset=asset,
        aft=aft,
        predicted_reliability=value,
        job_input=job_input,
        prediction_future_time=future_time,
    )


def job_run(*, job_id: uuid.UUID, client: CmmsClient | None = None) -> PredictionJob | None:
    """Claim and run a job to a final status; None when it was not claimable.

    A job that already has a prediction (its CMMS POST failed, or its worker died after
    storing it) re-sends that same prediction instead of computing a new one.
    """
    job = job_claim(job_id=job_id)
    if job is None:
        return None
    client = client or get_client()
    try:
        prediction = Prediction.objects.filter(job=job).select_related("asset_failure_type").first()
        if prediction is None:
            prediction = job_predict(job=job, client=client)
        prediction_file_write(prediction=prediction, data_dir=Path(settings.DATA_DIR))
        if prediction.cmms_posted_at is None:
            prediction_post(prediction=prediction, endpoint_type=job.endpoint_type, client=client)
    except MasterDataMissing as exc:
        job_finish(job=job, status=JobStatus.NOT_FOUND, error_message=str(exc))
    except CmmsError as exc:
        job_finish(job=job, status=JobStatus.ERROR, error_message=f"CMMS: {exc}")
    except Exception as exc:
        logger.exception("job %s failed", job.pk)
        job_finish(job=job, status=JobStatus.ERROR, error_message=f"{type(exc).__name__}: {exc}")
    else:
        if job_finish(job=job, status=JobStatus.DONE, prediction_id=prediction.prediction_id):
            prediction_done.send(sender=PredictionJob, prediction=prediction)
    return job


def job_retry(*, job: PredictionJob) -> bool:
    """Send a `not_found`/`error` job round again; a stored prediction is re-sent, not redone."""
    job.check_transition(JobStatus.QUEUED)
    with transaction.atomic():
        updated = PredictionJob.objects.filter(
            pk=job.pk, status__in=[JobStatus.NOT_FOUND, JobStatus.ERROR]
        ).update(status=JobStatus.QUEUED, error_message="", updated_at=timezone.now())
        if updated:
            job_enqueue(job_id=job.pk)
    return bool(updated)


def jobs_requeue_stale(*, batch: int = 500) -> int:
    """Requeue jobs whose worker died (lease expired) and queued jobs whose task was lost.

    A job claimed JOB_MAX_ATTEMPTS times without finishing ends `error`. Re-enqueueing a job
    whose task is in fact still queued is harmless: the second delivery claims nothing.
    """
    now = timezone.now()
    lease_cutoff = now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    lost_cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)
    count = 0
    with transaction.atomic():
        stale = list(
            PredictionJob.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.PROCESSING, updated_at__lt=lease_cutoff)
            .order_by("updated_at")[:batch]
        )
        for job in stale:
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                job.status = JobStatus.ERROR
                job.error_message = _gave_up_message(job.attempts)
                job.finished_at = now
            else:
                job.status = JobStatus.QUEUED
                job_enqueue(job_id=job.pk)
            job.updated_at = now
            job.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
            count += 1
        lost = list(
            PredictionJob.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.QUEUED, updated_at__lt=lost_cutoff)
            .order_by("updated_at")[:batch]
        )
        for job in lost:
            job_enqueue(job_id=job.pk)
            job.updated_at = now
            job.save(update_fields=["updated_at"])
            count += 1
    if count:
        logger.info("requeued %d stale jobs", count)
    return count
