"""The planners' admin: every page renders, lists stay cheap, retry works, permissions hold."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from cmms.models import Asset
from predictions.models import JobStatus, PredictionJob
from predictions.roles import PLANNER_GROUP, planner_group_ensure
from tests.factories import (
    AftMaintenanceListFactory,
    AssetFactory,
    AssetFailureTypeFactory,
    EtaBetaFactory,
    OperationMaintenanceListFactory,
    PredictionFactory,
    PredictionJobFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/predictions/predictionjob/"


@pytest.fixture
def jobs():
    """Three jobs in different states, about a known asset."""
    asset = AssetFactory(name="Feed pump P-101")
    payload = {
        "asset_id": str(asset.pk),
        "operation_id": [],
        "source_sys_time": "2025-10-16T09:00:00Z",
    }
    return [
        PredictionJobFactory(status=JobStatus.QUEUED, payload=payload),
        PredictionJobFactory(status=JobStatus.ERROR, error_message="CMMS: down"),
        PredictionJobFactory(status=JobStatus.DONE, endpoint_type="asset_failure_type_predict"),
    ]


@pytest.fixture
def world(jobs):
    """One of everything, linked: asset, AFT with Weibull parameters, links, predictions."""
    aft = AssetFailureTypeFactory(asset=Asset.objects.get(name="Feed pump P-101"))
    EtaBetaFactory(asset_failure_type=aft, eta_hours=2000, beta=1.8)
    AftMaintenanceListFactory(asset_failure_type=aft)
    OperationMaintenanceListFactory()
    for i, value in enumerate([0.95, 0.9, 0.8]):
        prediction = PredictionFactory(
            asset=aft.asset, asset_failure_type=aft, predicted_reliability=value
        )
        prediction.time = prediction.time.replace(day=1 + i)
        prediction.save()
    from predictions.models import Gamma, Sensor, SensorFailureType

    sensor = Sensor.objects.create(asset=aft.asset, name="Bearing temperature", unit="°C")
    Gamma.objects.create(
        sensor_failure_type=SensorFailureType.objects.create(
            sensor=sensor, failure_type=aft.failure_type
        ),
        shape=0.2,
        scale=1.5,
    )
    from datetime import UTC, datetime

    from predictions.models import ApiToken, FailureObservation, FitStatus, WeibullFit

    ApiToken.issue(client=jobs[0].client)
    FailureObservation.objects.create(
        asset_failure_type=aft,
        duration_hours=1100.0,
        maintenance_end_time=datetime(2025, 1, 1, tzinfo=UTC),
        end_time=datetime(2025, 2, 15, 20, tzinfo=UTC),
        source="csv",
        source_key="a" * 64,
    )
    WeibullFit.objects.create(
        asset_failure_type=aft, status=FitStatus.TOO_FEW_FAILURES, n_failures=1, message="needs 5"
    )
    return aft


def ids_listed(response) -> set[str]:
    """Job ids on a changelist page."""
    return {str(job.pk) for job in response.context["cl"].result_list}


def test_every_registered_models_list_and_change_page_renders(admin_client, world):
    from django.contrib import admin

    for model in admin.site._registry:
        if model._meta.app_label not in {"cmms", "predictions"}:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        listing = admin_client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert listing.status_code == 200, info
        obj = model.objects.first()
        assert obj is not None, f"no factory data for {info}"
        page = admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        assert page.status_code == 200, info


def test_the_overview_shows_counts_the_weakest_asset_and_errors(admin_client, world):
    response = admin_client.get("/admin/overview/")
    assert response.status_code == 200
    html = response.content.decode()
    counts = dict(response.context["status_counts"])
    assert counts[JobStatus.ERROR] == 1 and counts[JobStatus.QUEUED] == 1
    assert response.context["lowest"][0].predicted_reliability == 0.8
    assert "Feed pump P-101" in html and "CMMS: down" in html
    assert "/admin/overview/" in admin_client.get("/admin/").content.decode()


def test_the_asset_and_aft_pages_show_the_charts(admin_client, world):
    asset_page = admin_client.get(
        reverse("admin:cmms_asset_change", args=[world.asset_id])
    ).content.decode()
    assert 'class="dtwin-chart"' in asset_page
    assert "predicted reliability over time" in asset_page.lower()
    aft_page = admin_client.get(
        reverse("admin:predictions_assetfailuretype_change", args=[world.pk])
    ).content.decode()
    assert aft_page.count('class="dtwin-chart"') == 2
    assert "Too few failures" in aft_page
    assert 'class="weibull-curve"' in aft_page and 'class="horizon"' in aft_page


def test_the_job_list_filters_by_status_endpoint_and_asset(admin_client, jobs):
    assert ids_listed(admin_client.get(CHANGELIST)) == {str(j.pk) for j in jobs}
    assert ids_listed(admin_client.get(CHANGELIST + "?status__exact=error")) == {str(jobs[1].pk)}
    response = admin_client.get(CHANGELIST + "?endpoint_type__exact=asset_failure_type_predict")
    assert ids_listed(response) == {str(jobs[2].pk)}
    asset = Asset.objects.get(name="Feed pump P-101")
    assert ids_listed(admin_client.get(CHANGELIST, {"asset": str(asset.pk)})) == {str(jobs[0].pk)}


def test_the_job_list_searches_by_job_id_asset_id_and_hash(admin_client, jobs):
    assert ids_listed(admin_client.get(CHANGELIST, {"q": str(jobs[0].pk).upper()})) == {
        str(jobs[0].pk)
    }
    assert ids_listed(admin_client.get(CHANGELIST, {"q": jobs[1].request_hash})) == {
        str(jobs[1].pk)
    }
    assert ids_listed(admin_client.get(CHANGELIST, {"q": jobs[0].payload["asset_id"]})) == {
        str(jobs[0].pk)
    }
    assert ids_listed(admin_client.get(CHANGELIST, {"q": "nothing"})) == set()


def test_the_job_list_shows_names_and_colours_with_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    asset = AssetFactory(name="Air compressor C-201")
    for _ in range(60):
        PredictionJobFactory(payload={"asset_id": str(asset.pk)}, status=JobStatus.ERROR)
    with django_assert_max_num_queries(14) as captured:
        response = admin_client.get(CHANGELIST)
    html = response.content.decode()
    assert html.count("Air compressor C-201") >= 50
    assert "job-status-error" in html
    assert not any(
        "COUNT(*)" in q["sql"] and "LIMIT" not in q["sql"] for q in captured.captured_queries
    )


def test_a_job_page_shows_pretty_payload_error_and_timings(admin_client, jobs):
    html = admin_client.get(
        reverse("admin:predictions_predictionjob_change", args=[jobs[1].pk])
    ).content.decode()
    assert "CMMS: down" in html and 'class="job-error"' in html
    assert "&quot;asset_id&quot;: " in html  # indented JSON, not a text box
    assert "waited" in html and "ran" in html


def test_the_retry_action_asks_first_then_requeues_failed_jobs_only(admin_client, jobs):
    selected = [str(j.pk) for j in jobs]
    ask = admin_client.post(CHANGELIST, {"action": "retry_jobs", "_selected_action": selected})
    assert ask.status_code == 200
    assert b"Retry <strong>1</strong> failed job" in ask.content
    assert PredictionJob.objects.get(pk=jobs[1].pk).status == JobStatus.ERROR
    done = admin_client.post(
        CHANGELIST,
        {"action": "retry_jobs", "_selected_action": selected, "confirm": "yes"},
        follow=True,
    )
    messages = [str(m) for m in done.context["messages"]]
    assert any("Requeued 1 job" in m for m in messages)
    assert any("Skipped 2 job" in m for m in messages)
    statuses = dict(PredictionJob.objects.values_list("pk", "status"))
    assert statuses[jobs[1].pk] == JobStatus.QUEUED
    assert statuses[jobs[2].pk] == JobStatus.DONE
    assert PredictionJob.objects.get(pk=jobs[1].pk).error_message == ""


@pytest.fixture
def planner_client(client):
    """A logged-in member of the planner group (not a superuser)."""
    user = get_user_model().objects.create_user("pat", password="pw-planner-1", is_staff=True)
    user.groups.add(planner_group_ensure())
    client.force_login(user)
    return client


def test_the_planner_group_exists_after_migrate():
    from django.contrib.auth.models import Group

    group = Group.objects.get(name=PLANNER_GROUP)
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {
        "view_asset",
        "view_predictionjob",
        "view_prediction",
        "retry_predictionjob",
    } <= codenames
    assert (
        not {"change_asset", "delete_prediction", "delete_predictionjob", "view_apitoken"}
        & codenames
    )


def test_a_planner_views_everything_and_retries_but_edits_no_mirror_and_deletes_no_prediction(
    planner_client, world, jobs
):
    assert planner_client.get(CHANGELIST).status_code == 200
    assert planner_client.get("/admin/overview/").status_code == 200
    asset = world.asset
    page = planner_client.get(reverse("admin:cmms_asset_change", args=[asset.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert (
        planner_client.post(
            reverse("admin:cmms_asset_change", args=[asset.pk]), {"name": "x"}
        ).status_code
        == 403
    )
    prediction = world.predictions.first()
    assert (
        planner_client.get(
            reverse("admin:predictions_prediction_delete", args=[prediction.pk])
        ).status_code
        == 403
    )
    planner_client.post(
        CHANGELIST,
        {"action": "retry_jobs", "_selected_action": [str(jobs[1].pk)], "confirm": "yes"},
    )
    assert PredictionJob.objects.get(pk=jobs[1].pk).status == JobStatus.QUEUED


def test_refreshing_assets_from_the_cmms_updates_their_names(admin_client, cmms_sim, cmms_client):
    from cmms.simulator.server import load_data

    data = load_data()
    seed = data["assets"][0]
    Asset.objects.create(asset_id=seed["asset_id"], name="old name")
    data["assets"][0] = {**seed, "name": "Feed pump P-101 (renamed)"}
    cmms_sim.set_data(data)
    response = admin_client.post(
        "/admin/cmms/asset/",
        {"action": "refresh_assets", "_selected_action": [seed["asset_id"]]},
        follow=True,
    )
    assert any("Refreshed 1 assets" in str(m) for m in response.context["messages"])
    assert Asset.objects.get(pk=seed["asset_id"]).name == "Feed pump P-101 (renamed)"
