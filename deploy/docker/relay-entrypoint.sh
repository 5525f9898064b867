#!/bin/sh
# Entrypoint of the emulator images. The emulators bind 127.0.0.1 only (they are test doubles
# and must never be reachable by accident), so inside a container nothing else could reach
# them. This relays RELAY_PORT on every interface of the container to EMULATOR_PORT on
# loopback, then runs the emulator as the main process. Without RELAY_PORT it runs the
# emulator alone.
set -eu
if [ "$#" -eq 0 ]; then
  echo "usage: relay-entrypoint EMULATOR [ARGS...]" >&2
  exit 2
fi
if [ -n "${RELAY_PORT:-}" ]; then
  : "${EMULATOR_PORT:?EMULATOR_PORT (the emulator's loopback port) must be set with RELAY_PORT}"
  socat "TCP-LISTEN:${RELAY_PORT},fork,reuseaddr" "TCP:127.0.0.1:${EMULATOR_PORT}" &
fi
exec "$@"
