"""factory-boy factories for the project's models."""

import uuid
from datetime import UTC, datetime, timedelta

import factory

from cmms.models import (
    Asset,
    AssetMaintenanceList,
    FailureType,
    MaintenanceList,
    OperationMaintenanceList,
)
from predictions.models import (
    ApiClient,
    AssetFailureType,
    AssetFailureTypeMaintenanceList,
    EndpointType,
    EtaBeta,
    Prediction,
    PredictionJob,
)


class ApiClientFactory(factory.django.DjangoModelFactory):
    """An API client."""

    class Meta:
        model = ApiClient
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"plant-{n}")


class AssetFactory(factory.django.DjangoModelFactory):
    """A mirrored asset."""

    class Meta:
        model = Asset

    asset_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"Pump P-{100 + n}")
    description = "Centrifugal pump"


class FailureTypeFactory(factory.django.DjangoModelFactory):
    """A mirrored failure type."""

    class Meta:
        model = FailureType

    failure_type_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"Failure mode {n}")


class MaintenanceListFactory(factory.django.DjangoModelFactory):
    """A mirrored maintenance list."""

    class Meta:
        model = MaintenanceList

    maintenance_list_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"Task list {n}")


class OperationMaintenanceListFactory(factory.django.DjangoModelFactory):
    """An operation ↔ maintenance list link."""

    class Meta:
        model = OperationMaintenanceList

    operation_id = factory.LazyFunction(uuid.uuid4)
    maintenance_list = factory.SubFactory(MaintenanceListFactory)


class AssetMaintenanceListFactory(factory.django.DjangoModelFactory):
    """An asset ↔ maintenance list link."""

    class Meta:
        model = AssetMaintenanceList

    asset = factory.SubFactory(AssetFactory)
    maintenance_list = factory.SubFactory(MaintenanceListFactory)


class AssetFailureTypeFactory(factory.django.DjangoModelFactory):
    """An asset failure type."""

    class Meta:
        model = AssetFailureType

    asset = factory.SubFactory(AssetFactory)
    failure_type = factory.SubFactory(FailureTypeFactory)


class AftMaintenanceListFactory(factory.django.DjangoModelFactory):
    """An AFT ↔ asset maintenance list link."""

    class Meta:
        model = AssetFailureTypeMaintenanceList

    asset_failure_type = factory.SubFactory(AssetFailureTypeFactory)
    asset_maintenance_list = factory.SubFactory(
        AssetMaintenanceListFactory, asset=factory.SelfAttribute("..asset_failure_type.asset")
    )
    default_reliability = 1.0


class EtaBetaFactory(factory.django.DjangoModelFactory):
    """Weibull parameters for an AFT."""

    class Meta:
        model = EtaBeta

    asset_failure_type = factory.SubFactory(AssetFailureTypeFactory)
    eta_hours = 1000.0
    beta = 1.5


def request_body(**overrides: object) -> dict:
    """A valid /asset_predict body; pass failure_type_id for the other endpoint."""
    body = {
        "operation_id": [str(uuid.uuid4())],
        "asset_id": str(uuid.uuid4()),
        "failure_start_time": "2025-10-02T10:00:00",
        "maintenance_end_time": "2025-08-16T11:00:00",
        "source_sys_time": "2025-10-16T09:00:00",
        "default_reliability": [0.9],
    }
    body.update(overrides)
    return body


class PredictionJobFactory(factory.django.DjangoModelFactory):
    """A queued job with a valid payload."""

    class Meta:
        model = PredictionJob

    client = factory.SubFactory(ApiClientFactory)
    request_hash = factory.LazyFunction(lambda: uuid.uuid4().hex + uuid.uuid4().hex)
    endpoint_type = EndpointType.ASSET
    payload = factory.LazyFunction(
        lambda: {
            "operation_id": [str(uuid.uuid4())],
            "asset_id": str(uuid.uuid4()),
            "failure_start_time": "2025-10-02T10:00:00Z",
            "maintenance_end_time": "2025-08-16T11:00:00Z",
            "source_sys_time": "2025-10-16T09:00:00Z",
            "default_reliability": [0.9],
        }
    )


class PredictionFactory(factory.django.DjangoModelFactory):
    """A stored prediction."""

    class Meta:
        model = Prediction

    asset = factory.SubFactory(AssetFactory)
    predicted_reliability = 0.9
    time = factory.LazyFunction(lambda: datetime(2025, 10, 16, 9, tzinfo=UTC))
    prediction_future_time = factory.LazyAttribute(lambda o: o.time + timedelta(days=7))


# The seed's example request (../shared/seed/runtime-documentation.md, "Test cases").
SEED_ASSET_ID = "06fcd7d5-1fc6-4bc6-b00d-da274663d98d"
SEED_FAILURE_TYPE_ID = "702ab05a-7427-4a36-a298-0331bd56510a"
SEED_OPERATION_ID = "06fad7d5-1fc6-4bd6-b00d-da274663d88a"
SEED_REQUEST = {
    "operation_id": [SEED_OPERATION_ID],
    "asset_id": SEED_ASSET_ID,
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
    "default_reliability": [0.90],
}
