# dtwin image: the same processes as `make run` (Procfile), run by honcho or one at a time.
#   docker build -t dtwin .
#   docker run -e DATABASE_URL=... -e SECRET_KEY=... -e CMMS_BASE_URL=... -e CMMS_TOKEN=... \
#              -e ALLOWED_HOSTS=dtwin.example.com dtwin                        # web (gunicorn)
#   docker run ... dtwin honcho start worker                                   # qcluster
#   docker run ... dtwin python manage.py migrate --noinput                    # once per deploy
# docker-compose.yml wires PostgreSQL, migrate, web, worker and the CMMS simulator together.

FROM python:3.11-slim AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /tmp/requirements.txt
# The runtime section only: what follows "# Tests and tooling" stays out of the image.
RUN sed '/^# Tests and tooling/,$d' /tmp/requirements.txt > /tmp/runtime.txt \
    && pip install --no-cache-dir -r /tmp/runtime.txt

FROM python:3.11-slim
# Production defaults: HTTPS behind a TLS-terminating proxy that sets X-Forwarded-Proto
# (`manage.py check --deploy --fail-level WARNING` passes with these; tests/security checks it).
# A plain-HTTP demo (docker-compose.yml) turns SECURE_SSL_REDIRECT and the secure cookies off.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=8000 \
    DATA_DIR=/data/predictions DEBUG=false \
    SECURE_SSL_REDIRECT=true SECURE_PROXY_SSL_HEADER=true SECURE_HSTS_SECONDS=31536000 \
    SESSION_COOKIE_SECURE=true CSRF_COOKIE_SECURE=true
RUN useradd --create-home --uid 10001 dtwin && mkdir -p /data/predictions && chown -R dtwin /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . .
# collectstatic needs settings only, not a database: throwaway values at build time.
RUN DATABASE_URL=postgres://build@localhost/build SECRET_KEY=build-only CMMS_TOKEN=build-only \
    python manage.py collectstatic --noinput -v 0 && mkdir -p .local && chown dtwin .local
# The code stays root-owned and read-only to the service; only /data is writable.
USER dtwin
VOLUME ["/data"]
EXPOSE 8000
# /healthz answers over plain HTTP and any Host (tells only whether the database answers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"
# The Procfile's web process: gunicorn with dtwin_project/gunicorn.conf.py, as `make run`.
CMD ["honcho", "start", "web"]
