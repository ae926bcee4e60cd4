"""cmms.services: master data from the DB, else from the CMMS simulator over HTTP."""

import threading
import uuid

import pytest
from django.db import connection

from cmms import services
from cmms.models import Asset, AssetMaintenanceList, FailureType, OperationMaintenanceList

pytestmark = pytest.mark.django_db

SEED_ASSET = uuid.UUID("06fcd7d5-1fc6-4bc6-b00d-da274663d98d")
SEED_FT = uuid.UUID("702ab05a-7427-4a36-a298-0331bd56510a")
SEED_OP = uuid.UUID("06fad7d5-1fc6-4bd6-b00d-da274663d88a")
OP_WITH_THREE_LISTS = uuid.UUID("42dda519-5ee2-4848-b997-c58b2804b61b")
OP_WITHOUT_LISTS = uuid.UUID("26480887-53d3-408b-b0db-7a3b792dfe02")


def test_it_fetches_a_missing_asset_once_and_then_reads_the_db(cmms_sim, cmms_client):
    asset = services.asset_ensure(asset_id=SEED_ASSET, client=cmms_client)
    assert asset.name == "Feed pump P-101"
    assert Asset.objects.filter(pk=SEED_ASSET).exists()
    calls = cmms_sim.request_count(f"/assets/{SEED_ASSET}")
    assert services.asset_ensure(asset_id=SEED_ASSET, client=cmms_client) == asset
    assert cmms_sim.request_count(f"/assets/{SEED_ASSET}") == calls == 1


def test_an_unknown_asset_is_missing_master_data(cmms_client):
    unknown = uuid.uuid4()
    with pytest.raises(services.MasterDataMissing, match=f"Asset {unknown} not found in DB/CMMS"):
        services.asset_ensure(asset_id=unknown, client=cmms_client)
    assert not Asset.objects.exists()


def test_it_fetches_a_failure_type_and_names_a_missing_one(cmms_client):
    assert (
        services.failure_type_ensure(failure_type_id=SEED_FT, client=cmms_client).name
        == "Bearing wear"
    )
    assert FailureType.objects.count() == 1
    with pytest.raises(services.MasterDataMissing, match=r"Failure type .* not found"):
        services.failure_type_ensure(failure_type_id=uuid.uuid4(), client=cmms_client)


def test_operation_lists_follow_pagination_and_are_stored(cmms_sim, cmms_client):
    ids = services.operation_maintenance_lists_ensure(
        operation_id=OP_WITH_THREE_LISTS, client=cmms_client
    )
    assert len(ids) == 3  # page size 2: two pages
    assert OperationMaintenanceList.objects.filter(operation_id=OP_WITH_THREE_LISTS).count() == 3
    again = services.operation_maintenance_lists_ensure(
        operation_id=OP_WITH_THREE_LISTS, client=cmms_client
    )
    assert set(again) == set(ids)
    assert cmms_sim.request_count(f"/operations/{OP_WITH_THREE_LISTS}/maintenance_lists") == 2


def test_an_operation_without_lists_or_unknown_is_missing(cmms_client):
    with pytest.raises(services.MasterDataMissing, match="has no maintenance lists"):
        services.operation_maintenance_lists_ensure(
            operation_id=OP_WITHOUT_LISTS, client=cmms_client
        )
    with pytest.raises(services.MasterDataMissing, match="not found in DB/CMMS"):
        services.operation_maintenance_lists_ensure(operation_id=uuid.uuid4(), client=cmms_client)


def test_asset_maintenance_lists_are_fetched_when_missing(cmms_client):
    asset = services.asset_ensure(asset_id=SEED_ASSET, client=cmms_client)
    links = services.asset_maintenance_lists_ensure(asset=asset, client=cmms_client)
    assert len(links) == 3
    assert AssetMaintenanceList.objects.filter(asset=asset).count() == 3


def test_a_cmms_outage_is_not_mistaken_for_missing_data(cmms_sim, cmms_client):
    from cmms.client import CmmsError

    cmms_sim.add_fault(method="GET", path=".*", status=503)
    with pytest.raises(CmmsError) as caught:
        services.asset_ensure(asset_id=SEED_ASSET, client=cmms_client)
    assert caught.value.transient


@pytest.mark.django_db(transaction=True)
def test_ensure_steps_run_concurrently_store_each_row_once(cmms_sim):
    from cmms.client import CmmsClient

    errors: list[BaseException] = []

    def work() -> None:
        client = CmmsClient(base_url=cmms_sim.base_url, token="test-cmms-token", backoff_factor=0)
        try:
            asset = services.asset_ensure(asset_id=SEED_ASSET, client=client)
            services.operation_maintenance_lists_ensure(operation_id=SEED_OP, client=client)
            services.asset_maintenance_lists_ensure(asset=asset, client=client)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Asset.objects.count() == 1
    assert OperationMaintenanceList.objects.filter(operation_id=SEED_OP).count() == 2
    assert AssetMaintenanceList.objects.count() == 3


def test_a_body_cut_short_is_retried_like_any_transient_failure(cmms_sim, cmms_client):
    cmms_sim.add_fault(method="GET", path="^/assets/", truncate=True, status=200, times=1)
    assert services.asset_ensure(asset_id=SEED_ASSET, client=cmms_client).name == "Feed pump P-101"
    assert cmms_sim.request_count(f"/assets/{SEED_ASSET}") == 2


def test_a_body_always_cut_short_ends_transient_after_the_retries(cmms_sim, cmms_client):
    from cmms.client import CmmsError

    cmms_sim.add_fault(method="GET", path="^/assets/", truncate=True, status=200)
    with pytest.raises(CmmsError) as caught:
        services.asset_ensure(asset_id=SEED_ASSET, client=cmms_client)
    assert caught.value.transient
    assert "connection broken while reading the body" in str(caught.value)
    assert cmms_sim.request_count(f"/assets/{SEED_ASSET}") == 3  # max_retries=2 in the fixture
