#!/usr/bin/env bash
# Start the machine's PostgreSQL 15 cluster on loopback and make the test role and database.
# Prints the URL tests use (THERMALSTREAM_TEST_PG_URL).
set -euo pipefail
VER=${PG_VERSION:-15}
USER_=thermalstream
PASS=thermalstream
DB=thermalstream_test
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
case "${1:-start}" in
  start)
    if ! pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
      $SUDO pg_ctlcluster "$VER" main start
    fi
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
    psql_() { $SUDO -u postgres psql -v ON_ERROR_STOP=1 -qAt "$@"; }
    if [ "$(id -u)" = 0 ]; then psql_() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $(printf '%q ' "$@")"; }; fi
    [ "$(psql_ -c "select 1 from pg_roles where rolname='$USER_'")" = 1 ] ||
      psql_ -c "create role $USER_ login password '$PASS' createdb"
    [ "$(psql_ -c "select 1 from pg_database where datname='$DB'")" = 1 ] ||
      psql_ -c "create database $DB owner $USER_"
    echo "postgresql+psycopg://$USER_:$PASS@127.0.0.1:5432/$DB"
    ;;
  stop) $SUDO pg_ctlcluster "$VER" main stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
