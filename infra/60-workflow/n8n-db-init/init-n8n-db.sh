#!/bin/sh
# Secrets are read from /run/secrets and passed on stdin or through a 0600
# pgpass file, never on a command line.
set -eu
umask 077
printf '*:*:*:postgres:%s\n' "$(cat /run/secrets/postgres_password)" > "$PGPASSFILE"
{
  printf '\\set n8n_password %s\n' "$(cat /run/secrets/n8n_db_password)"
  cat /opt/init/init-n8n-db.sql
} | psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet
rm -f "$PGPASSFILE"
echo "n8n-db-init: role and database n8n are ready"
