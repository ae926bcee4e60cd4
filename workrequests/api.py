"""GET /work_requests: what dtwin proposed and sent for the calling client."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from predictions.serializers import ErrorSerializer, StrictSerializer
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


class StatusQuerySerializer(StrictSerializer):
    """Query parameters of GET /work_requests: unknown or malformed ones get 400."""

    status = serializers.ChoiceField(choices=ProposalStatus.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False)
    offset = serializers.IntegerField(min_value=0, required=False)


class WorkRequestPagination(LimitOffsetPagination):
    """`?limit=&offset=`, at most 100 a page."""

    default_limit = 50
    max_limit = 100

    def get_schema_operation_parameters(self, view: object) -> list[dict]:
        """The bounds the view enforces (a value outside them gets 400)."""
        parameters = super().get_schema_operation_parameters(view)
        bounds = {"limit": {"minimum": 1, "maximum": self.max_limit}, "offset": {"minimum": 0}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class WorkRequestListView(ListAPIView):
    """GET /work_requests."""

    serializer_class = WorkRequestOutputSerializer
    pagination_class = WorkRequestPagination

    def get_queryset(self) -> QuerySet:
        params = self.request.query_params
        repeated = {
            key: ["Give this parameter once."] for key in params if len(params.getlist(key)) > 1
        }
        if repeated:
            raise serializers.ValidationError(repeated)
        # A plain dict: an empty value is invalid, not "absent" as in an HTML form.
        query = StatusQuerySerializer(data=params.dict())
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
            400: OpenApiResponse(ErrorSerializer, description="Unknown status, bad limit/offset."),
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid token."),
        },
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)
