# Sourced by the Makefile's scripts: the environment every command runs in.
# A given DATABASE_URL is used as it is; otherwise the project-local cluster is started.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
if [[ -z "${DATABASE_URL:-}" ]]; then
  DATABASE_URL="$(scripts/localdb.sh start)" || { echo "could not start the local PostgreSQL" >&2; exit 1; }
  export DATABASE_URL
fi
export PYTHONUNBUFFERED=1
