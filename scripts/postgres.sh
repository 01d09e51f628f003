#!/usr/bin/env bash
# Print a PostgreSQL URL the tests can use, starting a server if none is reachable.
# Order: $OLIGOTRIAL_TEST_POSTGRES_URL if set and reachable; a server on 127.0.0.1:5432 with
# trust auth (database "test"); else Debian's PostgreSQL, installed if missing, run as a private
# throw-away cluster on port 54329 under .pgtest/. Exits non-zero if none can be had.
set -uo pipefail
cd "$(dirname "$0")/.."
try() { # url
  .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys, psycopg
with psycopg.connect(sys.argv[1], connect_timeout=3) as c:
    c.execute("select 1")
PY
}
if [ -n "${OLIGOTRIAL_TEST_POSTGRES_URL:-}" ] && try "$OLIGOTRIAL_TEST_POSTGRES_URL"; then
  echo "$OLIGOTRIAL_TEST_POSTGRES_URL"; exit 0
fi
for url in "postgresql://postgres@127.0.0.1:5432/test" "postgresql://root@127.0.0.1:5432/test" "postgresql://postgres@127.0.0.1:5432/postgres"; do
  if try "$url"; then echo "$url"; exit 0; fi
done
port=54329
url="postgresql://postgres@127.0.0.1:${port}/postgres"
if try "$url"; then echo "$url"; exit 0; fi
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bindir" ]; then
  echo "installing Debian's postgresql for the integration tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 || exit 1
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
[ -n "$bindir" ] || exit 1
data=$(pwd)/.pgtest/data
mkdir -p .pgtest
runas=""
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd -r -m postgres >&2
  chown -R postgres .pgtest
  runas="runuser -u postgres --"
fi
if [ ! -f "$data/PG_VERSION" ]; then
  $runas "$bindir/initdb" -D "$data" -A trust -U postgres >&2 || exit 1
fi
$runas "$bindir/pg_ctl" -D "$data" -l "$(pwd)/.pgtest/log" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300" -w start >&2 || true
for _ in $(seq 1 30); do try "$url" && { echo "$url"; exit 0; }; sleep 1; done
exit 1
