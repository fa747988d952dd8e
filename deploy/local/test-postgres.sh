#!/usr/bin/env bash
# Prints a DATABASE_URL for the test suite, starting a server if none is set.
# A private throwaway cluster (trust auth, Unix socket only, fsync off) keeps
# the tests off any server the machine runs for other purposes.
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] && command -v initdb >/dev/null; then
  bin=$(dirname "$(command -v initdb)")
fi
if [ -z "$bin" ]; then
  echo "installing PostgreSQL (apt-get install postgresql)..." >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

dir=${CURIO_TEST_PG_DIR:-/tmp/curio-test-postgres-$(id -u)}
mkdir -p "$dir/socket"
as=()
if [ "$(id -u)" = 0 ]; then
  # initdb and postgres refuse to run as root.
  chown -R postgres "$dir"
  as=(runuser -u postgres --)
fi
if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
  "${as[@]}" "$bin/initdb" -D "$dir/pgdata" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
fi
if ! "${as[@]}" "$bin/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then
  "${as[@]}" "$bin/pg_ctl" -D "$dir/pgdata" -l "$dir/pgdata/server.log" -w -t 60 \
    -o "-c listen_addresses='' -k $dir/socket -p 5432 -c fsync=off -c max_connections=200" start >&2
fi
echo "postgres://postgres@localhost/postgres?host=$dir/socket&port=5432"
