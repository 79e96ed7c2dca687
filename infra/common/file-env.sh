#!/bin/sh
# file-env.sh: turn every FOO_FILE=/run/secrets/x into FOO=<contents>, then exec "$@".
#
# For images that cannot read secrets from files themselves (REQ-SPC-OPT-004).
# The value exists only in the environment of the process it is meant for; it
# never appears in the compose model, `docker inspect` or the command line.
set -eu
for var in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
  eval "path=\${${var}_FILE}"
  case "$path" in
    /run/secrets/*) ;;
    *) continue ;;  # only secrets mounts are trusted sources
  esac
  if [ ! -r "$path" ]; then
    echo "file-env: ${var}_FILE points to an unreadable file" >&2
    exit 1
  fi
  value=$(cat "$path")
  export "$var=$value"
  unset "${var}_FILE"
done
exec "$@"
