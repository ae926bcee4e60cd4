#!/usr/bin/env bash
# `make run`: PostgreSQL (local unless DATABASE_URL is set), migrations, then the web server,
# a qcluster worker and, unless CMMS_BASE_URL is set, the CMMS simulator: all in the
# foreground under honcho; Ctrl-C stops them all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p .local

if [[ -z "${SECRET_KEY:-}" ]]; then
  [[ -s .local/secret_key ]] || python -c 'import secrets; print(secrets.token_urlsafe(50))' > .local/secret_key
  SECRET_KEY="$(cat .local/secret_key)"
  export SECRET_KEY
fi
export PORT="${PORT:-8000}"
processes=(web worker)
if [[ -z "${CMMS_BASE_URL:-}" ]]; then
  export CMMS_SIM_PORT="${CMMS_SIM_PORT:-8081}"
  export CMMS_BASE_URL="http://127.0.0.1:$CMMS_SIM_PORT/api"
  export CMMS_TOKEN="${CMMS_TOKEN:-dev-cmms-token}"
  processes+=(cmms)
  echo "CMMS: the simulator with demo data at $CMMS_BASE_URL (set CMMS_BASE_URL for a real one)"
elif [[ -z "${CMMS_TOKEN:-}" ]]; then
  echo "CMMS_BASE_URL is set, so CMMS_TOKEN must be set too" >&2
  exit 1
fi

python manage.py migrate --noinput
python manage.py collectstatic --noinput -v 0
python manage.py demo_setup
echo "API:   http://127.0.0.1:$PORT/asset_predict   docs: http://127.0.0.1:$PORT/api/docs/"
echo "Admin: http://127.0.0.1:$PORT/admin/"
exec honcho start "${processes[@]}"
