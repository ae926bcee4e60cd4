"""Management commands and settings consistency."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from predictions.models import ApiClient, ApiToken
from tests.factories import request_body

pytestmark = pytest.mark.django_db


def test_create_api_client_prints_a_working_token_as_its_last_line():
    out = io.StringIO()
    call_command("create_api_client", "plant-a-scada", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert ApiClient.objects.filter(name="plant-a-scada").exists()
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert http.post("/asset_predict", request_body(), format="json").status_code == 202


def test_create_api_client_twice_adds_a_second_token_to_the_same_client():
    call_command("create_api_client", "plant-b", stdout=io.StringIO())
    call_command("create_api_client", "plant-b", "--expires-in-days", "30", stdout=io.StringIO())
    assert ApiClient.objects.filter(name="plant-b").count() == 1
    assert ApiToken.objects.filter(client__name="plant-b").count() == 2
    assert ApiToken.objects.filter(client__name="plant-b", expires_at__isnull=False).count() == 1


def test_demo_setup_prints_logins_and_a_working_token_and_seeds_the_gearbox(tmp_path):
    from django.contrib.auth import get_user_model

    from predictions.models import EtaBeta

    out = io.StringIO()
    call_command("demo_setup", "--password-dir", str(tmp_path), stdout=out)
    call_command("demo_setup", "--password-dir", str(tmp_path), stdout=io.StringIO())
    token = out.getvalue().strip().splitlines()[-1]
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert http.post("/asset_predict", request_body(), format="json").status_code == 202
    for name in ("admin", "planner"):
        password = (tmp_path / f"{name}-password").read_text().strip()
        assert f"{name} / {password}" in out.getvalue()
        assert get_user_model().objects.get(username=name).check_password(password)
    assert get_user_model().objects.get(username="planner").groups.filter(name="planner").exists()
    params = EtaBeta.objects.get()
    assert (params.eta_hours, params.beta, params.source) == (300.0, 2.0, "manual")


def test_queue_settings_are_consistent():
    q = settings.Q_CLUSTER
    assert q["orm"] == "default"
    assert q["retry"] > q["timeout"]
    assert settings.JOB_LEASE_SECONDS > q["timeout"]
