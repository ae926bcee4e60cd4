"""The admin maintenance planners live in: assets, reliability at a glance, jobs to act on."""

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import OuterRef, QuerySet, Subquery, UUIDField
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from cmms.admin import AssetAdmin, PlannerModelAdmin
from cmms.models import Asset, AssetMaintenanceList, FailureType
from predictions import charts, services
from predictions.admin_fitting import (
    FailureObservationAdmin,
    WeibullFitInline,
    refit_weibull_action,
    weibull_fit_summary,
)
from predictions.models import (
    ApiClient,
    ApiToken,
    AssetFailureType,
    AssetFailureTypeMaintenanceList,
    EtaBeta,
    FailureObservation,
    Gamma,
    JobStatus,
    Prediction,
    PredictionJob,
    Sensor,
    SensorFailureType,
)

STATUS_COLOURS = {
    JobStatus.QUEUED: "#718096",
    JobStatus.PROCESSING: "#2b6cb0",
    JobStatus.DONE: "#2f855a",
    JobStatus.NOT_FOUND: "#b7791f",
    JobStatus.ERROR: "#c53030",
}


def admin_link(obj: Any, text: str | None = None) -> SafeString | str:
    """A link to an object's admin change page."""
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def changelist_link(model: type, text: str, **params: Any) -> SafeString:
    """A link to a model's filtered admin list."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(params), text)


def status_badge(status: str) -> SafeString:
    """A job status as a coloured badge."""
    colour = STATUS_COLOURS.get(status, "#4a5568")
    label = JobStatus(status).label if status in JobStatus.values else status
    return format_html(
        '<span class="job-status job-status-{}" style="background:{};color:#fff;'
        'padding:1px 7px;border-radius:9px;white-space:nowrap">{}</span>',
        status,
        colour,
        label,
    )


def pretty_json(value: Any) -> SafeString:
    """JSON indented in a <pre> block."""
    return format_html(
        '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True),
    )


def duration(start: Any, end: Any) -> str:
    """A short human duration between two datetimes, or a dash."""
    if not start or not end:
        return "—"
    seconds = (end - start).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def reliability_cell(value: float | None) -> SafeString | str:
    """A reliability with a small bar, red below 0.5, amber below 0.8."""
    if value is None:
        return "—"
    colour = "#c53030" if value < 0.5 else "#b7791f" if value < 0.8 else "#2f855a"
    return format_html(
        '<span style="display:inline-block;width:60px;background:#edf2f7;margin-right:6px">'
        '<span style="display:block;height:8px;width:{}px;background:{}"></span></span>{}',
        round(value * 60),
        colour,
        f"{value:.3f}",
    )


# --- Jobs ------------------------------------------------------------------------------------


class PayloadIdFilter(admin.SimpleListFilter):
    """Filter jobs by an id in their payload, offering the mirrored objects by name."""

    model: type = Asset
    key = "asset_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(obj.pk), str(obj)) for obj in self.model.objects.order_by("name")[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        try:
            wanted = str(uuid.UUID(value))
        except ValueError:
            return queryset.none()
        # ->> on the payload key, as the expression indexes on PredictionJob are built.
        return queryset.alias(payload_key=KT(f"payload__{self.key}")).filter(payload_key=wanted)


class JobAssetFilter(PayloadIdFilter):
    """Jobs about one asset."""

    title = "asset"
    parameter_name = "asset"


class JobFailureTypeFilter(PayloadIdFilter):
    """Jobs about one failure type."""

    title = "failure type"
    parameter_name = "failure_type"
    model = FailureType
    key = "failure_type_id"


@admin.register(PredictionJob)
class PredictionJobAdmin(PlannerModelAdmin):
    """Every request and what happened to it; failed ones can be retried."""

    list_display = [
        "short_id",
        "status_display",
        "endpoint_type",
        "asset_display",
        "attempts",
        "created_at",
        "queue_wait",
        "run_time",
        "client",
    ]
    list_display_links = ["short_id"]
    list_filter = [
        "status",
        "endpoint_type",
        JobAssetFilter,
        JobFailureTypeFilter,
        ("created_at", admin.DateFieldListFilter),
        "client",
    ]
    search_fields = ["=request_hash"]
    list_select_related = ["client"]
    ordering = ["-created_at"]
    actions = ["retry_jobs"]
    fields = [
        "job_id",
        "status_display",
        "endpoint_type",
        "client",
        "asset_display",
        "attempts",
        "error_display",
        "prediction_link",
        "timings",
        "payload_display",
        "request_hash",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Jobs with their asset's name (one subquery, not a query per row)."""
        asset_name = Asset.objects.filter(
            asset_id=Cast(KeyTextTransform("asset_id", OuterRef("payload")), UUIDField())
        ).values("name")[:1]
        return super().get_queryset(request).annotate(asset_name=Subquery(asset_name))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """A UUID finds the job, its prediction, or its asset's jobs; other text the hash."""
        term = search_term.strip()
        try:
            value = uuid.UUID(term)
        except ValueError:
            return super(PlannerModelAdmin, self).get_search_results(
                request, queryset, term.lower()
            )
        return (
            queryset.filter(job_id=value)
            | queryset.filter(prediction_id=value)
            | queryset.alias(asset_key=KT("payload__asset_id")).filter(asset_key=str(value)),
            False,
        )

    @admin.display(description="job", ordering="job_id")
    def short_id(self, job: PredictionJob) -> str:
        return str(job.job_id)[:8] + "…"

    @admin.display(description="status", ordering="status")
    def status_display(self, job: PredictionJob) -> SafeString:
        return status_badge(job.status)

    @admin.display(description="asset")
    def asset_display(self, job: PredictionJob) -> SafeString | str:
        asset_id = (job.payload or {}).get("asset_id")
        if not asset_id:
            return "—"
        name = getattr(job, "asset_name", None) or asset_id
        url = reverse("admin:cmms_asset_change", args=[asset_id])
        return format_html('<a href="{}">{}</a>', url, name)

    @admin.display(description="queued → started")
    def queue_wait(self, job: PredictionJob) -> str:
        return duration(job.created_at, job.started_at)

    @admin.display(description="started → finished")
    def run_time(self, job: PredictionJob) -> str:
        return duration(job.started_at, job.finished_at)

    @admin.display(description="timings")
    def timings(self, job: PredictionJob) -> SafeString:
        rows = [
            ("queued", job.created_at),
            ("last started", job.started_at),
            ("finished", job.finished_at),
            ("last change", job.updated_at),
        ]
        table = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((k, v or "—") for k, v in rows)
        )
        return format_html(
            "<table>{}<tr><th>waited</th><td>{}</td></tr><tr><th>ran</th><td>{}</td></tr></table>",
            table,
            duration(job.created_at, job.started_at),
            duration(job.started_at, job.finished_at),
        )

    @admin.display(description="error")
    def error_display(self, job: PredictionJob) -> SafeString | str:
        if not job.error_message:
            return "—"
        return format_html(
            '<pre class="job-error" style="white-space:pre-wrap;color:#c53030;margin:0">{}</pre>',
            job.error_message,
        )

    @admin.display(description="payload")
    def payload_display(self, job: PredictionJob) -> SafeString:
        return pretty_json(job.payload)

    @admin.display(description="prediction")
    def prediction_link(self, job: PredictionJob) -> SafeString | str:
        prediction = Prediction.objects.filter(job=job).first()
        if prediction is None:
            return "—"
        return admin_link(
            prediction, f"{prediction.prediction_id} ({prediction.predicted_reliability:.3f})"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Planners and superusers may send failed jobs round again."""
        return request.user.has_perm("predictions.retry_predictionjob")

    @admin.action(description="Retry selected failed jobs", permissions=["retry"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Confirm, then requeue `error`/`not_found` jobs (stored predictions are re-sent)."""
        retryable = queryset.filter(status__in=[JobStatus.ERROR, JobStatus.NOT_FOUND])
        skipped = queryset.count() - retryable.count()
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/predictions/predictionjob/retry_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Retry jobs?",
                    "opts": self.model._meta,
                    "jobs": retryable[:100],
                    "count": retryable.count(),
                    "skipped": skipped,
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        requeued = sum(services.job_retry(job=job) for job in retryable)
        if requeued:
            self.message_user(
                request,
                f"Requeued {requeued} job(s); a stored prediction is re-sent with the same id.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} job(s) that were not in error or not found.",
                messages.WARNING,
            )
        if not requeued and not skipped:
            self.message_user(request, "No job was requeued.", messages.WARNING)
        return None


# --- Reliability ------------------------------------------------------------------------------


def history_chart(predictions: QuerySet, title: str) -> SafeString | str:
    """The chart of stored predictions (up to the latest 200)."""
    points = [(p.time, p.predicted_reliability) for p in predictions.order_by("-time")[:200]]
    if not points:
        return "No predictions yet."
    return mark_safe(charts.reliability_history_svg(points, title=title))  # noqa: S308


def weibull_chart(params: EtaBeta | None, title: str) -> SafeString | str:
    """The Weibull curve over the coming weeks, horizon marked, when parameters exist."""
    if params is None:
        return "No Weibull parameters: predictions use default reliabilities."
    horizon_hours = settings.PREDICTION_HORIZON_DAYS * 24
    svg = charts.weibull_curve_svg(
        eta_hours=params.eta_hours, beta=params.beta, horizon_hours=horizon_hours, title=title
    )
    return mark_safe(svg)  # noqa: S308


class AftMaintenanceListInline(admin.TabularInline):
    """The reliability each maintenance list restores for this failure type (editable)."""

    model = AssetFailureTypeMaintenanceList
    extra = 0
    fields = ["asset_maintenance_list", "default_reliability"]
    readonly_fields = ["asset_maintenance_list"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EtaBetaInline(admin.TabularInline):
    """Weibull parameters for this asset failure type."""

    model = EtaBeta
    fk_name = "asset_failure_type"
    extra = 0
    fields = ["source", "eta_hours", "beta", "updated_at"]
    readonly_fields = ["updated_at"]


@admin.register(AssetFailureType)
class AssetFailureTypeAdmin(PlannerModelAdmin):
    """An asset paired with a failure type: its parameters, links, predictions and chart."""

    list_display = ["asset", "failure_type", "latest_reliability", "weibull", "fit"]
    list_select_related = ["asset", "failure_type", "weibull_fit"]
    list_filter = ["failure_type"]
    search_fields = ["asset__name", "failure_type__name"]
    uuid_search_fields = ["aft_id", "asset__asset_id", "failure_type__failure_type_id"]
    ordering = ["asset__name", "failure_type__name"]
    fields = ["asset", "failure_type", "predictions_link", "reliability_chart", "weibull_curve"]
    readonly_fields = fields
    inlines = [EtaBetaInline, WeibullFitInline, AftMaintenanceListInline]
    actions = [refit_weibull_action]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        latest = Prediction.objects.filter(asset_failure_type=OuterRef("pk")).order_by("-time")
        return (
            super()
            .get_queryset(request)
            .annotate(latest_value=Subquery(latest.values("predicted_reliability")[:1]))
        )

    @admin.display(description="latest reliability", ordering="latest_value")
    def latest_reliability(self, aft: AssetFailureType) -> SafeString | str:
        return reliability_cell(getattr(aft, "latest_value", None))

    @admin.display(description="Weibull η, β")
    def weibull(self, aft: AssetFailureType) -> str:
        params = services.weibull_parameters_for(asset=aft.asset, aft=aft)
        return f"η={params.eta_hours:g} h, β={params.beta:g} ({params.source})" if params else "—"

    @admin.display(description="fit from failure history")
    def fit(self, aft: AssetFailureType) -> str:
        return weibull_fit_summary(getattr(aft, "weibull_fit", None))

    @admin.display(description="predictions")
    def predictions_link(self, aft: AssetFailureType) -> SafeString:
        return changelist_link(
            Prediction, "all predictions", asset_failure_type__aft_id__exact=aft.pk
        )

    @admin.display(description="predicted reliability over time")
    def reliability_chart(self, aft: AssetFailureType) -> SafeString | str:
        return history_chart(Prediction.objects.filter(asset_failure_type=aft), f"{aft}")

    @admin.display(description="reliability curve R(t)")
    def weibull_curve(self, aft: AssetFailureType) -> SafeString | str:
        return weibull_chart(services.weibull_parameters_for(asset=aft.asset, aft=aft), str(aft))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class AssetFailureTypeInline(admin.TabularInline):
    """An asset's failure types, linked to their pages."""

    model = AssetFailureType
    extra = 0
    fields = ["failure_type"]
    readonly_fields = ["failure_type"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(Asset)


@admin.register(Asset)
class PlannerAssetAdmin(AssetAdmin):
    """An asset with its failure types, maintenance lists, predictions, jobs and chart."""

    list_display = ["name", "latest_reliability", "asset_id", "fetched_at"]
    fields = [
        "name",
        "asset_id",
        "description",
        "fetched_at",
        "related",
        "reliability_chart",
        "weibull_curve",
    ]
    readonly_fields = fields
    inlines = [AssetFailureTypeInline, *AssetAdmin.inlines]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        latest = Prediction.objects.filter(asset=OuterRef("pk")).order_by("-time")
        return (
            super()
            .get_queryset(request)
            .annotate(latest_value=Subquery(latest.values("predicted_reliability")[:1]))
        )

    @admin.display(description="latest reliability", ordering="latest_value")
    def latest_reliability(self, asset: Asset) -> SafeString | str:
        return reliability_cell(getattr(asset, "latest_value", None))

    @admin.display(description="related")
    def related(self, asset: Asset) -> SafeString:
        return format_html(
            "{} · {} · {} · {}",
            changelist_link(Prediction, "predictions", asset__asset_id__exact=asset.pk),
            changelist_link(PredictionJob, "jobs", asset=asset.pk),
            changelist_link(AssetFailureType, "failure types", asset__asset_id__exact=asset.pk),
            changelist_link(
                AssetMaintenanceList, "maintenance lists", asset__asset_id__exact=asset.pk
            ),
        )

    @admin.display(description="predicted reliability over time")
    def reliability_chart(self, asset: Asset) -> SafeString | str:
        return history_chart(Prediction.objects.filter(asset=asset), asset.name)

    @admin.display(description="reliability curve R(t)")
    def weibull_curve(self, asset: Asset) -> SafeString | str:
        """The asset's own curve, else one per failure type with parameters (up to 3)."""
        own = services.weibull_parameters_for(asset=asset, aft=None)
        if own is not None:
            return weibull_chart(own, asset.name)
        curves = []
        for aft in asset.failure_types.select_related("failure_type", "asset")[:20]:
            params = services.weibull_parameters_for(asset=asset, aft=aft)
            if params is not None:
                curves.append(weibull_chart(params, aft.failure_type.name))
            if len(curves) == 3:
                break
        if not curves:
            return weibull_chart(None, asset.name)
        return format_html_join("", "<div>{}</div>", ((c,) for c in curves))


@admin.register(Prediction)
class PredictionAdmin(PlannerModelAdmin):
    """Stored predictions: read-only, never deleted by planners."""

    list_display = [
        "prediction_id",
        "asset",
        "failure_type",
        "reliability",
        "source",
        "time",
        "prediction_future_time",
        "posted",
    ]
    list_select_related = ["asset", "asset_failure_type__failure_type"]
    list_filter = [
        "asset_failure_type__failure_type",
        "source",
        ("asset", admin.RelatedOnlyFieldListFilter),
        ("time", admin.DateFieldListFilter),
    ]
    search_fields = ["asset__name"]
    uuid_search_fields = ["prediction_id", "job__job_id", "asset__asset_id"]
    ordering = ["-time"]
    date_hierarchy = None
    readonly_fields = [
        "prediction_id",
        "job_link",
        "asset",
        "asset_failure_type",
        "predicted_reliability",
        "source",
        "eta_hours",
        "beta",
        "conditional_reliability",
        "failure_probability",
        "time",
        "prediction_future_time",
        "created_at",
        "cmms_posted_at",
    ]
    fields = readonly_fields

    @admin.display(description="failure type", ordering="asset_failure_type__failure_type__name")
    def failure_type(self, prediction: Prediction) -> str:
        aft = prediction.asset_failure_type
        return aft.failure_type.name if aft else "— (asset)"

    @admin.display(description="reliability", ordering="predicted_reliability")
    def reliability(self, prediction: Prediction) -> SafeString | str:
        return reliability_cell(prediction.predicted_reliability)

    @admin.display(description="posted to CMMS", boolean=True)
    def posted(self, prediction: Prediction) -> bool:
        return prediction.cmms_posted_at is not None

    @admin.display(description="job")
    def job_link(self, prediction: Prediction) -> SafeString | str:
        return admin_link(prediction.job)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AssetFailureTypeMaintenanceList)
class AftMaintenanceListAdmin(PlannerModelAdmin):
    """Default reliabilities per asset failure type and maintenance list."""

    list_display = ["asset_failure_type", "maintenance_list", "default_reliability"]
    list_select_related = [
        "asset_failure_type__asset",
        "asset_failure_type__failure_type",
        "asset_maintenance_list__maintenance_list",
    ]
    list_editable = ["default_reliability"]
    list_filter = ["asset_failure_type__failure_type"]
    search_fields = [
        "asset_failure_type__asset__name",
        "asset_maintenance_list__maintenance_list__name",
    ]
    ordering = ["asset_failure_type__asset__name"]
    readonly_fields = ["asset_failure_type", "asset_maintenance_list"]

    @admin.display(description="maintenance list")
    def maintenance_list(self, link: AssetFailureTypeMaintenanceList) -> str:
        return str(link.asset_maintenance_list.maintenance_list)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(EtaBeta)
class EtaBetaAdmin(PlannerModelAdmin):
    """Weibull parameters (η in hours, β) per asset failure type or asset."""

    list_display = ["owner", "source", "eta_hours", "beta", "updated_at"]
    list_select_related = ["asset", "asset_failure_type__asset", "asset_failure_type__failure_type"]
    list_filter = ["source"]
    search_fields = ["asset__name", "asset_failure_type__asset__name"]
    ordering = ["-updated_at"]
    raw_id_fields = ["asset", "asset_failure_type"]

    @admin.display(description="for")
    def owner(self, params: EtaBeta) -> str:
        return str(params.asset_failure_type or params.asset)


@admin.register(Sensor)
class SensorAdmin(PlannerModelAdmin):
    """Sensors on assets."""

    list_display = ["name", "asset", "unit"]
    list_select_related = ["asset"]
    search_fields = ["name", "asset__name"]
    uuid_search_fields = ["sensor_id", "asset__asset_id"]
    ordering = ["name"]


@admin.register(SensorFailureType)
class SensorFailureTypeAdmin(PlannerModelAdmin):
    """Which sensor indicates which failure type."""

    list_display = ["sensor", "failure_type"]
    list_select_related = ["sensor", "failure_type"]
    search_fields = ["sensor__name", "failure_type__name"]
    ordering = ["sensor__name"]


@admin.register(Gamma)
class GammaAdmin(PlannerModelAdmin):
    """Gamma-process degradation parameters."""

    list_display = ["sensor_failure_type", "shape", "scale", "time"]
    list_select_related = ["sensor_failure_type__sensor", "sensor_failure_type__failure_type"]
    ordering = ["-time"]


@admin.register(ApiClient)
class ApiClientAdmin(PlannerModelAdmin):
    """API clients (plant systems)."""

    list_display = ["name", "is_active", "created_at"]
    search_fields = ["name"]
    ordering = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(PlannerModelAdmin):
    """API tokens: only a prefix is shown; the token itself is never stored."""

    list_display = ["prefix", "client", "created_at", "expires_at", "revoked_at"]
    list_select_related = ["client"]
    list_filter = ["client"]
    ordering = ["-created_at"]
    readonly_fields = ["prefix", "client", "created_at"]
    fields = ["prefix", "client", "created_at", "expires_at", "revoked_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


admin.site.register(FailureObservation, FailureObservationAdmin)
