"""The business steps of dtwin: intake of prediction requests and the job's pipeline."""

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from predictions.models import ApiClient, EndpointType, JobStatus, PredictionJob

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
