"""A planner in a real browser (headless Debian Chromium via selenium) against a live server."""

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from predictions.models import JobStatus, PredictionJob
from predictions.roles import planner_group_ensure
from tests.browser.conftest import login, shot
from tests.factories import (
    AssetFactory,
    AssetFailureTypeFactory,
    EtaBetaFactory,
    PredictionFactory,
    PredictionJobFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_planner_finds_the_chart_and_retries_a_failed_job(live_server, browser, plain_static):
    user = get_user_model().objects.create_user("pat", password="planner-pw-2025", is_staff=True)
    user.groups.add(planner_group_ensure())
    aft = AssetFailureTypeFactory(asset=AssetFactory(name="Feed pump P-101"))
    EtaBetaFactory(asset_failure_type=aft, eta_hours=1500, beta=1.6)
    for day, value in [(1, 0.97), (8, 0.92), (15, 0.85)]:
        prediction = PredictionFactory(
            asset=aft.asset, asset_failure_type=aft, predicted_reliability=value
        )
        prediction.time = prediction.time.replace(day=day)
        prediction.save()
    failed = PredictionJobFactory(
        status=JobStatus.ERROR,
        error_message="CMMS: POST /asset_prediction answered 503 after 4 retries",
        payload={"asset_id": str(aft.asset_id)},
    )
    PredictionJobFactory(status=JobStatus.DONE)
    wait = WebDriverWait(browser, 10)

    login(browser, live_server.url, "pat", "planner-pw-2025")
    wait.until(ec.presence_of_element_located((By.ID, "dtwin-overview-link")))
    shot(browser, "1-index")

    browser.find_element(By.LINK_TEXT, "Overview").click()
    wait.until(ec.presence_of_element_located((By.ID, "job-counts")))
    assert browser.find_element(By.CSS_SELECTOR, ".count-error").text == "1"
    assert "Feed pump P-101" in browser.find_element(By.ID, "lowest-assets").text
    shot(browser, "2-overview")

    browser.find_element(By.CSS_SELECTOR, "#job-counts a[href$='status__exact=error']").click()
    wait.until(ec.url_contains("status__exact=error"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "Feed pump P-101" in rows[0].text
    shot(browser, "3-jobs-filtered")

    rows[0].find_element(By.LINK_TEXT, "Feed pump P-101").click()
    chart = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "svg.dtwin-chart")))
    assert chart.is_displayed()
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.dtwin-chart circle")) >= 3
    shot(browser, "4-asset-chart")

    browser.get(f"{live_server.url}/admin/predictions/predictionjob/?status__exact=error")
    browser.find_element(By.CSS_SELECTOR, "#result_list input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("retry_jobs")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    wait.until(ec.presence_of_element_located((By.ID, "retry-confirmation")))
    shot(browser, "5-retry-confirm")
    browser.find_element(By.ID, "confirm-retry").click()
    message = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success"))
    )
    assert "Requeued 1 job" in message.text
    shot(browser, "6-retried")
    assert PredictionJob.objects.get(pk=failed.pk).status == JobStatus.QUEUED
