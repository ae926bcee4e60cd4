"""gunicorn settings, shared by `make run` and the Dockerfile; tuned through the environment."""

import multiprocessing
import os

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Requests bigger than this never reach Django (the API's own limit answers 413 below it).
limit_request_line = 8190
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
