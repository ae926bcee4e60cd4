"""A planner in a real browser (headless Debian Chromium via selenium) against a live server."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from predictions.models import JobStatus, PredictionJob
from predictions.roles import planner_group_ensure
from tests.factories import (
    AssetFactory,
    AssetFailureTypeFactory,
    EtaBetaFactory,
    PredictionFactory,
    PredictionJobFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def browser():
    """Headless Chromium; nothing is downloaded (Debian's binary and driver are used)."""
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.implicitly_wait(2)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver: webdriver.Chrome, name: str) -> None:
    """Save a screenshot for a human to look at."""
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def plain_static(settings):
    """The live server serves static files from the finders: use unhashed names."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


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

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("pat")
    browser.find_element(By.NAME, "password").send_keys("planner-pw-2025")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
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
