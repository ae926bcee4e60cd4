"""HTTP API views: validate → service → respond. No business logic here."""

import logging
import uuid
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from predictions import services
from predictions.models import EndpointType
from predictions.serializers import (
    AssetFailureTypePredictInputSerializer,
    AssetPredictInputSerializer,
    ErrorSerializer,
    JobOutputSerializer,
    PredictionAcceptedSerializer,
)

logger = logging.getLogger(__name__)

DB_RETRY_AFTER_SECONDS = 5


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as JSON: `{"detail": ..., "errors": {field: [messages]}}`."""
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return Response(
            {"detail": "The database is unavailable; retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DatabaseError):
        return None
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            errors = {str(field): _messages(value) for field, value in detail.items()}
        else:
            errors = {"non_field_errors": _messages(detail)}
        response.data = {"detail": "Invalid request.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


def _messages(detail: Any, prefix: str = "") -> list[str]:
    """Flatten DRF's nested error detail (list items by index) into a list of messages."""
    if isinstance(detail, dict):
        return [
            message
            for key, value in detail.items()
            for message in _messages(value, f"{prefix}item {key}: ")
        ]
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item, prefix)]
    return [f"{prefix}{detail}"]


_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid body; per-field messages."),
    401: OpenApiResponse(ErrorSerializer, description="Missing or invalid token."),
    413: OpenApiResponse(ErrorSerializer, description="Body larger than the limit."),
    415: OpenApiResponse(ErrorSerializer, description="Body is not JSON."),
    429: OpenApiResponse(
        ErrorSerializer, description="Too many requests from this client; see Retry-After."
    ),
    503: OpenApiResponse(ErrorSerializer, description="Database unavailable; retry."),
}

_SEED_BODY = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
    "default_reliability": [0.9],
}


class _PredictView(APIView):
    """Shared body of the two prediction endpoints."""

    input_serializer: type[Serializer]
    endpoint_type: EndpointType

    def post(self, request: Request) -> Response:
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job_id, created = services.job_create(
            client=request.user, endpoint_type=self.endpoint_type, data=serializer.validated_data
        )
        location = request.build_absolute_uri(reverse("job-detail", args=[job_id]))
        return Response(
            PredictionAcceptedSerializer({"prediction_id": job_id}).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location, "Idempotent-Replayed": "false" if created else "true"},
        )


class AssetPredictView(_PredictView):
    """POST /asset_predict."""

    input_serializer = AssetPredictInputSerializer
    endpoint_type = EndpointType.ASSET

    @extend_schema(
        operation_id="asset_predict",
        summary="Queue a reliability prediction for an asset",
        request=AssetPredictInputSerializer,
        responses={202: PredictionAcceptedSerializer, **_ERRORS},
        examples=[OpenApiExample("Seed example", value=_SEED_BODY, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class AssetFailureTypePredictView(_PredictView):
    """POST /asset_failure_type_predict."""

    input_serializer = AssetFailureTypePredictInputSerializer
    endpoint_type = EndpointType.ASSET_FAILURE_TYPE

    @extend_schema(
        operation_id="asset_failure_type_predict",
        summary="Queue a reliability prediction for an asset and failure type",
        request=AssetFailureTypePredictInputSerializer,
        responses={202: PredictionAcceptedSerializer, **_ERRORS},
        examples=[
            OpenApiExample(
                "Seed example",
                value={**_SEED_BODY, "failure_type_id": "702ab05a-7427-4a36-a298-0331bd56510a"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class JobDetailView(APIView):
    """GET /jobs/{job_id}."""

    @extend_schema(
        operation_id="job_detail",
        summary="A job's status, and its prediction once done",
        responses={
            200: JobOutputSerializer,
            401: _ERRORS[401],
            404: OpenApiResponse(ErrorSerializer, description="Unknown job, or another client's."),
            429: _ERRORS[429],
            503: _ERRORS[503],
        },
    )
    def get(self, request: Request, job_id: uuid.UUID) -> Response:
        job = services.job_get_for_client(client=request.user, job_id=job_id)
        if job is None:
            raise Http404
        return Response(JobOutputSerializer(job).data)


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """JSON 404 for any URL outside the admin (the URL conf's handler404)."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    """JSON 500 (the URL conf's handler500); the traceback goes to the log only."""
    return JsonResponse({"detail": "Internal server error."}, status=500)
