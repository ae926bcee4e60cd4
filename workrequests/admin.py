"""Planners approve or reject work-request proposals; approved ones are posted to the CMMS."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from cmms.admin import PlannerModelAdmin
from predictions.admin import admin_link, reliability_cell
from workrequests import services
from workrequests.models import ProposalStatus, ReliabilityThreshold, WorkRequestProposal


@admin.register(ReliabilityThreshold)
class ReliabilityThresholdAdmin(PlannerModelAdmin):
    """Thresholds per asset failure type or failure type; the most specific applies."""

    list_display = ["scope", "threshold", "updated_at"]
    list_select_related = [
        "asset_failure_type__asset",
        "asset_failure_type__failure_type",
        "failure_type",
    ]
    list_editable = ["threshold"]
    raw_id_fields = ["asset_failure_type"]
    ordering = ["-updated_at"]

    @admin.display(description="applies to")
    def scope(self, row: ReliabilityThreshold) -> str:
        if row.asset_failure_type_id:
            return f"{row.asset_failure_type} (asset failure type)"
        return f"{row.failure_type} (failure type)"


@admin.register(WorkRequestProposal)
class WorkRequestProposalAdmin(PlannerModelAdmin):
    """Open proposals first, lowest reliability first; approve or reject with a comment."""

    list_display = [
        "asset",
        "failure_type_name",
        "reliability",
        "threshold",
        "status",
        "created_at",
        "work_request_id",
    ]
    list_select_related = ["asset", "failure_type"]
    list_filter = ["status", "failure_type", "auto_approved"]
    search_fields = ["asset__name", "reason", "work_request_id"]
    uuid_search_fields = ["proposal_id", "asset__asset_id", "prediction__prediction_id"]
    actions = ["approve", "reject"]
    fields = [
        "proposal_id",
        "status",
        "asset",
        "failure_type",
        "prediction_link",
        "predicted_reliability",
        "threshold",
        "threshold_scope",
        "reason",
        "comment",
        "decided_by",
        "decided_at",
        "auto_approved",
        "work_request_id",
        "send_attempts",
        "error_message",
        "created_at",
        "sent_at",
    ]
    readonly_fields = fields

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        """Open first, then those in flight, then the rest; lowest reliability first."""
        rank = Case(
            When(status=ProposalStatus.OPEN, then=Value(0)),
            When(status__in=[ProposalStatus.FAILED, ProposalStatus.APPROVED], then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        return [rank.asc(), "predicted_reliability", "-created_at"]

    @admin.display(description="failure type", ordering="failure_type__name")
    def failure_type_name(self, proposal: WorkRequestProposal) -> str:
        return proposal.failure_type.name if proposal.failure_type else "— (asset)"

    @admin.display(description="reliability", ordering="predicted_reliability")
    def reliability(self, proposal: WorkRequestProposal) -> Any:
        return reliability_cell(proposal.predicted_reliability)

    @admin.display(description="prediction")
    def prediction_link(self, proposal: WorkRequestProposal) -> Any:
        return admin_link(proposal.prediction, str(proposal.prediction_id))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        """Planners (and superusers) decide on proposals."""
        return request.user.has_perm("workrequests.decide_workrequestproposal")

    def _decide(
        self, request: HttpRequest, queryset: QuerySet, *, action: str, verb: str
    ) -> HttpResponse | None:
        """Ask for a comment, then approve or reject."""
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/workrequests/decide.html",
                {
                    **self.admin_site.each_context(request),
                    "title": f"{verb} work requests?",
                    "opts": self.model._meta,
                    "verb": verb,
                    "action": action,
                    "proposals": queryset[:100],
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        comment = request.POST.get("comment", "").strip()
        if action == "approve":
            count = services.proposals_approve(
                proposals=queryset, user=request.user, comment=comment
            )
            text = f"Approved {count} proposal(s); each is posted to the CMMS once."
        else:
            count = services.proposals_reject(
                proposals=queryset, user=request.user, comment=comment
            )
            text = f"Rejected {count} proposal(s); nothing was sent."
        self.message_user(request, text, messages.SUCCESS if count else messages.WARNING)
        return None

    @admin.action(description="Approve selected (send to the CMMS)", permissions=["decide"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(request, queryset, action="approve", verb="Approve")

    @admin.action(description="Reject selected", permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._decide(request, queryset, action="reject", verb="Reject")
