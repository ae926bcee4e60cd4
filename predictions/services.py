"""The business steps of dtwin: intake of prediction requests and the job's pipeline."""

import contextlib
import csv
import hashlib
import json
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from cmms import services as cmms_services
from cmms.client import CmmsClient, CmmsError, get_client
from cmms.models import Asset, AssetMaintenanceList, FailureType
from cmms.services import MasterDataMissing
from predictions import fitting, reliability
from predictions.models import (
    ApiClient,
    AssetFailureType,
    AssetFailureTypeMaintenanceList,
    EndpointType,
    EtaBeta,
    FailureObservation,
    FitStatus,
    JobStatus,
    ObservationSource,
    ParameterSource,
    Prediction,
    PredictionJob,
    PredictionSource,
    WeibullFit,
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


def job_enqueue(*, job_id: uuid.UUID, broker: Broker | None = None) -> None:
    """Queue the django-q2 task that runs a job (on the caller's transaction)."""
    async_task(JOB_TASK, str(job_id), task_name=f"job {job_id}", broker=broker or get_broker())


class _PackageBroker(Broker):
    """A broker that keeps the signed task instead of sending it: the intake inserts it."""

    def __init__(self, list_key: str) -> None:
        self.list_key = list_key
        self._info = None
        self.package: str | None = None

    def enqueue(self, task: str) -> None:
        self.package = task


def job_task_package(*, job_id: uuid.UUID) -> tuple[str, str] | None:
    """(queue key, signed package) of a job's task, built by django-q2 but not inserted.

    None unless the broker is the ORM one (the intake writes its table) and runs async.
    """
    if Conf.SYNC or Conf.BROKER_CLASS or not Conf.ORM:
        return None
    broker = _PackageBroker(list_key=Conf.CLUSTER_NAME)
    job_enqueue(job_id=job_id, broker=broker)
    return broker.list_key, broker.package


# Raw SQL on the hot path: the ORM's query building costs more than the query itself.
_REPLAY_SQL = "SELECT job_id FROM {table} WHERE client_id = %s AND request_hash = %s"

# One statement, in autocommit: insert the job unless the (client, hash) key exists, insert
# its django-q2 task only if the job row was inserted, and return the job's id either way.
_INSERT_OR_GET_SQL = """
WITH ins AS (
    INSERT INTO {table} (job_id, client_id, request_hash, payload, endpoint_type, status,
                         attempts, error_message, created_at, updated_at)
    VALUES (%s, %s, %s, %s::jsonb, %s, %s, 0, '', %s, %s)
    ON CONFLICT (client_id, request_hash) DO NOTHING
    RETURNING job_id
), task AS (
    INSERT INTO {queue_table} (key, payload, lock)
    SELECT %s, %s, %s FROM ins WHERE %s
    RETURNING id
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
    written by one statement, so both are committed or neither. A replay costs one read; a
    new request that read plus that statement.
    """
    payload = request_canonical_payload(data=data)
    digest = request_hash(endpoint_type=endpoint_type, payload=payload)
    # A replay is answered by one indexed read: no task is built or signed, nothing written.
    with connection.cursor() as cursor:
        cursor.execute(_REPLAY_SQL.format(table=PredictionJob._meta.db_table), [client.pk, digest])
        existing = cursor.fetchone()
    if existing is not None:
        return existing[0], False
    now = timezone.now()
    job_id = uuid.uuid4()
    package = job_task_package(job_id=job_id)
    queue_key, signed = package or ("", "")
    sql = _INSERT_OR_GET_SQL.format(
        table=PredictionJob._meta.db_table, queue_table=OrmQ._meta.db_table
    )
    # A single statement is atomic by itself; the fallback enqueues in a transaction.
    atomic = transaction.atomic() if package is None else contextlib.nullcontext()
    with atomic, connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                job_id,
                client.pk,
                digest,
                json.dumps(payload),
                str(endpoint_type),
                JobStatus.QUEUED,
                now,
                now,
                queue_key,
                signed,
                now,
                package is not None,
                client.pk,
                digest,
            ],
        )
        row = cursor.fetchone()
        if row is not None and row[1]:
            if package is None:
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
    # Keep the objects at hand on the row, so later steps do not load them again.
    aft.asset, aft.failure_type = asset, failure_type
    return aft


