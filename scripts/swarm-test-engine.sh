#!/usr/bin/env bash
# swarm-test-engine.sh: a throwaway Docker engine running a single-node Swarm, for tests.
#
#   scripts/swarm-test-engine.sh start NAME ADDRESS [--no-new-privileges]
#   scripts/swarm-test-engine.sh stop NAME
#
# Each engine has its own socket (/tmp/stackctl-swarm-NAME/docker.sock), data
# root and pid file, no bridge and no iptables rules, so it never touches the
# host's main engine or its networks. Its Swarm listens on ADDRESS (a loopback
# address such as 127.0.0.2), so two of them can run side by side. `start`
# loads the images named in $SWARM_TEST_IMAGES from the main engine. `stop`
# leaves the Swarm, stops the engine and removes its directory.
# Needs root. Prints the socket path on success; exit 2 when it cannot.
set -euo pipefail

action=${1:?start or stop}
name=${2:?engine name}
base=/tmp/stackctl-swarm-$name
sock=$base/docker.sock
log() { printf 'swarm-test-engine: %s\n' "$*" >&2; }

stop_engine() {
  if [ -S "$sock" ]; then
    docker -H "unix://$sock" swarm leave --force >/dev/null 2>&1 || true
  fi
  if [ -s "$base/pid" ]; then
    pid=$(cat "$base/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # The engine unmounts its layers on a clean stop; anything left is unmounted here.
  grep -o " $base/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$base"
}

case "$action" in
  stop)
    stop_engine
    exit 0
    ;;
  start)
    address=${3:?loopback address for the Swarm}
    shift 3
    [ "$(id -u)" = 0 ] || { log "needs root"; exit 2; }
    command -v dockerd >/dev/null || { log "dockerd is not installed"; exit 2; }
    stop_engine
    mkdir -p "$base"
    nohup dockerd "$@" --data-root "$base/data" --exec-root "$base/exec" \
      --pidfile "$base/pid" -H "unix://$sock" --bridge=none --iptables=false \
      >"$base/dockerd.log" 2>&1 &
    for _ in $(seq 60); do
      docker -H "unix://$sock" info >/dev/null 2>&1 && break
      sleep 1
    done
    if ! docker -H "unix://$sock" info >/dev/null 2>&1; then
      log "engine $name did not start; last log lines:"
      tail -n 20 "$base/dockerd.log" >&2 || true
      exit 2
    fi
    for image in ${SWARM_TEST_IMAGES:-}; do
      docker save "$image" | docker -H "unix://$sock" load >/dev/null
    done
    # Distinct data-path ports keep two test swarms on one host apart.
    port=$((4789 + ${address##*.}))
    docker -H "unix://$sock" swarm init --advertise-addr "$address" \
      --listen-addr "$address:2377" --data-path-port "$port" >/dev/null
    echo "$sock"
    ;;
  *)
    log "unknown action $action"
    exit 2
    ;;
esac
