#!/bin/sh
# file-env.sh: turn every FOO_FILE=/run/secrets/x into FOO=<contents>, then exec "$@".
#
# For images that cannot read secrets from files themselves (REQ-SPC-OPT-004).
# The value exists only in the environment of the process it is meant for; it
# never appears in the compose model, `docker inspect` or the command line.
#
# Needs only sh, env, cut and cat: some images (Keycloak's ubi9-micro) are not
# known to ship sed or grep.
set -euf  # -f: no globbing of the words split from env
for name in $(env | cut -d= -f1); do
  case "$name" in
    *_FILE) var=${name%_FILE} ;;
    *) continue ;;
  esac
  case "$var" in
    "" | [0-9]* | *[!A-Za-z0-9_]*) continue ;;  # not a variable name (e.g. a continuation line)
  esac
  eval "path=\${${name}-}"
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
