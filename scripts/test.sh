#!/usr/bin/env bash
# The whole test suite, from a fresh machine: venv, dependencies, a PostgreSQL server, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if url=$(bash scripts/postgres.sh); then
  export OLIGOTRIAL_TEST_POSTGRES_URL="$url"
  echo "PostgreSQL for integration tests: $url"
else
  echo "no PostgreSQL could be reached or started" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
if paths=$(bash scripts/browser.sh); then
  echo "browser for the browser tests: $(echo $paths | tr '\n' ' ')"
else
  echo "Debian's chromium/chromium-driver could not be installed" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
# the browser tests keep their screenshots here (dashboard, screening worklist, participant page...)
export OLIGOTRIAL_SCREENSHOTS="${OLIGOTRIAL_SCREENSHOTS:-$PWD/test-artifacts/screenshots}"
echo "screenshots of the browser tests: $OLIGOTRIAL_SCREENSHOTS"
exec .venv/bin/python -m pytest "$@"
