#!/usr/bin/env bash
# The whole test suite, from a fresh machine: venv, dependencies, a PostgreSQL server, pytest.
#   bash scripts/test.sh [PYTEST ARGS...]         the whole suite (the CI default)
#   bash scripts/test.sh --fast [PYTEST ARGS...]  the unit layer (tests/unit, or the paths given)
#     without the tests marked postgres, browser or slow, and without setting up PostgreSQL or the
#     browser; under 90 s once .venv exists
set -euo pipefail
cd "$(dirname "$0")/.."
# pytest keeps its rewritten test modules (and Python its compiled sources) in __pycache__: a
# second run does not parse and rewrite every test file again (about 4 s of the unit layer's start)
unset PYTHONDONTWRITEBYTECODE
if [ "${1:-}" = "--fast" ]; then
  shift
  [ -x .venv/bin/python ] || bash scripts/bootstrap.sh
  paths=(tests/unit)
  for arg in "$@"; do
    case "$arg" in -*) ;; *) if [ -e "${arg%%::*}" ]; then paths=(); fi ;; esac
  done
  exec .venv/bin/python -m pytest "${paths[@]}" -m "not postgres and not browser and not slow" "$@"
fi
bash scripts/bootstrap.sh
# the static checks (configured in pyproject.toml): lint, formatting, types. A failure fails the run,
# after the tests have run too (one CI log says everything that is wrong)
checks=0
echo "checks: ruff check src tests; ruff format --check src; mypy (pyproject [tool.mypy] files)"
.venv/bin/ruff check --no-cache src tests || checks=1  # no cache: a moved helper module changes import order (first-party) without touching the importers
.venv/bin/ruff format --no-cache --check src || checks=1
.venv/bin/python -m mypy || checks=1
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
rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$checks" -ne 0 ]; then
  echo "the static checks failed (ruff or mypy, above)" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
