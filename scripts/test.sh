#!/usr/bin/env bash
# `make test`: lint, Django's checks, schema validation, then the whole pytest suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export SECRET_KEY="${SECRET_KEY:-test-secret-key-not-for-production}"
export CMMS_TOKEN="${CMMS_TOKEN:-test-cmms-token}"
export DATA_DIR="${DATA_DIR:-$ROOT/.local/test-data}"

echo "== ruff"
ruff check .
ruff format --check .
echo "== django checks"
python manage.py check --fail-level WARNING
python manage.py makemigrations --check --dry-run >/dev/null || {
  echo "models changed without a migration: run manage.py makemigrations" >&2; exit 1; }
python manage.py spectacular --validate --fail-on-warn --file /dev/null
python manage.py collectstatic --noinput -v 0
scripts/ensure-browser.sh
echo "== pytest"
python -m pytest "$@"
