"""Input and output serializers of the prediction API: strict in, explicit out."""

import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from predictions.models import PredictionSource

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


@extend_schema_field(OpenApiTypes.UUID)
class StrictUUIDField(serializers.Field):
    """A UUID in its canonical 8-4-4-4-12 form, as a JSON string."""

    default_error_messages = {
        "invalid": "Must be a UUID like 06fcd7d5-1fc6-4bc6-b00d-da274663d98d."
    }

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str) or not _UUID_RE.match(data):
            self.fail("invalid")
        return uuid.UUID(data)

    def to_representation(self, value: uuid.UUID) -> str:
        return str(value)


@extend_schema_field(OpenApiTypes.DATETIME)
class StrictDateTimeField(serializers.Field):
    """An ISO-8601 datetime string; a value without offset is UTC. Returns an aware UTC datetime."""

    default_error_messages = {
        "invalid": "Must be an ISO-8601 datetime such as 2025-10-02T10:00:00Z.",
    }

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        try:
            value = parse_datetime(data.strip())
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            self.fail("invalid")

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


@extend_schema_field({"type": "number", "format": "double", "minimum": 0, "maximum": 1})
class StrictFloatField(serializers.Field):
    """A JSON number (not a string, not a boolean), finite, within [min_value, max_value]."""

    default_error_messages = {
        "invalid": "Must be a number.",
        "range": "Must be between {min_value} and {max_value}.",
    }

    def __init__(self, *, min_value: float, max_value: float, **kwargs: Any) -> None:
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        value = float(data)
        if not math.isfinite(value) or not (self.min_value <= value <= self.max_value):
            self.fail("range", min_value=self.min_value, max_value=self.max_value)
        return value

    def to_representation(self, value: float) -> float:
        return value


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not declare, alongside the usual per-field errors."""

    unknown_field_messages: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            for key in data:
                if key not in self.fields:
                    unknown[str(key)] = [self.unknown_field_messages.get(key, "Unknown field.")]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class AssetPredictInputSerializer(StrictSerializer):
    """Body of POST /asset_predict."""

    unknown_field_messages = {
        "failure_type_id": "Not accepted on /asset_predict; use /asset_failure_type_predict."
    }

    operation_id = serializers.ListField(
        child=StrictUUIDField(), min_length=1, max_length=100, allow_empty=False
    )
    asset_id = StrictUUIDField()
    failure_start_time = StrictDateTimeField()
    maintenance_end_time = StrictDateTimeField()
    source_sys_time = StrictDateTimeField()
    default_reliability = serializers.ListField(
        child=StrictFloatField(min_value=0.0, max_value=1.0),
        min_length=1,
        max_length=100,
        allow_empty=False,
        required=False,
        allow_null=True,
        help_text="One value, or one per operation_id; each in [0, 1].",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        defaults = attrs.get("default_reliability")
        if defaults is not None and len(defaults) not in {1, len(attrs["operation_id"])}:
            raise serializers.ValidationError(
                {
                    "default_reliability": [
                        f"Give 1 value or {len(attrs['operation_id'])} (one per operation_id), "
                        f"not {len(defaults)}."
                    ]
                }
            )
        return attrs


class AssetFailureTypePredictInputSerializer(AssetPredictInputSerializer):
    """Body of POST /asset_failure_type_predict."""

    unknown_field_messages: dict[str, str] = {}

    failure_type_id = StrictUUIDField()


class PredictionAcceptedSerializer(serializers.Serializer):
    """202 answer: the job id, named `prediction_id` as in the seed's contract."""

    prediction_id = serializers.UUIDField(help_text="The job id; poll GET /jobs/{job_id}.")


class JobPredictionSerializer(serializers.Serializer):
    """The prediction of a finished job."""

    prediction_id = serializers.UUIDField()
    predicted_reliability = serializers.FloatField(
        help_text="R(t), t = prediction_future_time − maintenance_end_time, in hours."
    )
    prediction_future_time = serializers.DateTimeField()
    source = serializers.ChoiceField(
        choices=PredictionSource.choices,
        allow_blank=True,
        help_text="The model used, in order of precedence: fitted Weibull, planner's Weibull, "
        "the request's default_reliability, the stored defaults. Empty on old predictions.",
    )
    eta_hours = serializers.FloatField(
        allow_null=True, help_text="Weibull scale η in hours (null without Weibull)."
    )
    beta = serializers.FloatField(allow_null=True, help_text="Weibull shape β.")
    conditional_reliability = serializers.FloatField(
        allow_null=True,
        help_text="R(t) / R(T): surviving to prediction_future_time given survival to "
        "source_sys_time (T hours after maintenance_end_time); 1.0 when T ≥ t; Weibull only.",
    )
    failure_probability = serializers.FloatField(
        allow_null=True, help_text="1 − conditional_reliability."
    )


class JobOutputSerializer(serializers.Serializer):
    """GET /jobs/{job_id}: the job as a client needs it."""

    job_id = serializers.UUIDField()
    endpoint_type = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    error_message = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    prediction = serializers.SerializerMethodField()

    @extend_schema_field(JobPredictionSerializer(allow_null=True))
    def get_prediction(self, job: Any) -> dict[str, Any] | None:
        """The prediction once the job is done, else null."""
        prediction = getattr(job, "prediction_or_none", None)
        if job.status != "done" or prediction is None:
            return None
        return JobPredictionSerializer(prediction).data


class ErrorSerializer(serializers.Serializer):
    """Every 4xx/5xx answer of the API."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, on validation errors.",
    )
