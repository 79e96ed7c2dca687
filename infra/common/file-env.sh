#!/bin/sh
# file-env.sh: turn every FOO_FILE=/run/secrets/x into FOO=<contents>, then exec "$@".
#
# For images that cannot read secrets from files themselves (REQ-SPC-OPT-004).
# The value exists only in the environment of the process it is meant for; it
# never appears in the compose model, `docker inspect` or the command line.
#
# As postgres' docker-entrypoint `file_env`: FOO and FOO_FILE both set is an
# error, and so is an empty file. Only files under /run/secrets are read (a
# FOO_FILE elsewhere is left for the image); a path that climbs out with `..`
# or is a symlink is an error. No variable of this script reaches the command:
# the work is done on positional parameters, so a caller's `value` or `path`
# stays what it was.
#
# POSIX sh (busybox ash, dash, bash), needing only env, cut and cat: some
# images (Keycloak's ubi9-micro) are not known to ship sed or grep.
set -euf  # -f: no globbing of the words split from env

fail() {  # $1: the message; $2: the exit code (1 unless given)
  echo "file-env: $1" >&2
  exit "${2:-1}"
}

convert() {  # $1: a NAME_FILE variable; $2: its value (the secret's path)
  case "$2" in
    /run/secrets/*) ;;
    *) return 0 ;;  # only secrets mounts are trusted sources
  esac
  case "$2" in
    */../* | */..) fail "$1 leaves /run/secrets ('..' in its path)" ;;
  esac
  eval "[ -z \"\${${1%_FILE}:-}\" ]" || fail "both ${1%_FILE} and $1 are set (they are exclusive)"
  [ ! -h "$2" ] || fail "$1 points to a symlink"
  [ -f "$2" ] && [ -r "$2" ] || fail "$1 points to an unreadable file"
  # An assignment alone: a failing cat fails the script (set -e).
  eval "${1%_FILE}=\$(cat \"\$2\")"
  eval "[ -n \"\${${1%_FILE}}\" ]" || fail "$1 points to an empty file"
  export "${1%_FILE}"
  unset "$1"
}

convert_all() {  # $@: the names of the environment, some of them NAME_FILE
  while [ $# -gt 0 ]; do
    case "$1" in
      *_FILE) ;;
      *) shift; continue ;;
    esac
    case "${1%_FILE}" in
      "" | [0-9]* | *[!A-Za-z0-9_]*) shift; continue ;;  # not a name (e.g. a continuation line)
    esac
    eval "convert \"\$1\" \"\${$1-}\""
    shift
  done
}

[ $# -gt 0 ] || fail "no command to run (usage: file-env.sh COMMAND [ARG]...)" 2
command -v "$1" >/dev/null 2>&1 || fail "command not found: $1" 127
convert_all $(env | cut -d= -f1)
exec "$@"
