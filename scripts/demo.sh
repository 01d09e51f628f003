#!/usr/bin/env bash
# The main job on the embedded default: screen the shipped example patients against all five
# protocols and print the table (SQLite is the default store for the service commands).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >&2
exec .venv/bin/oligotrial screen --examples "$@"
