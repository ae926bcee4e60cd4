"""GET /work_requests: what dtwin proposed and sent for the calling client."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from predictions.serializers import ErrorSerializer
from workrequests import services
from workrequests.models import ProposalStatus


class WorkRequestOutputSerializer(serializers.Serializer):
    """A proposal as a plant system sees it."""

    proposal_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ProposalStatus.choices)
    asset_id = serializers.UUIDField()
    failure_type_id = serializers.UUIDField(allow_null=True)
    prediction_id = serializers.UUIDField()
    predicted_reliability = serializers.FloatField()
    threshold = serializers.FloatField()
    reason = serializers.CharField()
    comment = serializers.CharField(allow_blank=True)
    work_request_id = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)


class StatusQuerySerializer(serializers.Serializer):
    """Query parameters of GET /work_requests."""

    status = serializers.ChoiceField(choices=ProposalStatus.choices, required=False)


class WorkRequestPagination(LimitOffsetPagination):
    """`?limit=&offset=`, at most 100 a page."""

    default_limit = 50
    max_limit = 100


class WorkRequestListView(ListAPIView):
    """GET /work_requests."""

    serializer_class = WorkRequestOutputSerializer
    pagination_class = WorkRequestPagination

    def get_queryset(self) -> QuerySet:
        query = StatusQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return services.proposals_for_client(
            client=self.request.user, status=query.validated_data.get("status")
        )

    @extend_schema(
        operation_id="work_requests_list",
        summary="Work requests proposed and sent for your predictions",
        parameters=[OpenApiParameter("status", str, enum=ProposalStatus.values, required=False)],
        responses={
            200: WorkRequestOutputSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="Unknown status."),
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid token."),
        },
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)
