"""The OpenAPI schema and Swagger UI."""

import pytest
from django.core.management import call_command


def test_the_schema_generates_without_warnings_and_describes_both_endpoints(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for fragment in [
        "/asset_predict:",
        "/asset_failure_type_predict:",
        "/jobs/{job_id}:",
        "'202':",
        "'400':",
        "Error",
    ]:
        assert fragment in text


@pytest.mark.django_db
def test_swagger_ui_renders_from_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html
