"""Admin for the master data mirrored from the CMMS: read-only, with a refresh action."""

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from cmms import services
from cmms.client import CmmsError, get_client
from cmms.models import (
    Asset,
    AssetMaintenanceList,
    FailureType,
    MaintenanceList,
    OperationMaintenanceList,
)


class CappedCountPaginator(Paginator):
    """A paginator that never counts more than `cap` rows, so big tables page fast.

    Past the cap the admin shows `cap` rows' worth of pages; narrowing the filter shows the rest.
    """

    cap = 10_000

    @cached_property
    def count(self) -> int:
        query = self.object_list
        if not isinstance(query, QuerySet):
            return len(query)
        if not query.query.where and not query.query.distinct:
            # An unfiltered table: PostgreSQL's estimate is free; count exactly when small.
            estimate = _table_estimate(query.model._meta.db_table)
            if estimate > self.cap:
                return self.cap
        return query.order_by()[: self.cap].count()


def _table_estimate(table: str) -> int:
    """PostgreSQL's row estimate for a table (pg_class.reltuples; -1 when never analysed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def uuid_search(
    queryset: QuerySet, search_term: str, fields: list[str]
) -> tuple[QuerySet, bool] | None:
    """Exact match of a UUID search term on the given id fields; None if the term is no UUID."""
    try:
        value = uuid.UUID(search_term.strip())
    except ValueError:
        return None
    result = queryset.none()
    for field in fields:
        result = result | queryset.filter(**{field: value})
    return result, False


class PlannerModelAdmin(admin.ModelAdmin):
    """Common admin settings: capped counts, no full-table count, UUID search on ids."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts would scan big tables
    list_per_page = 50
    uuid_search_fields: list[str] = []

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """A UUID term matches id fields exactly; other terms use `search_fields`."""
        if search_term and self.uuid_search_fields:
            found = uuid_search(queryset, search_term, self.uuid_search_fields)
            if found is not None:
                return found
        return super().get_search_results(request, queryset, search_term)


class MirroredAdmin(PlannerModelAdmin):
    """Read-only: the CMMS owns this data; planners may only view it (and refresh it)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def refresh_action(
    refresh: Callable[..., Any], id_field: str, label: str
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet], None]:
    """An admin action that refreshes the selected rows from the CMMS."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        client = get_client()
        done, failed = 0, []
        for obj in queryset:
            object_id = getattr(obj, id_field)
            try:
                refresh(**{id_field: object_id, "client": client})
                done += 1
            except (CmmsError, services.MasterDataMissing) as exc:
                failed.append(f"{obj}: {exc}")
        if done:
            modeladmin.message_user(request, f"Refreshed {done} {label} from the CMMS.")
        for failure in failed[:10]:
            modeladmin.message_user(request, f"Not refreshed — {failure}", messages.ERROR)

    action.short_description = f"Refresh selected {label} from the CMMS"  # type: ignore[attr-defined]
    action.__name__ = f"refresh_{label.replace(' ', '_')}"
    return action


class AssetMaintenanceListInline(admin.TabularInline):
    """The asset's maintenance lists."""

    model = AssetMaintenanceList
    extra = 0
    can_delete = False
    fields = ["maintenance_list"]
    readonly_fields = ["maintenance_list"]
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Asset)
class AssetAdmin(MirroredAdmin):
    """Assets as the CMMS knows them."""

    list_display = ["name", "asset_id", "fetched_at"]
    search_fields = ["name", "description"]
    uuid_search_fields = ["asset_id"]
    ordering = ["name"]
    date_hierarchy = None
    inlines = [AssetMaintenanceListInline]
    actions = [refresh_action(services.asset_refresh, "asset_id", "assets")]


@admin.register(FailureType)
class FailureTypeAdmin(MirroredAdmin):
    """Failure types as the CMMS knows them."""

    list_display = ["name", "failure_type_id", "fetched_at"]
    search_fields = ["name", "description"]
    uuid_search_fields = ["failure_type_id"]
    ordering = ["name"]
    actions = [refresh_action(services.failure_type_refresh, "failure_type_id", "failure types")]


@admin.register(MaintenanceList)
class MaintenanceListAdmin(MirroredAdmin):
    """Maintenance lists as the CMMS knows them."""

    list_display = ["name", "maintenance_list_id", "fetched_at"]
    search_fields = ["name", "description"]
    uuid_search_fields = ["maintenance_list_id"]
    ordering = ["name"]
    actions = [
        refresh_action(
            services.maintenance_list_refresh, "maintenance_list_id", "maintenance lists"
        )
    ]


@admin.register(OperationMaintenanceList)
class OperationMaintenanceListAdmin(MirroredAdmin):
    """Which maintenance lists each operation carries out."""

    list_display = ["operation_id", "maintenance_list"]
    list_select_related = ["maintenance_list"]
    search_fields = ["maintenance_list__name"]
    uuid_search_fields = ["operation_id", "maintenance_list__maintenance_list_id"]
    list_filter = ["maintenance_list"]
    ordering = ["operation_id"]


@admin.register(AssetMaintenanceList)
class AssetMaintenanceListAdmin(MirroredAdmin):
    """Which maintenance lists apply to each asset."""

    list_display = ["asset", "maintenance_list"]
    list_select_related = ["asset", "maintenance_list"]
    search_fields = ["asset__name", "maintenance_list__name"]
    uuid_search_fields = ["asset__asset_id", "maintenance_list__maintenance_list_id"]
    list_filter = ["maintenance_list"]
    ordering = ["asset__name", "maintenance_list__name"]
