"""dtwin settings: one module, driven by the environment (see .env.example)."""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from cmms.client import validate_base_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str:
    """A string from the environment; fail loudly when required and missing."""
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    """A boolean from the environment: 1/true/yes/on or 0/false/no/off."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """An integer from the environment, at least `minimum`."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """A float from the environment, at least `minimum`."""
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_list(name: str, default: str) -> list[str]:
    """A comma-separated list from the environment."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# No production default for the secret: only a DEBUG run may go without one.
SECRET_KEY = env_str("SECRET_KEY", "insecure-debug-only-secret-key" if DEBUG else None)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://localhost,http://127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "cmms",
    "predictions",
    "workrequests",
]

MIDDLEWARE = [
    "predictions.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "predictions.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dtwin_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "dtwin_project.wsgi.application"

# PostgreSQL only: the queue relies on row locks (SELECT ... FOR UPDATE SKIP LOCKED).
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve from the finders when collectstatic has not run (tests, a first `make run`).
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

# --- API -------------------------------------------------------------------------------
# Largest accepted request body on the API; bigger bodies get 413 before they are read.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 65536, minimum=1024)
# Each process caches token → client this long, so authentication costs no query; a revoked
# token or deactivated client is refused within this time (0: look up on every request).
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 30)
# Requests per API client, "<n>/<second|minute|hour|day>" ("off" disables). Counted in the
# default cache, which is per process (LocMem): with N gunicorn workers a client may reach
# up to N times this rate. The throttle never touches the database.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "6000/min")
if API_RATE_LIMIT.lower() in {"off", "none", "0"}:
    API_RATE_LIMIT = ""
elif not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", API_RATE_LIMIT):
    raise ImproperlyConfigured(f"API_RATE_LIMIT must look like 6000/min, got {API_RATE_LIMIT!r}.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["predictions.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "predictions.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["predictions.authentication.ApiClientRateThrottle"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "dtwin API",
    "DESCRIPTION": (
        "Maintenance events in, reliability predictions out. Post a prediction request, "
        "get a job id, poll the job until it is done."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Predictions ------------------------------------------------------------------------
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "prediction_out")))
PREDICTION_HORIZON_DAYS = env_int("PREDICTION_HORIZON_DAYS", 7, minimum=1)
# A job left `processing` longer than this by a dead worker is requeued.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 150, minimum=2)
# A `queued` job whose task was not picked up for this long is enqueued again.
JOB_REQUEUE_AFTER_SECONDS = env_int("JOB_REQUEUE_AFTER_SECONDS", 300, minimum=2)
# How many times a job may be claimed before it ends `error` for good.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5, minimum=1)

# --- Work requests ---------------------------------------------------------------------
# A done prediction below this reliability proposes a work request (unless a planner set a
# threshold for the failure type or the asset failure type: the most specific applies).
WORK_REQUEST_THRESHOLD = env_float("WORK_REQUEST_THRESHOLD", 0.8)
# No new proposal for an asset and failure type this long after one was sent or rejected.
WORK_REQUEST_COOLDOWN_DAYS = env_float("WORK_REQUEST_COOLDOWN_DAYS", 2.0)
# Off unless set: proposals below this reliability are approved and sent without a planner.
WORK_REQUEST_AUTO_APPROVE_BELOW: float | None = (
    env_float("WORK_REQUEST_AUTO_APPROVE_BELOW", 0.0)
    if os.environ.get("WORK_REQUEST_AUTO_APPROVE_BELOW", "").strip()
    else None
)

# --- CMMS -------------------------------------------------------------------------------
CMMS_BASE_URL = env_str("CMMS_BASE_URL", "http://127.0.0.1:8081/api")
try:
    # Fail at start, not at the first job: http(s) only, no user:password in the URL.
    CMMS_BASE_URL = validate_base_url(CMMS_BASE_URL)
except ValueError as exc:
    raise ImproperlyConfigured(f"CMMS_BASE_URL: {exc}.") from None
CMMS_TOKEN = env_str("CMMS_TOKEN", "dev-cmms-token" if DEBUG else "")
CMMS_CONNECT_TIMEOUT = env_float("CMMS_CONNECT_TIMEOUT", 3.05, minimum=0.01)
CMMS_READ_TIMEOUT = env_float("CMMS_READ_TIMEOUT", 10.0, minimum=0.01)
CMMS_TOTAL_TIMEOUT = env_float("CMMS_TOTAL_TIMEOUT", 30.0, minimum=0.01)
CMMS_MAX_RETRIES = env_int("CMMS_MAX_RETRIES", 4)
CMMS_BACKOFF_FACTOR = env_float("CMMS_BACKOFF_FACTOR", 0.25)

# --- django-q2 --------------------------------------------------------------------------
Q_CLUSTER = {
    "name": "dtwin",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 4, minimum=1),
    # A task may run this long; `retry` must exceed it or a slow task is delivered twice.
    "timeout": env_int("Q_TIMEOUT", 120, minimum=1),
    "retry": env_int("Q_RETRY", 180, minimum=2),
    "max_attempts": 3,
    "poll": env_float("Q_POLL", 0.2, minimum=0.01),
    "bulk": env_int("Q_BULK", 4, minimum=1),
    "ack_failures": True,
    "catch_up": False,
    # -1: successful tasks are not stored (the job row holds the outcome); failures are.
    # A positive limit makes django-q2 lock every stored success on each task it saves.
    "save_limit": env_int("Q_SAVE_LIMIT", -1, minimum=-1),
    "sync": env_bool("Q_SYNC", False),
    "label": "Task queue",
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must exceed Q_TIMEOUT (django-q2 redelivers after retry).")
if JOB_LEASE_SECONDS <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        "JOB_LEASE_SECONDS must exceed Q_TIMEOUT, or live jobs get requeued."
    )

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS behind a TLS-terminating proxy: off by default so `make run` works on plain
# http://127.0.0.1; the Dockerfile turns them on (`manage.py check --deploy` passes then).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# /healthz answers plain HTTP too: the container's health check and load balancers call it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that always sets (and never forwards a client's) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is a commitment for the whole domain: opt in, hence security.W021 is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
