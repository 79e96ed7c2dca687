#!/bin/sh
# pgpass.sh: write the passfile that servers.json names, then exec "$@" (the image's
# /entrypoint.sh).
#
# In server mode pgAdmin resolves the server's passfile "/.pgpass" inside the
# storage directory of the user who owns the server: <STORAGE_DIR>/<email with
# @ as _>, STORAGE_DIR being /var/lib/pgadmin/storage. The file is rewritten on
# every start from /run/secrets/postgres_password, so a rotated password reaches
# pgAdmin with the next restart. libpq ignores a passfile that others can read:
# umask 077 keeps it 0600 in a 0700 directory. Needs sh, sed, mkdir and cat
# (busybox in the image).
set -eu
umask 077
user_dir=$(printf '%s' "${PGADMIN_DEFAULT_EMAIL:?}" | sed -e 's/@/_/g' -e 's#/#slash#g' -e 's#\\#slash#g')
case "$user_dir" in
  [0-9]*) user_dir="pga_user_$user_dir" ;;
esac
storage="/var/lib/pgadmin/storage/$user_dir"
mkdir -p "$storage"
# A pgpass field escapes backslash and colon with a backslash.
password=$(sed -e 's/\\/\\\\/g' -e 's/:/\\:/g' /run/secrets/postgres_password)
printf 'postgres:5432:*:postgres:%s\n' "$password" > "$storage/.pgpass"
exec "$@"
