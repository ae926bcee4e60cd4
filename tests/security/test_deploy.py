"""Deploy-time guarantees: `check --deploy` with the image's settings, start-up validation,
and a Dockerfile / compose file that run exactly the Procfile's processes."""

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_env() -> dict[str, str]:
    """The ENV of the Dockerfile's final stage (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final_stage = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in final_stage.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py with a clean environment plus `env`."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "CSRF_", "SESSION_"))
    }
    base.update({"DEBUG": "false", "SECRET_KEY": "test-secret", "CMMS_TOKEN": "t"})
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def procfile() -> dict[str, str]:
    """Process name → command."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and ":" in line)


def test_check_deploy_passes_with_the_images_production_settings():
    env = {k: v for k, v in dockerfile_env().items() if k != "PATH"}
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **env,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="dtwin.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_with_the_plain_http_dev_defaults():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://cmms.example.com/api", "scheme must be http or https"),
        ("http://admin:hunter2-secret@cmms.example.com/api", "must not contain user:password"),
        ("http:///api", "needs a host"),
    ],
)
def test_a_bad_cmms_base_url_stops_the_start(url, message):
    result = manage("check", CMMS_BASE_URL=url)
    assert result.returncode != 0
    assert "CMMS_BASE_URL" in result.stderr and message in result.stderr, result.stderr
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_a_bad_rate_limit_stops_the_start():
    result = manage("check", API_RATE_LIMIT="lots")
    assert result.returncode != 0
    assert "API_RATE_LIMIT" in result.stderr


def test_behind_https_settings_health_stays_plain_http_and_the_api_redirects(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["dtwin.example.com"]
    # The container's health check: plain HTTP, by IP.
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").json()["status"] == "ok"
    redirect = client.get("/asset_predict", HTTP_HOST="dtwin.example.com")
    assert redirect.status_code == 301
    assert redirect["Location"] == "https://dtwin.example.com/asset_predict"
    proxied = client.get(
        "/asset_predict", HTTP_HOST="dtwin.example.com", HTTP_X_FORWARDED_PROTO="https"
    )
    assert proxied.status_code == 401


def test_the_dockerfile_is_multi_stage_non_root_with_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    health = re.search(r"^HEALTHCHECK .*", text.replace("\\\n", " "), re.M)
    assert health and "/healthz" in health.group(0)
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_dockerfile_cmd_is_the_procfile_web_process():
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.findall(r"^CMD (\[.*\])", text, re.M)[-1]
    assert yaml.safe_load(cmd) == ["honcho", "start", "web"]
    assert procfile()["web"].startswith("gunicorn dtwin_project.wsgi:application")
    assert "honcho start" in (ROOT / "scripts" / "run.sh").read_text()


def test_compose_runs_the_procfile_processes_against_postgres():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "web", "worker", "cmms"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    processes = procfile()
    for name in ("web", "worker", "cmms"):
        assert services[name]["command"] == ["honcho", "start", name]
        assert name in processes
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:" in env["DATABASE_URL"]
        assert env["CMMS_BASE_URL"] == "http://cmms:8081/api"
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    # The simulator must listen beyond the container's loopback.
    assert services["cmms"]["environment"]["CMMS_SIM_HOST"] == "0.0.0.0"  # noqa: S104
    assert "${CMMS_SIM_HOST" in processes["cmms"]


def test_the_image_installs_the_runtime_requirements_only():
    text = (ROOT / "Dockerfile").read_text()
    assert "sed '/^# Tests and tooling/,$d'" in text
    runtime, _, tooling = (ROOT / "requirements.txt").read_text().partition("# Tests and tooling")
    assert tooling, "requirements.txt lost its '# Tests and tooling' section header"
    names = {
        line.split("==")[0].split("[")[0].lower() for line in runtime.splitlines() if "==" in line
    }
    assert {"django", "gunicorn", "honcho", "psycopg", "whitenoise", "requests"} <= names
    assert not {"pytest", "schemathesis", "ruff"} & names