def asset_failure_type_maintenance_lists_ensure(
    *, aft: AssetFailureType, asset_maintenance_lists: list[AssetMaintenanceList]
) -> list[AssetFailureTypeMaintenanceList]:
    """AFT ↔ asset-maintenance-list rows for every list of the asset (new ones at 1.0).

    Reads first and inserts only what is missing (ignoring a concurrent insert of the same
    link), so the usual case, every link present, costs one query.
    """
    links = AssetFailureTypeMaintenanceList.objects.filter(asset_failure_type=aft).select_related(
        "asset_maintenance_list"
    )
    existing = list(links)
    have = {link.asset_maintenance_list_id for link in existing}
    missing = [aml for aml in asset_maintenance_lists if aml.pk not in have]
    if not missing:
        return existing
    AssetFailureTypeMaintenanceList.objects.bulk_create(
        [
            AssetFailureTypeMaintenanceList(
                asset_failure_type=aft, asset_maintenance_list=aml, default_reliability=1.0
            )
            for aml in missing
        ],
        ignore_conflicts=True,
    )
    return list(links.all())


def prediction_horizon(*, maintenance_end_time: datetime, days: int) -> datetime:
    """prediction_future_time = maintenance_end_time + the horizon in days."""
    return maintenance_end_time + timedelta(days=days)


def weibull_parameters_for(*, asset: Asset, aft: AssetFailureType | None) -> EtaBeta | None:
    """The Weibull parameters for the AFT (or the asset, without AFT): fitted before manual."""
    owner = {"asset_failure_type": aft} if aft is not None else {"asset": asset}
    rows = {row.source: row for row in EtaBeta.objects.filter(**owner)}
    return rows.get(ParameterSource.FITTED) or rows.get(ParameterSource.MANUAL)


@dataclass(frozen=True, slots=True)
class ReliabilityResult:
    """A computed reliability, the model it came from and, for Weibull, η (hours) and β.

    `conditional_reliability` = R(t) / R(T): surviving to the horizon's age t hours given
    the age T hours already survived at source_sys_time; `failure_probability` = 1 − that.
    Both are None without a Weibull model (a default has no notion of age).
    """

    predicted_reliability: float
    source: PredictionSource
    eta_hours: float | None = None
    beta: float | None = None
    conditional_reliability: float | None = None
    failure_probability: float | None = None


def _hours(delta: timedelta) -> float:
    """A duration in hours."""
    return delta.total_seconds() / 3600


def reliability_compute(
    *,
    asset: Asset,
    aft: AssetFailureType | None,
    job_input: JobInput,
    performed_maintenance_list_ids: set[uuid.UUID],
    prediction_future_time: datetime,
) -> ReliabilityResult:
    """The predicted reliability from the best source: fitted → manual → request → stored.

    Weibull: R(t) with t = prediction_future_time − maintenance_end_time in hours, plus the
    conditional R(t) / R(T) with T = source_sys_time − maintenance_end_time (≥ 0 hours).
    The stored defaults are the AFT ↔ maintenance-list rows of the lists the request's
    operations carried out (on the asset endpoint: of every AFT of the asset).
    """
    horizon_hours = _hours(prediction_future_time - job_input.maintenance_end_time)
    params = weibull_parameters_for(asset=asset, aft=aft)
    if params is not None:
        age_hours = max(0.0, _hours(job_input.source_sys_time - job_input.maintenance_end_time))
        conditional = reliability.clamp_round(
            reliability.weibull_conditional_reliability(
                age_hours=age_hours,
                target_age_hours=horizon_hours,
                eta_hours=params.eta_hours,
                beta=params.beta,
            )
        )
        return ReliabilityResult(
            predicted_reliability=reliability.predict_reliability(
                horizon_hours=horizon_hours, eta_hours=params.eta_hours, beta=params.beta
            ),
            source=PredictionSource(params.source),
            eta_hours=params.eta_hours,
            beta=params.beta,
            conditional_reliability=conditional,
            failure_probability=reliability.clamp_round(1.0 - conditional),
        )
    if job_input.default_reliability is not None:
        return ReliabilityResult(
            predicted_reliability=reliability.predict_reliability(
                horizon_hours=horizon_hours, default_reliability=job_input.default_reliability
            ),
            source=PredictionSource.REQUEST_DEFAULT,
        )
    links = AssetFailureTypeMaintenanceList.objects.filter(
        asset_maintenance_list__maintenance_list_id__in=performed_maintenance_list_ids
    )
    if aft is not None:
        links = links.filter(asset_failure_type=aft)
    else:
        links = links.filter(asset_failure_type__asset=asset)
    return ReliabilityResult(
        predicted_reliability=reliability.predict_reliability(
            horizon_hours=horizon_hours,
            stored_defaults=list(links.values_list("default_reliability", flat=True)),
        ),
        source=PredictionSource.STORED_DEFAULT,
    )


