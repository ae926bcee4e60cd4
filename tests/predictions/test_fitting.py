"""Failure history, Weibull fitting, refits, CSV import and the prediction's source."""

import io
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.contrib import admin as django_admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import path
from django_q.models import OrmQ
from scipy import stats

from predictions import fitting, services, tasks
from predictions.admin_fitting import (
    FailureObservationAdmin,
    WeibullFitInline,
    import_failures_from_csv,
    refit_weibull_action,
    weibull_fit_summary,
)
from predictions.models import (
    AssetFailureType,
    EndpointType,
    EtaBeta,
    FailureObservation,
    FitStatus,
    JobStatus,
    ObservationSource,
    ParameterSource,
    Prediction,
    PredictionJob,
    PredictionSource,
    WeibullFit,
)
from tests.factories import (
    AftMaintenanceListFactory,
    ApiClientFactory,
    AssetFactory,
    AssetFailureTypeFactory,
    FailureTypeFactory,
)

ETA_HOURS = 1000.0
BETA = 2.0
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def weibull_sample(n: int, seed: int) -> np.ndarray:
    """n times to failure, in hours, from Weibull(η = 1000 h, β = 2) with a fixed seed."""
    rng = np.random.default_rng(seed)
    return stats.weibull_min.rvs(BETA, scale=ETA_HOURS, size=n, random_state=rng)


# --- Fitting (no database) ----------------------------------------------------------------


def test_it_recovers_eta_and_beta_from_complete_data():
    result = fitting.weibull_fit(failure_hours=weibull_sample(500, seed=7))
    # Stated tolerance for n = 500: η within 5 %, β within 10 % (≈ 2.5 standard errors).
    assert result.eta_hours == pytest.approx(ETA_HOURS, rel=0.05)
    assert result.beta == pytest.approx(BETA, rel=0.10)
    assert (result.n_failures, result.n_censored) == (500, 0)
    assert result.eta_lower_hours < ETA_HOURS < result.eta_upper_hours
    assert result.beta_lower < BETA < result.beta_upper


def test_it_recovers_eta_and_beta_from_right_censored_data():
    # Type I censoring at 800 h (about half the units still run) plus random withdrawals.
    lifetimes = weibull_sample(600, seed=11)
    rng = np.random.default_rng(12)
    withdrawals = rng.uniform(200, 3000, size=lifetimes.size)
    ends = np.minimum(np.minimum(lifetimes, withdrawals), 800.0)
    failed = lifetimes <= np.minimum(withdrawals, 800.0)
    result = fitting.weibull_fit(failure_hours=ends[failed], censored_hours=ends[~failed])
    assert result.n_censored > 250
    # Stated tolerance with ~50 % censoring: η within 8 %, β within 12 %.
    assert result.eta_hours == pytest.approx(ETA_HOURS, rel=0.08)
    assert result.beta == pytest.approx(BETA, rel=0.12)
    assert result.eta_lower_hours < ETA_HOURS < result.eta_upper_hours
    assert result.beta_lower < BETA < result.beta_upper


def test_ignoring_censoring_would_bias_eta_down():
    lifetimes = weibull_sample(400, seed=3)
    failed = lifetimes <= 700.0
    censored = fitting.weibull_fit(
        failure_hours=lifetimes[failed], censored_hours=np.full((~failed).sum(), 700.0)
    )
    naive = fitting.weibull_fit(failure_hours=lifetimes[failed])
    assert naive.eta_hours < 0.8 * censored.eta_hours


def test_the_fit_maximises_the_censored_log_likelihood():
    lifetimes = weibull_sample(60, seed=5)
    failures, censored = lifetimes[lifetimes <= 900], np.full((lifetimes > 900).sum(), 900.0)
    result = fitting.weibull_fit(failure_hours=failures, censored_hours=censored)
    expected = (
        stats.weibull_min.logpdf(failures, result.beta, scale=result.eta_hours).sum()
        + stats.weibull_min.logsf(censored, result.beta, scale=result.eta_hours).sum()
    )
    assert result.log_likelihood == pytest.approx(expected)
    for eta_factor, beta_factor in [(1.02, 1), (0.98, 1), (1, 1.03), (1, 0.97)]:
        nearby = fitting.weibull_log_likelihood(
            failure_hours=failures,
            censored_hours=censored,
            eta_hours=result.eta_hours * eta_factor,
            beta=result.beta * beta_factor,
        )
        assert nearby < result.log_likelihood


