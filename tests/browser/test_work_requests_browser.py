"""End to end: a low prediction → a proposal → a planner approves it in the browser → the CMMS
simulator holds exactly one work request. Real qcluster, real HTTP, headless Chromium."""

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from predictions.models import ApiClient, ApiToken, PredictionJob
from predictions.roles import planner_group_ensure
from tests.browser.conftest import login, shot
from tests.e2e.conftest import wait_for
from tests.factories import SEED_FAILURE_TYPE_ID, SEED_REQUEST
from workrequests.models import ProposalStatus, WorkRequestProposal

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SEED = {**SEED_REQUEST, "failure_type_id": SEED_FAILURE_TYPE_ID}


def test_a_low_prediction_becomes_one_work_request_after_approval(
    live_server, browser, plain_static, qcluster_factory, cmms_sim
):
    cluster = qcluster_factory(WORK_REQUEST_THRESHOLD="0.95")
    client = ApiClient.objects.create(name="plant-wr")
    _, raw = ApiToken.issue(client=client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    job_id = api.post(
        "/asset_failure_type_predict", data=json.dumps(SEED), content_type="application/json"
    ).json()["prediction_id"]
    wait_for(
        lambda: WorkRequestProposal.objects.filter(prediction__job_id=job_id).exists(),
        timeout=60,
        what="a proposal",
        log=cluster.log,
    )
    assert PredictionJob.objects.get(pk=job_id).status == "done"

    user = get_user_model().objects.create_user("pat", password="planner-pw-2025", is_staff=True)
    user.groups.add(planner_group_ensure())
    login(browser, live_server.url, "pat", "planner-pw-2025")
    browser.get(f"{live_server.url}/admin/workrequests/workrequestproposal/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "0.900" in rows[0].text
    shot(browser, "wr-1-open-proposals")
    rows[0].find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("approve")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    wait = WebDriverWait(browser, 10)
    wait.until(ec.presence_of_element_located((By.ID, "decide-proposals")))
    browser.find_element(By.ID, "id_comment").send_keys("Replace the bearing at the next stop.")
    shot(browser, "wr-2-approve")
    browser.find_element(By.ID, "confirm-decision").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success")))

    wait_for(
        lambda: cmms_sim.posts("/work_requests"),
        timeout=60,
        what="the work request",
        log=cluster.log,
    )
    proposal = WorkRequestProposal.objects.get()
    wait_for(
        lambda: WorkRequestProposal.objects.get().status == ProposalStatus.SENT,
        timeout=30,
        what="sent status",
        log=cluster.log,
    )
    proposal.refresh_from_db()
    posts = cmms_sim.posts("/work_requests")
    assert len(posts) == 1
    assert posts[0]["idempotency_key"] == str(proposal.pk)
    assert posts[0]["response"]["work_request_id"] == proposal.work_request_id
    assert "Replace the bearing" in posts[0]["body"]["description"]
    browser.get(f"{live_server.url}/admin/workrequests/workrequestproposal/?status__exact=sent")
    shot(browser, "wr-3-sent")
    assert proposal.work_request_id in browser.find_element(By.ID, "result_list").text
