#!/usr/bin/env bash
# ensure-dockerd.sh: make a Docker engine answer, starting one if needed.
#
#   scripts/ensure-dockerd.sh            # idempotent; prints the engine version
#
# If `docker info` already answers, nothing is touched. Otherwise, as root,
# Debian's docker.io is installed when missing, a stale pid file left by a
# killed daemon is removed, and dockerd is started in the background. The pid
# of a daemon this script started is written to $DOCKERD_PIDFILE so that the
# caller can stop it again. Exit 0 when the engine answers, 2 when it cannot.
set -euo pipefail

DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/tmp/stackctl-dockerd.pid}
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/stackctl-dockerd.log}
WAIT_SECONDS=${WAIT_SECONDS:-60}

log() { printf 'ensure-dockerd: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  log "engine already answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  log "no Docker engine answers and this is not root: start dockerd yourself"
  exit 2
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq docker.io >/dev/null
fi

# A daemon killed at the end of an earlier session leaves its pid file behind,
# and a new dockerd refuses to start while it exists.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  log "removing stale /var/run/docker.pid"
  rm -f /var/run/docker.pid
fi

log "starting dockerd (log: $DOCKERD_LOG)"
nohup dockerd >"$DOCKERD_LOG" 2>&1 &
echo $! >"$DOCKERD_PIDFILE"

for _ in $(seq "$WAIT_SECONDS"); do
  if docker info >/dev/null 2>&1; then
    log "engine up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${WAIT_SECONDS}s; last log lines:"
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 2