def test_it_refuses_to_fit_with_too_few_failures_however_many_are_censored():
    with pytest.raises(fitting.FitRefused, match="4 failures; at least 5"):
        fitting.weibull_fit(failure_hours=[100, 200, 300, 400], censored_hours=[500] * 100)


def test_it_refuses_degenerate_data():
    with pytest.raises(fitting.FitRefused, match="equal"):
        fitting.weibull_fit(failure_hours=[100.0] * 6)
    with pytest.raises(fitting.FitRefused, match="> 0"):
        fitting.weibull_fit(failure_hours=[100, 200, 0, 300, 400])


# --- Failure history, refits ---------------------------------------------------------------


def record(aft: AssetFailureType, hours: float, *, censored: bool = False, start=T0):
    """Store one lifetime of `hours` starting at `start`."""
    return services.failure_observation_record(
        aft=aft,
        maintenance_end_time=start,
        end_time=start + timedelta(hours=hours),
        censored=censored,
        source=ObservationSource.CSV,
    )


def refit_tasks() -> int:
    """How many refit tasks are waiting in the django-q2 queue."""
    return sum(1 for task in OrmQ.objects.all() if task.func() == services.REFIT_TASK)


@pytest.mark.django_db
def test_the_same_lifetime_is_stored_once():
    aft = AssetFailureTypeFactory()
    assert record(aft, 500) is not None
    assert record(aft, 500) is None
    assert FailureObservation.objects.count() == 1
    assert FailureObservation.objects.get().duration_hours == 500


@pytest.mark.django_db
def test_new_lifetimes_queue_one_refit_until_it_runs():
    aft = AssetFailureTypeFactory()
    for hours in (100, 200, 300):
        record(aft, hours)
    assert refit_tasks() == 1
    assert WeibullFit.objects.get(asset_failure_type=aft).refit_requested_at is not None
    tasks.weibull_refit_task(str(aft.pk))
    assert WeibullFit.objects.get(asset_failure_type=aft).refit_requested_at is None
    record(aft, 400)
    assert refit_tasks() == 2


@pytest.mark.django_db
def test_a_refit_marker_left_by_a_lost_task_expires():
    aft = AssetFailureTypeFactory()
    record(aft, 100)
    WeibullFit.objects.filter(asset_failure_type=aft).update(
        refit_requested_at=datetime.now(UTC) - services.REFIT_MARKER_TTL - timedelta(seconds=1)
    )
    record(aft, 200)
    assert refit_tasks() == 2


@pytest.mark.django_db
def test_a_refit_with_too_few_failures_stores_no_fitted_parameters():
    aft = AssetFailureTypeFactory()
    for hours in (100, 200, 300, 400):
        record(aft, hours)
    for hours in (900, 950):
        record(aft, hours, censored=True)
    fit = services.weibull_refit(aft_id=aft.pk)
    assert fit.status == FitStatus.TOO_FEW_FAILURES
    assert (fit.n_failures, fit.n_censored) == (4, 2)
    assert not EtaBeta.objects.filter(asset_failure_type=aft).exists()


@pytest.mark.django_db
def test_a_refit_stores_fitted_parameters_and_their_quality():
    aft = AssetFailureTypeFactory()
    for hours in weibull_sample(40, seed=1):
        record(aft, float(hours))
    record(aft, 1500, censored=True)
    fit = services.weibull_refit(aft_id=aft.pk)
    assert fit.status == FitStatus.FITTED
    assert (fit.n_failures, fit.n_censored) == (40, 1)
    assert fit.eta_lower_hours < fit.eta_hours < fit.eta_upper_hours
    assert fit.beta_lower < fit.beta < fit.beta_upper
    assert fit.log_likelihood < 0
    params = EtaBeta.objects.get(asset_failure_type=aft, source=ParameterSource.FITTED)
    assert (params.eta_hours, params.beta) == (fit.eta_hours, fit.beta)
    assert services.weibull_parameters_for(asset=aft.asset, aft=aft) == params
    assert "η=" in weibull_fit_summary(fit)
    assert "95% bounds" in weibull_fit_summary(fit)


@pytest.mark.django_db
def test_losing_observations_below_the_minimum_removes_the_fitted_parameters():
    aft = AssetFailureTypeFactory()
    for hours in (100, 200, 300, 400, 500, 600):
        record(aft, hours)
    services.weibull_refit(aft_id=aft.pk)
    assert EtaBeta.objects.filter(asset_failure_type=aft, source="fitted").exists()
    FailureObservation.objects.filter(duration_hours__gte=500).delete()
    fit = services.weibull_refit(aft_id=aft.pk)
    assert fit.status == FitStatus.TOO_FEW_FAILURES
    assert not EtaBeta.objects.filter(asset_failure_type=aft, source="fitted").exists()


