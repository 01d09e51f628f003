#!/usr/bin/env bash
# Create .venv and install oligotrial with its test extras. Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "oligotrial needs Python 3.11 or newer; installing Debian's python3" >&2
  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-dev >/dev/null
  PY=python3
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && "$PY" -m venv .venv; }
fi
stamp=.venv/.oligotrial-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
else
  # the package itself is installed editable; nothing else to do
  :
fi
