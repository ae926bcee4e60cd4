"""The planners' overview page: how the queue is doing and which assets need attention."""

from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from predictions.models import JobStatus, Prediction, PredictionJob

LOWEST_ASSETS = 10
RECENT_ERRORS = 10


def overview_data() -> dict:
    """Job counts by status for the last 24 h, oldest queued job, weakest assets, recent errors."""
    now = timezone.now()
    since = now - timedelta(hours=24)
    counts = dict(
        PredictionJob.objects.filter(created_at__gte=since)
        .values_list("status")
        .annotate(n=Count("job_id"))
        .order_by()
    )
    oldest = (
        PredictionJob.objects.filter(status=JobStatus.QUEUED)
        .order_by("updated_at")
        .values_list("created_at", flat=True)
        .first()
    )
    # The latest prediction of each asset (DISTINCT ON), then the lowest of those.
    latest = (
        Prediction.objects.order_by("asset_id", "-time")
        .distinct("asset_id")
        .values_list("pk", flat=True)
    )
    lowest = list(
        Prediction.objects.filter(pk__in=latest)
        .select_related("asset", "asset_failure_type__failure_type")
        .order_by("predicted_reliability")[:LOWEST_ASSETS]
    )
    errors = list(
        PredictionJob.objects.filter(status__in=[JobStatus.ERROR, JobStatus.NOT_FOUND]).order_by(
            "-updated_at"
        )[:RECENT_ERRORS]
    )
    return {
        "status_counts": [(status, counts.get(status, 0)) for status in JobStatus],
        "total_24h": sum(counts.values()),
        "oldest_queued_age": (now - oldest) if oldest else None,
        "lowest": lowest,
        "recent_errors": errors,
    }


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    """GET /admin/overview/."""
    context = {
        **admin.site.each_context(request),
        "title": "Overview",
        **overview_data(),
    }
    return TemplateResponse(request, "admin/dtwin_overview.html", context)
