# dtwin image: the same processes as `make run` (Procfile), run by honcho or one at a time.
#   docker build -t dtwin .
#   docker run -e DATABASE_URL=... -e SECRET_KEY=... -e CMMS_BASE_URL=... -e CMMS_TOKEN=... dtwin          # web
#   docker run ... dtwin honcho start worker                                                             # qcluster
FROM python:3.11-slim AS build
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=8000 \
    DATA_DIR=/data/predictions
RUN useradd --create-home --uid 10001 dtwin && mkdir -p /data/predictions && chown -R dtwin /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=dtwin . .
# collectstatic needs settings only, not a database: give it throwaway values at build time.
RUN DATABASE_URL=postgres://build@localhost/build SECRET_KEY=build-only CMMS_TOKEN=build-only \
    python manage.py collectstatic --noinput -v 0
USER dtwin
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"
# The web process of the Procfile; migrations run once per deploy: `docker run ... dtwin python manage.py migrate`.
CMD ["honcho", "start", "web"]
