#!/bin/sh
# The database container's start: on the first start (an empty volume) initdb, then the three roles
# with the passwords given (SPECTRA_OWNER_PASSWORD, SPECTRA_APP_PASSWORD, SPECTRA_SEQUENCER_PASSWORD) and
# the database spectra; then PostgreSQL in the foreground (SIGINT: a fast, clean stop).
set -eu
bin=/usr/lib/postgresql/15/bin
data=/var/lib/postgresql/data/pgdata
port=${PGPORT:-5432}
if [ ! -s "$data/PG_VERSION" ]; then
  : "${SPECTRA_OWNER_PASSWORD:?set SPECTRA_OWNER_PASSWORD}" "${SPECTRA_APP_PASSWORD:?set SPECTRA_APP_PASSWORD}"
  : "${SPECTRA_SEQUENCER_PASSWORD:?set SPECTRA_SEQUENCER_PASSWORD}"
  mkdir -p "$data"
  "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  {
    echo "listen_addresses = '${PG_LISTEN_ADDRESSES:-*}'"
    echo "port = $port"
    echo "unix_socket_directories = '/run/postgresql'"
  } >>"$data/postgresql.conf"
  {
    echo "host all all 0.0.0.0/0 scram-sha-256"
    echo "host all all ::/0 scram-sha-256"
  } >>"$data/pg_hba.conf"
  "$bin/pg_ctl" -D "$data" -o "-c listen_addresses=''" -l /tmp/spectra-init.log -w start >/dev/null \
    || { cat /tmp/spectra-init.log >&2; exit 1; }
  psql -X -q -v ON_ERROR_STOP=1 -p "$port" -h /run/postgresql -U postgres -d postgres \
    -v owner="$SPECTRA_OWNER_PASSWORD" -v app="$SPECTRA_APP_PASSWORD" -v seq="$SPECTRA_SEQUENCER_PASSWORD" <<'SQL'
CREATE ROLE spectra LOGIN CREATEROLE PASSWORD :'owner';
CREATE ROLE spectra_app LOGIN PASSWORD :'app';
CREATE ROLE spectra_sequencer LOGIN PASSWORD :'seq';
CREATE DATABASE spectra OWNER spectra;
SQL
  "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  echo "spectra-postgres: initialized the cluster and its roles"
fi
exec "$bin/postgres" -D "$data"
