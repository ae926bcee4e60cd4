"""Admin for maintenance planners."""

import uuid

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from predictions.models import ApiClient, ApiToken, PredictionJob


@admin.register(PredictionJob)
class PredictionJobAdmin(admin.ModelAdmin):
    """Jobs: filter by status and endpoint, search by job id or request hash."""

    list_display = ["job_id", "endpoint_type", "status", "attempts", "client", "created_at"]
    list_filter = ["status", "endpoint_type"]
    search_fields = ["request_hash"]
    list_select_related = ["client"]
    show_full_result_count = False
    readonly_fields = [f.name for f in PredictionJob._meta.fields]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Exact match on a job or prediction id when the term is a UUID, else on the hash."""
        term = search_term.strip()
        try:
            value = uuid.UUID(term)
        except ValueError:
            return queryset.filter(request_hash=term.lower()) if term else queryset, False
        return queryset.filter(job_id=value) | queryset.filter(prediction_id=value), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """API clients (plant systems)."""

    list_display = ["name", "is_active", "created_at"]
    search_fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: only a prefix is shown; the token itself is never stored."""

    list_display = ["prefix", "client", "created_at", "expires_at", "revoked_at"]
    list_filter = ["client"]
    readonly_fields = ["prefix", "client", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