@pytest.mark.django_db
def test_refit_weibull_command_refits_one_or_all_and_refuses_unknown_ids():
    aft = AssetFailureTypeFactory()
    for hours in (100, 250, 300, 420, 500):
        record(aft, hours)
    out = io.StringIO()
    call_command("refit_weibull", "--aft", str(aft.pk), stdout=out)
    assert "η=" in out.getvalue()
    assert "1 AFTs refitted" in out.getvalue()
    call_command("refit_weibull", stdout=out)
    with pytest.raises(CommandError, match="unknown AFT"):
        call_command("refit_weibull", "--aft", str(uuid.uuid4()), stdout=out)


# --- CSV import ----------------------------------------------------------------------------

HEADER = "asset_id,failure_type_id,maintenance_end_time,failure_start_time,censored_at\n"


@pytest.fixture
def asset_and_failure_type(db):
    """An asset and a failure type known to the DB."""
    return AssetFactory(), FailureTypeFactory()


def csv_text(asset, failure_type, rows: list[str]) -> str:
    """A CSV with the header and rows where {a} and {f} stand for the ids."""
    a, f = asset.pk, failure_type.pk
    return HEADER + "".join(row.format(a=a, f=f) + "\n" for row in rows)


def test_csv_import_stores_failures_and_censored_times_and_skips_known_rows(
    asset_and_failure_type,
):
    asset, failure_type = asset_and_failure_type
    text = csv_text(
        asset,
        failure_type,
        [
            "{a},{f},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,",
            "{a},{f},2025-02-01T00:00:00+02:00,,2025-02-02T22:00:00Z",
        ],
    )
    report = services.failure_observations_import(stream=io.StringIO(text))
    assert (report.created, report.duplicates, report.errors) == (2, 0, [])
    failed, survived = FailureObservation.objects.order_by("censored")
    assert (failed.duration_hours, failed.censored) == (240.0, False)
    assert (survived.duration_hours, survived.censored) == (48.0, True)
    assert failed.source == ObservationSource.CSV
    assert failed.asset_failure_type.asset == asset
    again = services.failure_observations_import(stream=io.StringIO(text))
    assert (again.created, again.duplicates) == (0, 2)
    assert FailureObservation.objects.count() == 2


def test_csv_import_reports_bad_rows_by_line_and_imports_the_rest(asset_and_failure_type):
    asset, failure_type = asset_and_failure_type
    unknown = uuid.uuid4()
    rows = [
        "{a},{f},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,",  # line 2: fine
        "not-a-uuid,{f},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,",
        f"{unknown},{{f}},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,",
        f"{{a}},{unknown},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,",
        "{a},{f},yesterday,2025-01-11T00:00:00Z,",
        "{a},{f},2025-01-01T00:00:00Z,,",
        "{a},{f},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,2025-01-12T00:00:00Z",
        "{a},{f},2025-01-11T00:00:00Z,2025-01-01T00:00:00Z,",
    ]
    report = services.failure_observations_import(
        stream=io.StringIO(csv_text(asset, failure_type, rows))
    )
    assert report.created == 1
    lines = dict(report.errors)
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9]
    assert "asset_id: not a UUID" in lines[3]
    assert f"unknown asset {unknown}" in lines[4]
    assert f"unknown failure type {unknown}" in lines[5]
    assert "maintenance_end_time: not an ISO-8601 datetime" in lines[6]
    assert "exactly one of" in lines[7] and "exactly one of" in lines[8]
    assert "must be after maintenance_end_time" in lines[9]
    assert FailureObservation.objects.count() == 1


def test_csv_import_refuses_a_file_without_the_required_columns(db):
    report = services.failure_observations_import(stream=io.StringIO("asset_id,when\n1,2\n"))
    assert report.errors[0][0] == 1
    assert "failure_type_id" in report.errors[0][1]