def prediction_store(
    *,
    job: PredictionJob,
    asset: Asset,
    aft: AssetFailureType | None,
    result: ReliabilityResult,
    job_input: JobInput,
    prediction_future_time: datetime,
) -> Prediction:
    """The job's Prediction row with its model's source, η, β: created once per job.

    INSERT … ON CONFLICT DO NOTHING on the unique job key, then read the job's row: a
    concurrent second insert yields the first one's row, and nothing ever raises.
    """
    Prediction.objects.bulk_create(
        [
            Prediction(
                job=job,
                prediction_id=uuid.uuid4(),
                asset=asset,
                asset_failure_type=aft,
                predicted_reliability=result.predicted_reliability,
                source=result.source,
                eta_hours=result.eta_hours,
                beta=result.beta,
                conditional_reliability=result.conditional_reliability,
                failure_probability=result.failure_probability,
                time=job_input.source_sys_time,
                prediction_future_time=prediction_future_time,
            )
        ],
        ignore_conflicts=True,
    )
    return Prediction.objects.select_related("asset_failure_type__failure_type").get(job=job)


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
        failure_observation_from_request(aft=aft, job_input=job_input)
    future_time = prediction_horizon(
        maintenance_end_time=job_input.maintenance_end_time,
        days=settings.PREDICTION_HORIZON_DAYS,
    )
    result = reliability_compute(
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
        result=result,
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


# --- Failure history and Weibull refits ----------------------------------------------------

REFIT_TASK = "predictions.tasks.weibull_refit_task"
# A refit marker older than this is taken as lost (its task died): a new refit may be queued.
REFIT_MARKER_TTL = timedelta(minutes=15)


def failure_observation_key(
    *, aft_id: uuid.UUID, maintenance_end_time: datetime, end_time: datetime, censored: bool
) -> str:
    """SHA-256 of a lifetime's natural key: the same lifetime from any source gets one key."""
    canonical = json.dumps(
        [str(aft_id), _utc_iso(maintenance_end_time), _utc_iso(end_time), bool(censored)],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def failure_observation_record(
    *,
    aft: AssetFailureType,
    maintenance_end_time: datetime,
    end_time: datetime,
    censored: bool,
    source: ObservationSource,
) -> FailureObservation | None:
    """Store one lifetime of the AFT and request a refit; None if it was already stored.

    The lifetime is `end_time − maintenance_end_time` in hours (must be > 0): hours to the
    failure's start, or hours survived when `censored`.
    """
    duration_hours = _hours(end_time - maintenance_end_time)
    if duration_hours <= 0:
        raise ValueError(f"the lifetime must be > 0 hours, not {duration_hours:g}")
    key = failure_observation_key(
        aft_id=aft.pk,
        maintenance_end_time=maintenance_end_time,
        end_time=end_time,
        censored=censored,
    )
    with transaction.atomic():
        observation, created = FailureObservation.objects.get_or_create(
            asset_failure_type=aft,
            source_key=key,
            defaults={
                "duration_hours": duration_hours,
                "censored": censored,
                "maintenance_end_time": maintenance_end_time,
                "end_time": end_time,
                "source": source,
            },
        )
        if not created:
            return None
        weibull_refit_request(aft=aft)
    return observation


def failure_observation_from_request(
    *, aft: AssetFailureType, job_input: JobInput
) -> FailureObservation | None:
    """The request's time to failure, when its failure started after its maintenance ended.

    Only on the failure-type endpoint (a lifetime belongs to one failure mode). A replayed
    or repeated request describes the same lifetime and adds nothing.
    """
    if job_input.failure_start_time <= job_input.maintenance_end_time:
        return None
    return failure_observation_record(
        aft=aft,
        maintenance_end_time=job_input.maintenance_end_time,
        end_time=job_input.failure_start_time,
        censored=False,
        source=ObservationSource.REQUEST,
    )


def weibull_refit_request(*, aft: AssetFailureType) -> bool:
    """Queue a refit of the AFT unless one is already pending (debounce); True if queued.

    Runs in the caller's transaction and locks the AFT's WeibullFit row, so a refit that
    clears the marker sees every observation committed before it.
    """
    now = timezone.now()
    with transaction.atomic():
        WeibullFit.objects.get_or_create(asset_failure_type=aft)
        fit = WeibullFit.objects.select_for_update().get(asset_failure_type=aft)
        pending = fit.refit_requested_at
        if pending is not None and pending > now - REFIT_MARKER_TTL:
            return False
        fit.refit_requested_at = now
        fit.save(update_fields=["refit_requested_at"])
        async_task(REFIT_TASK, str(aft.pk), task_name=f"refit {aft.pk}", broker=get_broker())
    return True


WEIBULL_FIT_RESULT_FIELDS = [
    "status",
    "message",
    "n_failures",
    "n_censored",
    "eta_hours",
    "beta",
    "log_likelihood",
    "confidence_level",
    "eta_lower_hours",
    "eta_upper_hours",
    "beta_lower",
    "beta_upper",
    "fitted_at",
]


def weibull_refit(*, aft_id: uuid.UUID) -> WeibullFit | None:
    """Fit the AFT's failure history; keep EtaBeta(fitted) only when the fit is trusted.

    Trusted: at least fitting.MIN_FAILURES failures and a converged fit. Otherwise the
    fitted parameters are removed, so predictions fall back to the next source.
    """
    aft = AssetFailureType.objects.filter(pk=aft_id).first()
    if aft is None:
        return None
    fit, _ = WeibullFit.objects.get_or_create(asset_failure_type=aft)
    # Clear the marker before reading: a lifetime recorded later queues its own refit.
    WeibullFit.objects.filter(pk=fit.pk).update(refit_requested_at=None)
    rows = list(
        FailureObservation.objects.filter(asset_failure_type=aft).values_list(
            "duration_hours", "censored"
        )
    )
    failures = [hours for hours, censored in rows if not censored]
    censored_hours = [hours for hours, censored in rows if censored]
    try:
        result = fitting.weibull_fit(failure_hours=failures, censored_hours=censored_hours)
    except fitting.FitRefused as exc:
        result = None
        enough = len(failures) >= fitting.MIN_FAILURES
        fit.status = FitStatus.FAILED if enough else FitStatus.TOO_FEW_FAILURES
        fit.message = str(exc)
    else:
        fit.status = FitStatus.FITTED
        fit.message = ""
    fit.n_failures = len(failures)
    fit.n_censored = len(censored_hours)
    fit.eta_hours = result.eta_hours if result else None
    fit.beta = result.beta if result else None
    fit.log_likelihood = result.log_likelihood if result else None
    fit.confidence_level = result.confidence_level if result else fitting.CONFIDENCE_LEVEL
    fit.eta_lower_hours = result.eta_lower_hours if result else None
    fit.eta_upper_hours = result.eta_upper_hours if result else None
    fit.beta_lower = result.beta_lower if result else None
    fit.beta_upper = result.beta_upper if result else None
    fit.fitted_at = timezone.now()
    with transaction.atomic():
        # Not refit_requested_at: a lifetime recorded during the fit may have set it again.
        fit.save(update_fields=WEIBULL_FIT_RESULT_FIELDS)
        if result is None:
            EtaBeta.objects.filter(asset_failure_type=aft, source=ParameterSource.FITTED).delete()
        else:
            EtaBeta.objects.update_or_create(
                asset_failure_type=aft,
                source=ParameterSource.FITTED,
                defaults={"eta_hours": result.eta_hours, "beta": result.beta},
            )
    logger.info(
        "refit %s: %s (%d failures, %d censored)",
        aft.pk,
        fit.status,
        fit.n_failures,
        fit.n_censored,
    )
    return fit


def weibull_refit_all(*, aft_ids: list[uuid.UUID] | None = None) -> list[WeibullFit]:
    """Refit the given AFTs, or every AFT with a failure history."""
    if aft_ids is None:
        aft_ids = list(
            FailureObservation.objects.values_list("asset_failure_type_id", flat=True).distinct()
        )
    fits = [weibull_refit(aft_id=aft_id) for aft_id in aft_ids]
    return [fit for fit in fits if fit is not None]


FAILURE_CSV_COLUMNS = (
    "asset_id",
    "failure_type_id",
    "maintenance_end_time",
    "failure_start_time",
    "censored_at",
)
FAILURE_CSV_MAX_ROWS = 100_000


@dataclass
class FailureImportReport:
    """What a CSV import did: rows stored, rows already known, and row-numbered errors."""

    created: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    aft_ids: set[uuid.UUID] = field(default_factory=set)


def _csv_uuid(value: str, column: str) -> uuid.UUID:
    """A UUID cell, or ValueError naming the column."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise ValueError(f"{column}: not a UUID: {value!r}") from None


def _csv_datetime(value: str, column: str) -> datetime:
    """An ISO-8601 cell as an aware UTC datetime (no offset means UTC)."""
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"{column}: not an ISO-8601 datetime: {value!r}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def failure_observations_import(*, stream: TextIO, dry_run: bool = False) -> FailureImportReport:
    """Import lifetimes from CSV (docs/reliability.md): valid rows stored, the rest reported.

    Columns: asset_id, failure_type_id, maintenance_end_time, and exactly one of
    failure_start_time (a failure) or censored_at (still running then: right-censored).
    Errors name the CSV line (the header is line 1); unknown assets or failure types are
    error rows. Rows already stored (from any source) count as duplicates, not again.
    """
    report = FailureImportReport()
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [c for c in FAILURE_CSV_COLUMNS if c not in header]
    if missing:
        report.errors.append((1, f"missing columns: {', '.join(missing)}"))
        return report
    reader.fieldnames = header
    assets: dict[uuid.UUID, Asset | None] = {}
    failure_types: dict[uuid.UUID, FailureType | None] = {}
    for index, row in enumerate(reader):
        line = reader.line_num
        if index >= FAILURE_CSV_MAX_ROWS:
            report.errors.append((line, f"more than {FAILURE_CSV_MAX_ROWS} rows; rest skipped"))
            break
        try:
            asset_id = _csv_uuid(row.get("asset_id") or "", "asset_id")
            failure_type_id = _csv_uuid(row.get("failure_type_id") or "", "failure_type_id")
            maintenance_end = _csv_datetime(
                row.get("maintenance_end_time") or "", "maintenance_end_time"
            )
            failure_start = (row.get("failure_start_time") or "").strip()
            censored_at = (row.get("censored_at") or "").strip()
            if bool(failure_start) == bool(censored_at):
                raise ValueError("give exactly one of failure_start_time and censored_at")
            censored = bool(censored_at)
            end_time = (
                _csv_datetime(censored_at, "censored_at")
                if censored
                else _csv_datetime(failure_start, "failure_start_time")
            )
            if end_time <= maintenance_end:
                column = "censored_at" if censored else "failure_start_time"
                raise ValueError(f"{column} must be after maintenance_end_time")
            if asset_id not in assets:
                assets[asset_id] = Asset.objects.filter(pk=asset_id).first()
            if failure_type_id not in failure_types:
                failure_types[failure_type_id] = FailureType.objects.filter(
                    pk=failure_type_id
                ).first()
            asset, failure_type = assets[asset_id], failure_types[failure_type_id]
            if asset is None:
                raise ValueError(f"asset_id: unknown asset {asset_id}")
            if failure_type is None:
                raise ValueError(f"failure_type_id: unknown failure type {failure_type_id}")
        except ValueError as exc:
            report.errors.append((line, str(exc)))
            continue
        if dry_run:
            report.created += 1
            continue
        aft = asset_failure_type_ensure(asset=asset, failure_type=failure_type)
        observation = failure_observation_record(
            aft=aft,
            maintenance_end_time=maintenance_end,
            end_time=end_time,
            censored=censored,
            source=ObservationSource.CSV,
        )
        report.aft_ids.add(aft.pk)
        if observation is None:
            report.duplicates += 1
        else:
            report.created += 1
    return report
