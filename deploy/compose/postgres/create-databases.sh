#!/bin/sh
# First start of the PostgreSQL container: one database per owner of state (ingest cursors,
# the connector's cross references and tokens, the reconciler's ledger), as in production.
set -eu
for db in nopbridge_ingest nopbridge_sink nopbridge_ledger; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE $db OWNER \"$POSTGRES_USER\""
done