def test_import_failures_command_reports_errors_and_exits_non_zero(
    asset_and_failure_type, tmp_path
):
    asset, failure_type = asset_and_failure_type
    rows = [f"{{a}},{{f}},2025-01-01T00:00:00Z,2025-01-01T{h:02d}:00:00Z," for h in range(1, 7)] + [
        "{a},{f},2025-01-01T00:00:00Z,,"
    ]
    path = tmp_path / "failures.csv"
    path.write_text(csv_text(asset, failure_type, rows), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 rows had errors"):
        call_command("import_failures", str(path), "--dry-run", stdout=out, stderr=err)
    assert "6 valid" in out.getvalue()
    assert f"{path}:8: give exactly one of" in err.getvalue()
    assert FailureObservation.objects.count() == 0
    with pytest.raises(CommandError):
        call_command("import_failures", str(path), "--refit", stdout=out, stderr=err)
    assert FailureObservation.objects.count() == 6
    assert "η=" in out.getvalue()
    aft = AssetFailureType.objects.get(asset=asset, failure_type=failure_type)
    assert EtaBeta.objects.filter(asset_failure_type=aft, source="fitted").exists()


def test_import_failures_command_fails_cleanly_on_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_failures", str(tmp_path / "nope.csv"))


def test_the_admin_upload_helper_imports_and_refuses_non_utf8(asset_and_failure_type):
    asset, failure_type = asset_and_failure_type
    text = csv_text(asset, failure_type, ["{a},{f},2025-01-01T00:00:00Z,2025-01-11T00:00:00Z,"])
    upload = SimpleUploadedFile("f.csv", ("\ufeff" + text).encode(), content_type="text/csv")
    report = import_failures_from_csv(uploaded_file=upload)
    assert (report.created, report.errors) == (1, [])
    bad = SimpleUploadedFile("f.csv", HEADER.encode() + b"\xff\xfe\x00", content_type="text/csv")
    assert import_failures_from_csv(uploaded_file=bad).errors == [(0, "the file is not UTF-8 text")]


# --- The pipeline: observations from requests and the prediction's source -------------------

SEED_ASSET = "06fcd7d5-1fc6-4bc6-b00d-da274663d98d"
SEED_FT = "702ab05a-7427-4a36-a298-0331bd56510a"
SEED_OP = "06fad7d5-1fc6-4bd6-b00d-da274663d88a"


def seed_data(endpoint_type: EndpointType, **overrides) -> dict:
    """The seed's example request, validated-data shaped."""
    data = {
        "operation_id": [uuid.UUID(SEED_OP)],
        "asset_id": uuid.UUID(SEED_ASSET),
        "failure_start_time": datetime(2025, 10, 2, 10, tzinfo=UTC),
        "maintenance_end_time": datetime(2025, 8, 16, 11, tzinfo=UTC),
        "source_sys_time": datetime(2025, 10, 16, 9, tzinfo=UTC),
        "default_reliability": [0.9],
    }
    if endpoint_type == EndpointType.ASSET_FAILURE_TYPE:
        data["failure_type_id"] = uuid.UUID(SEED_FT)
    data.update(overrides)
    return data


def run_request(cmms_client, endpoint_type=EndpointType.ASSET_FAILURE_TYPE, client=None, **kw):
    """Create and run a job; returns it with its prediction."""
    job_id, _ = services.job_create(
        client=client or ApiClientFactory(),
        endpoint_type=endpoint_type,
        data=seed_data(endpoint_type, **kw),
    )
    services.job_run(job_id=job_id, client=cmms_client)
    job = PredictionJob.objects.get(pk=job_id)
    assert job.status == JobStatus.DONE, job.error_message
    return job, Prediction.objects.get(job=job)


@pytest.mark.django_db
def test_a_request_whose_failure_followed_its_maintenance_records_one_failure(
    cmms_sim, cmms_client, data_dir
):
    plant = ApiClientFactory()
    run_request(cmms_client, client=plant)
    observation = FailureObservation.objects.get()
    assert observation.source == ObservationSource.REQUEST
    assert not observation.censored
    # 2025-08-16 11:00 → 2025-10-02 10:00 is 47 days less one hour.
    assert observation.duration_hours == 47 * 24 - 1
    # The same request again (same client: same job; another client: a new job) adds nothing.
    run_request(cmms_client, client=plant)
    run_request(cmms_client)
    assert PredictionJob.objects.count() == 2
    assert FailureObservation.objects.count() == 1


@pytest.mark.django_db
def test_requests_without_a_failure_after_maintenance_or_without_failure_type_record_nothing(
    cmms_sim, cmms_client, data_dir
):
    run_request(cmms_client, failure_start_time=datetime(2025, 8, 1, tzinfo=UTC))
    run_request(cmms_client, EndpointType.ASSET)
    assert FailureObservation.objects.count() == 0


@pytest.mark.django_db
def test_the_prediction_records_each_source_in_order_of_precedence(cmms_sim, cmms_client, data_dir):
    # No parameters, no request default: the stored AFT ↔ AML defaults (1.0 when created).
    _, prediction = run_request(cmms_client, default_reliability=None)
    assert (prediction.source, prediction.predicted_reliability) == ("stored_default", 1.0)
    assert prediction.eta_hours is None and prediction.conditional_reliability is None
    # The request's default_reliability.
    _, prediction = run_request(cmms_client, source_sys_time=datetime(2025, 10, 17, tzinfo=UTC))
    assert (prediction.source, prediction.predicted_reliability) == ("request_default", 0.9)
    # A planner's parameters.
    aft = AssetFailureType.objects.get()
    EtaBeta.objects.create(asset_failure_type=aft, eta_hours=1000, beta=1.5)
    _, prediction = run_request(cmms_client, source_sys_time=datetime(2025, 10, 18, tzinfo=UTC))
    assert (prediction.source, prediction.eta_hours, prediction.beta) == ("manual", 1000, 1.5)
    assert prediction.predicted_reliability == 0.933458  # exp(-(168/1000)^1.5)
    # Fitted parameters beat the planner's.
    EtaBeta.objects.create(
        asset_failure_type=aft, eta_hours=2000, beta=2, source=ParameterSource.FITTED
    )
    _, prediction = run_request(cmms_client, source_sys_time=datetime(2025, 10, 19, tzinfo=UTC))
    assert (prediction.source, prediction.eta_hours, prediction.beta) == ("fitted", 2000, 2)
    assert prediction.predicted_reliability == 0.992969  # exp(-(168/2000)^2)


@pytest.mark.django_db
def test_the_stored_defaults_source_uses_the_aft_links(cmms_sim, cmms_client, data_dir):
    _, first = run_request(cmms_client, default_reliability=None)
    link = AftMaintenanceListFactory._meta.model.objects.filter(
        asset_failure_type=first.asset_failure_type
    )
    link.update(default_reliability=0.5)
    _, prediction = run_request(
        cmms_client, default_reliability=None, source_sys_time=datetime(2025, 10, 20, tzinfo=UTC)
    )
    assert prediction.source == PredictionSource.STORED_DEFAULT
    assert prediction.predicted_reliability < 1.0


@pytest.mark.django_db
def test_conditional_reliability_uses_the_age_at_source_sys_time(cmms_sim, cmms_client, data_dir):
    aft = AssetFailureType.objects.create(
        asset=AssetFactory(asset_id=uuid.UUID(SEED_ASSET)),
        failure_type=FailureTypeFactory(failure_type_id=uuid.UUID(SEED_FT)),
    )
    EtaBeta.objects.create(asset_failure_type=aft, eta_hours=1000, beta=2)
    # Age T = 72 h at source_sys_time; horizon t = 168 h: R(168) / R(72).
    _, prediction = run_request(cmms_client, source_sys_time=datetime(2025, 8, 19, 11, tzinfo=UTC))
    expected = np.exp(-((168 / 1000) ** 2 - (72 / 1000) ** 2))
    assert prediction.conditional_reliability == pytest.approx(expected, abs=1e-6)
    assert prediction.failure_probability == pytest.approx(1 - expected, abs=1e-6)
    assert prediction.predicted_reliability == pytest.approx(np.exp(-((168 / 1000) ** 2)), 1e-6)
    # The seed's source_sys_time is past the horizon: nothing left to survive.
    _, seed = run_request(cmms_client)
    assert (seed.conditional_reliability, seed.failure_probability) == (1.0, 0.0)


@pytest.mark.django_db
def test_the_job_api_shows_the_source_and_parameters(cmms_sim, cmms_client, data_dir, api):
    from predictions.models import ApiClient

    aft = AssetFailureType.objects.create(
        asset=AssetFactory(asset_id=uuid.UUID(SEED_ASSET)),
        failure_type=FailureTypeFactory(failure_type_id=uuid.UUID(SEED_FT)),
    )
    EtaBeta.objects.create(
        asset_failure_type=aft, eta_hours=1200, beta=1.8, source=ParameterSource.FITTED
    )
    job, prediction = run_request(cmms_client, client=ApiClient.objects.get(name="plant-a"))
    shown = api.get(f"/jobs/{job.pk}").json()["prediction"]
    assert shown["source"] == "fitted"
    assert (shown["eta_hours"], shown["beta"]) == (1200, 1.8)
    assert shown["predicted_reliability"] == prediction.predicted_reliability
    assert shown["conditional_reliability"] == 1.0
    assert shown["failure_probability"] == 0.0


@pytest.mark.django_db
def test_after_enough_failures_a_new_request_uses_the_fitted_source(
    cmms_sim, cmms_client, data_dir
):
    """Learning, with the pipeline called directly (tests/e2e/test_learning.py: qcluster)."""
    maintenance = datetime(2025, 1, 1, tzinfo=UTC)
    for i, hours in enumerate(weibull_sample(8, seed=21)):
        start = maintenance + timedelta(days=400 * i)
        run_request(
            cmms_client,
            maintenance_end_time=start,
            failure_start_time=start + timedelta(hours=float(hours)),
            source_sys_time=start + timedelta(hours=1),
        )
    assert FailureObservation.objects.filter(censored=False).count() == 8
    aft = AssetFailureType.objects.get()
    tasks.weibull_refit_task(str(aft.pk))
    _, prediction = run_request(cmms_client)
    assert prediction.source == PredictionSource.FITTED
    fit = WeibullFit.objects.get(asset_failure_type=aft)
    assert (prediction.eta_hours, prediction.beta) == (fit.eta_hours, fit.beta)
    assert prediction.predicted_reliability != 0.9


# --- Admin pieces, on a site of their own (predictions/admin.py wires them in) --------------

fitting_site = django_admin.AdminSite(name="admin")
fitting_site.register(FailureObservation, FailureObservationAdmin)


class AftFittingAdmin(django_admin.ModelAdmin):
    """How AssetFailureTypeAdmin is meant to use the fit inline and the refit action."""

    inlines = [WeibullFitInline]
    actions = [refit_weibull_action]


fitting_site.register(AssetFailureType, AftFittingAdmin)
urlpatterns = [path("admin/", fitting_site.urls)]


@pytest.mark.urls(__name__)
def test_the_admin_imports_a_csv_and_lists_the_observations(admin_client, asset_and_failure_type):
    asset, failure_type = asset_and_failure_type
    listing = admin_client.get("/admin/predictions/failureobservation/")
    assert listing.status_code == 200
    assert b"Import CSV" in listing.content
    form = admin_client.get("/admin/predictions/failureobservation/import/")
    assert form.status_code == 200
    assert b"censored_at" in form.content
    rows = [f"{{a}},{{f}},2025-01-01T00:00:00Z,2025-01-01T{h:02d}:00:00Z," for h in (1, 3, 4)]
    rows.append("{a},{f},2025-01-01T00:00:00Z,oops,")
    upload = SimpleUploadedFile(
        "failures.csv", csv_text(asset, failure_type, rows).encode(), content_type="text/csv"
    )
    response = admin_client.post(
        "/admin/predictions/failureobservation/import/", {"file": upload}, follow=True
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "3 observation(s) imported, 0 already known, 1 row(s) with errors." in text
    assert "Line 5: failure_start_time: not an ISO-8601 datetime" in text
    assert FailureObservation.objects.count() == 3


@pytest.mark.urls(__name__)
def test_the_admin_refits_selected_afts_and_shows_the_fit(admin_client):
    aft = AssetFailureTypeFactory()
    for hours in (150, 320, 400, 610, 700, 820):
        record(aft, hours)
    response = admin_client.post(
        "/admin/predictions/assetfailuretype/",
        {"action": "refit_weibull_action", "_selected_action": [str(aft.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "η=" in response.content.decode()
    page = admin_client.get(f"/admin/predictions/assetfailuretype/{aft.pk}/change/")
    assert page.status_code == 200
    assert "Fitted" in page.content.decode()
    assert EtaBeta.objects.filter(asset_failure_type=aft, source="fitted").exists()


@pytest.mark.urls(__name__)
def test_deleting_observations_in_the_admin_queues_a_refit(admin_client):
    aft = AssetFailureTypeFactory()
    observation = record(aft, 150)
    tasks.weibull_refit_task(str(aft.pk))
    queued = refit_tasks()
    response = admin_client.post(
        "/admin/predictions/failureobservation/",
        {"action": "delete_selected", "_selected_action": [observation.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not FailureObservation.objects.exists()
    assert refit_tasks() == queued + 1
