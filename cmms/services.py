"""Master data from the DB, else fetched from the CMMS and stored (safe to run concurrently)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from cmms.client import CmmsClient, CmmsError, CmmsMaintenanceList
from cmms.models import (
    Asset,
    AssetMaintenanceList,
    FailureType,
    MaintenanceList,
    OperationMaintenanceList,
)


class MasterDataMissing(Exception):
    """The CMMS does not know an id a request named (the job ends `not_found`)."""


@contextmanager
def _not_found_as_missing(message: str) -> Iterator[None]:
    """Turn the CMMS's not-found answer into MasterDataMissing(message); other errors pass."""
    try:
        yield
    except CmmsError as exc:
        if exc.not_found:
            raise MasterDataMissing(message) from exc
        raise


def _maintenance_lists_store(items: list[CmmsMaintenanceList]) -> list[MaintenanceList]:
    """Upsert maintenance lists as the CMMS sent them; returns the rows in the given order."""
    rows = [
        MaintenanceList(
            maintenance_list_id=item.maintenance_list_id,
            name=item.name,
            description=item.description,
        )
        for item in items
    ]
    MaintenanceList.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["maintenance_list_id"],
        update_fields=["name", "description", "fetched_at"],
    )
    return rows


def asset_ensure(*, asset_id: uuid.UUID, client: CmmsClient) -> Asset:
    """The asset from the DB, else from the CMMS (stored); MasterDataMissing when unknown."""
    asset = Asset.objects.filter(pk=asset_id).first()
    if asset is not None:
        return asset
    return asset_refresh(asset_id=asset_id, client=client)


def asset_refresh(*, asset_id: uuid.UUID, client: CmmsClient) -> Asset:
    """Fetch the asset from the CMMS and store it (insert or update)."""
    with _not_found_as_missing(f"Asset {asset_id} not found in DB/CMMS"):
        data = client.get_asset(asset_id)
    asset, _ = Asset.objects.update_or_create(
        asset_id=data.asset_id, defaults={"name": data.name, "description": data.description}
    )
    return asset


def failure_type_ensure(*, failure_type_id: uuid.UUID, client: CmmsClient) -> FailureType:
    """The failure type from the DB, else from the CMMS; MasterDataMissing when unknown."""
    failure_type = FailureType.objects.filter(pk=failure_type_id).first()
    if failure_type is not None:
        return failure_type
    return failure_type_refresh(failure_type_id=failure_type_id, client=client)


def failure_type_refresh(*, failure_type_id: uuid.UUID, client: CmmsClient) -> FailureType:
    """Fetch the failure type from the CMMS and store it."""
    with _not_found_as_missing(f"Failure type {failure_type_id} not found in DB/CMMS"):
        data = client.get_failure_type(failure_type_id)
    failure_type, _ = FailureType.objects.update_or_create(
        failure_type_id=data.failure_type_id,
        defaults={"name": data.name, "description": data.description},
    )
    return failure_type


def maintenance_list_refresh(
    *, maintenance_list_id: uuid.UUID, client: CmmsClient
) -> MaintenanceList:
    """Fetch one maintenance list from the CMMS and store it."""
    with _not_found_as_missing(f"Maintenance list {maintenance_list_id} not found in CMMS"):
        data = client.get_maintenance_list(maintenance_list_id)
    return _maintenance_lists_store([data])[0]


def operation_maintenance_lists_ensure(
    *, operation_id: uuid.UUID, client: CmmsClient
) -> list[uuid.UUID]:
    """Ids of the maintenance lists an operation carries out: DB, else CMMS (stored).

    MasterDataMissing when the CMMS does not know the operation or it has no lists.
    """
    ids = list(
        OperationMaintenanceList.objects.filter(operation_id=operation_id).values_list(
            "maintenance_list_id", flat=True
        )
    )
    if ids:
        return ids
    with _not_found_as_missing(f"Operation {operation_id} not found in DB/CMMS"):
        items = client.get_operation_maintenance_lists(operation_id)
    if not items:
        raise MasterDataMissing(f"Operation {operation_id} has no maintenance lists in DB/CMMS")
    with transaction.atomic():
        rows = _maintenance_lists_store(items)
        OperationMaintenanceList.objects.bulk_create(
            [
                OperationMaintenanceList(operation_id=operation_id, maintenance_list=ml)
                for ml in rows
            ],
            ignore_conflicts=True,
        )
    return [row.maintenance_list_id for row in rows]


def asset_maintenance_lists_ensure(
    *, asset: Asset, client: CmmsClient
) -> list[AssetMaintenanceList]:
    """The asset's maintenance-list links: DB, else fetched from the CMMS (stored).

    An asset the CMMS gives no lists has none (an empty list, not an error).
    """
    links = list(AssetMaintenanceList.objects.filter(asset=asset))
    if links:
        return links
    with _not_found_as_missing(f"Asset {asset.asset_id} not found in CMMS"):
        items = client.get_asset_maintenance_lists(asset.asset_id)
    if not items:
        return []
    with transaction.atomic():
        rows = _maintenance_lists_store(items)
        AssetMaintenanceList.objects.bulk_create(
            [AssetMaintenanceList(asset=asset, maintenance_list=ml) for ml in rows],
            ignore_conflicts=True,
        )
    return list(AssetMaintenanceList.objects.filter(asset=asset))
