"""GET /work_requests and the planners' approval in the admin."""

import pytest
from django.contrib.auth import get_user_model

from predictions.roles import planner_group_ensure
from tests.workrequests.test_services import low_prediction
from workrequests import services
from workrequests.models import ProposalStatus, WorkRequestProposal

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/workrequests/workrequestproposal/"


def test_a_client_sees_only_its_own_work_requests_filtered_by_status(
    api, other_api, api_client_with_token
):
    client, _ = api_client_with_token
    mine = [low_prediction(value=v) for v in (0.2, 0.3)]
    for prediction in mine:
        prediction.job.client = client
        prediction.job.save()
        services.proposal_consider(prediction=prediction)
    services.proposal_consider(prediction=low_prediction(value=0.1))  # another client's
    services.proposals_reject(
        proposals=WorkRequestProposal.objects.filter(predicted_reliability=0.2),
        user=None,
        comment="no",
    )
    data = api.get("/work_requests").json()
    assert data["count"] == 2
    assert {r["predicted_reliability"] for r in data["results"]} == {0.2, 0.3}
    rejected = api.get("/work_requests", {"status": "rejected"}).json()
    assert [r["predicted_reliability"] for r in rejected["results"]] == [0.2]
    assert rejected["results"][0]["comment"] == "no"
    assert api.get("/work_requests", {"status": "nonsense"}).status_code == 400
    assert api.get("/work_requests", {"offset": "abc"}).status_code == 400
    assert api.get("/work_requests", {"limit": "1.5"}).status_code == 400
    assert api.get("/work_requests", {"stauts": "open"}).json()["errors"] == {
        "stauts": ["Unknown field."]
    }
    assert len(api.get("/work_requests", {"limit": 1}).json()["results"]) == 1
    assert other_api.get("/work_requests").json()["count"] == 0


def test_work_requests_need_a_token(client):
    assert client.get("/work_requests").status_code == 401


@pytest.fixture
def planner(client):
    """A logged-in planner."""
    user = get_user_model().objects.create_user("pat", password="pw-planner-2", is_staff=True)
    user.groups.add(planner_group_ensure())
    client.force_login(user)
    return client


def test_open_proposals_are_listed_lowest_first(planner):
    for value in (0.6, 0.2, 0.4):
        services.proposal_consider(prediction=low_prediction(value=value))
    response = planner.get(CHANGELIST)
    assert [p.predicted_reliability for p in response.context["cl"].result_list] == [0.2, 0.4, 0.6]


def test_a_planner_approves_with_a_comment_and_the_task_is_queued(
    planner, django_capture_on_commit_callbacks
):
    proposal = services.proposal_consider(prediction=low_prediction(value=0.3))
    ask = planner.post(CHANGELIST, {"action": "approve", "_selected_action": [str(proposal.pk)]})
    assert b"Approve these proposals?" in ask.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = planner.post(
            CHANGELIST,
            {
                "action": "approve",
                "_selected_action": [str(proposal.pk)],
                "confirm": "yes",
                "comment": "replace bearing",
            },
            follow=True,
        )
    assert any("Approved 1 proposal" in str(m) for m in done.context["messages"])
    proposal.refresh_from_db()
    assert (proposal.status, proposal.comment, proposal.decided_by.username) == (
        ProposalStatus.APPROVED,
        "replace bearing",
        "pat",
    )
    assert len(callbacks) == 1


def test_a_planner_rejects_and_nothing_is_queued(planner, django_capture_on_commit_callbacks):
    proposal = services.proposal_consider(prediction=low_prediction(value=0.3))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        planner.post(
            CHANGELIST,
            {
                "action": "reject",
                "_selected_action": [str(proposal.pk)],
                "confirm": "yes",
                "comment": "sensor fault",
            },
        )
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED and proposal.comment == "sensor fault"
    assert callbacks == []
