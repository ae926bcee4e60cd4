"""Admin pieces for failure history and Weibull fits, for predictions/admin.py to wire in.

- `FailureObservationAdmin`: register it for `FailureObservation`; its changelist has an
  "Import CSV" button (`failure_import_view`, at `<changelist>/import/`).
- `WeibullFitInline`: add to `AssetFailureTypeAdmin.inlines` (fit quality, read-only).
- `refit_weibull_action`: add to `AssetFailureTypeAdmin.actions`.
- `import_failures_from_csv(...)`: the upload → service step, usable from any admin view.
"""

import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from predictions import fitting, services
from predictions.models import FailureObservation, FitStatus, WeibullFit

MAX_REPORTED_ERRORS = 20


class FailureCsvImportForm(forms.Form):
    """Upload of a failure-history CSV (format: docs/reliability.md)."""

    file = forms.FileField(
        help_text="UTF-8 CSV with columns asset_id, failure_type_id, maintenance_end_time, "
        "failure_start_time, censored_at (fill one of the last two per row)."
    )
    dry_run = forms.BooleanField(required=False, help_text="Validate only; store nothing.")


def import_failures_from_csv(
    *, uploaded_file: UploadedFile, dry_run: bool = False
) -> services.FailureImportReport:
    """Import an uploaded CSV of lifetimes; a file that is not UTF-8 is one error row."""
    stream = io.TextIOWrapper(uploaded_file.file, encoding="utf-8-sig", newline="")
    try:
        return services.failure_observations_import(stream=stream, dry_run=dry_run)
    except UnicodeDecodeError:
        report = services.FailureImportReport()
        report.errors.append((0, "the file is not UTF-8 text"))
        return report
    finally:
        stream.detach()


def import_report_messages(
    request: HttpRequest, report: services.FailureImportReport, *, dry_run: bool = False
) -> None:
    """Tell the planner what an import did, with the first row-numbered errors."""
    verb = "valid" if dry_run else "imported"
    level = messages.WARNING if report.errors else messages.SUCCESS
    messages.add_message(
        request,
        level,
        f"{report.created} observation(s) {verb}, {report.duplicates} already known, "
        f"{len(report.errors)} row(s) with errors.",
    )
    for line, message in report.errors[:MAX_REPORTED_ERRORS]:
        messages.error(request, f"Line {line}: {message}")
    if len(report.errors) > MAX_REPORTED_ERRORS:
        messages.error(request, f"… and {len(report.errors) - MAX_REPORTED_ERRORS} more.")


def failure_import_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the upload form; POST: import, report, back to the changelist."""
    if not request.user.has_perm("predictions.add_failureobservation"):
        raise PermissionDenied
    form = FailureCsvImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        dry_run = form.cleaned_data["dry_run"]
        report = import_failures_from_csv(uploaded_file=form.cleaned_data["file"], dry_run=dry_run)
        import_report_messages(request, report, dry_run=dry_run)
        return HttpResponseRedirect(reverse("admin:predictions_failureobservation_changelist"))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Import failure history (CSV)",
        "form": form,
        "min_failures": fitting.MIN_FAILURES,
    }
    return TemplateResponse(request, "admin/predictions/failureobservation/import.html", context)


@admin.action(description="Refit Weibull η, β from the failure history")
def refit_weibull_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    """Admin action on AssetFailureType: refit the selected AFTs now and report each."""
    fits = services.weibull_refit_all(aft_ids=list(queryset.values_list("pk", flat=True)))
    for fit in fits:
        model_admin.message_user(
            request,
            f"{fit.asset_failure_type}: {weibull_fit_summary(fit)}",
            messages.SUCCESS if fit.status == FitStatus.FITTED else messages.WARNING,
        )


def weibull_fit_summary(fit: WeibullFit | None) -> str:
    """One line: fitted η, β with confidence bounds and data size, or why there is no fit."""
    if fit is None or not fit.status:
        return "not fitted yet"
    data = f"{fit.n_failures} failures, {fit.n_censored} censored"
    if fit.status != FitStatus.FITTED:
        return f"{fit.get_status_display()} ({data}): {fit.message}"
    text = f"η={fit.eta_hours:.1f} h, β={fit.beta:.3f} ({data}"
    if fit.log_likelihood is not None:
        text += f", log L={fit.log_likelihood:.2f}"
    text += ")"
    if fit.eta_lower_hours is not None and fit.beta_lower is not None:
        text += (
            f"; {fit.confidence_level:.0%} bounds η {fit.eta_lower_hours:.1f}–"
            f"{fit.eta_upper_hours:.1f} h, β {fit.beta_lower:.3f}–{fit.beta_upper:.3f}"
        )
    return text


class WeibullFitInline(admin.StackedInline):
    """The last fit of this AFT's failure history, read-only."""

    model = WeibullFit
    extra = 0
    can_delete = False
    fields = [*services.WEIBULL_FIT_RESULT_FIELDS, "refit_requested_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FailureObservationAdmin(admin.ModelAdmin):
    """Failure history: lifetimes per AFT, from requests and CSV imports."""

    change_list_template = "admin/predictions/failureobservation/change_list.html"
    list_display = [
        "asset_failure_type",
        "duration_hours",
        "censored",
        "maintenance_end_time",
        "end_time",
        "source",
        "created_at",
    ]
    list_filter = ["censored", "source"]
    list_select_related = ["asset_failure_type__asset", "asset_failure_type__failure_type"]
    search_fields = ["asset_failure_type__asset__name", "asset_failure_type__failure_type__name"]
    readonly_fields = [
        "asset_failure_type",
        "duration_hours",
        "censored",
        "maintenance_end_time",
        "end_time",
        "source",
        "source_key",
        "created_at",
    ]
    fields = readonly_fields

    def get_urls(self) -> list[URLPattern]:
        """The CSV import page next to the changelist."""
        view = self.admin_site.admin_view(self.import_view)
        return [
            path("import/", view, name="predictions_failureobservation_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """See failure_import_view."""
        return failure_import_view(self, request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The changelist, with the import button when the user may import."""
        extra_context = {
            **(extra_context or {}),
            "can_import": request.user.has_perm("predictions.add_failureobservation"),
        }
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Lifetimes come from requests and CSV imports, not from a hand-filled form.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Lifetimes are facts: delete a wrong one and import it again, never edit it.
        return False

    def delete_model(self, request: HttpRequest, obj: FailureObservation) -> None:
        """Delete, then refit the AFT without it."""
        self.delete_queryset(request, FailureObservation.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Delete, then queue a refit of every AFT that lost an observation."""
        afts = {o.asset_failure_type for o in queryset.select_related("asset_failure_type")}
        super().delete_queryset(request, queryset)
        for aft in afts:
            services.weibull_refit_request(aft=aft)


__all__ = [
    "FailureCsvImportForm",
    "FailureObservation",
    "FailureObservationAdmin",
    "WeibullFitInline",
    "failure_import_view",
    "import_failures_from_csv",
    "import_report_messages",
    "refit_weibull_action",
    "weibull_fit_summary",
]
