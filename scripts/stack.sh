#!/usr/bin/env bash
# nopbridge local stack. Used by both README commands and by CI.
#   scripts/stack.sh demo    install what is missing, start broker + topics + services, show status
#   scripts/stack.sh test    install what is missing, start a broker, run fmt, clippy, the
#                            deployment checks (scripts/check-deploy.sh) and all tests
#   scripts/stack.sh install only install the tools (tansu, cargo-nextest)
# Environment: KAFKA_BOOTSTRAP_SERVERS (use that broker instead of starting tansu),
# DATABASE_URL (PostgreSQL for tests; default the local server), STACK_DIR (default .stack).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${STACK_DIR:-$ROOT/.stack}"
TANSU_VERSION="0.6.0"
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '\033[1m[stack]\033[0m %s\n' "$*" >&2; }

install_tools() {
  if ! command -v cargo >/dev/null; then
    log "cargo is required (https://rustup.rs)"; exit 1
  fi
  if ! command -v tansu >/dev/null || ! tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    log "installing tansu $TANSU_VERSION from crates.io (one-time, 10-15 minutes on 2 cores)"
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
  fi
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest"
    cargo install cargo-nextest --locked
  fi
  # No protoc needed: crates/proto compiles the .proto files with protox (pure Rust).
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # host port seconds
  local end=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    [ $SECONDS -lt $end ] || { log "nothing listening on $1:$2 after $3 s"; return 1; }
    sleep 0.2
  done
}

# start_broker STORAGE: starts tansu on a free port unless KAFKA_BOOTSTRAP_SERVERS is set.
start_broker() {
  if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    log "using broker $KAFKA_BOOTSTRAP_SERVERS"; return
  fi
  mkdir -p "$STACK_DIR"
  local port; port="$(free_port)"
  log "starting tansu on 127.0.0.1:$port ($1)"
  env -u OTEL_EXPORTER_OTLP_ENDPOINT tansu broker \
    --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "$1" >"$STACK_DIR/tansu.log" 2>&1 &
  echo $! >"$STACK_DIR/tansu.pid"
  PIDS+=("$!")
  wait_port 127.0.0.1 "$port" 30
  export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$port"
}

ensure_postgres() {
  local url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null || [ -n "${DATABASE_URL:-}" ]; then return; fi
  if command -v pg_ctlcluster >/dev/null; then
    log "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_port 127.0.0.1 5432 30 || { log "PostgreSQL is not reachable; set DATABASE_URL ($url)"; exit 1; }
}

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cmd_test() {
  install_tools
  ensure_postgres
  start_broker "memory://tansu/"
  cd "$ROOT"
  log "fmt";    cargo fmt --all -- --check
  log "clippy"; cargo clippy --workspace --all-targets -- -D warnings
  # Dockerfile, docker-compose.yml and the Helm chart (tools cached after the first run);
  # before the tests so that the test runner's summary stays the last lines CI reads.
  log "deploy"; bash "$ROOT/scripts/check-deploy.sh"
  log "tests";  cargo nextest run --workspace --no-fail-fast
}

# demo_database: the reconciler's ledger database on the local PostgreSQL, created if missing.
demo_database() {
  local admin="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = 'nopbridge'" | grep -q 1; then
    log "creating database nopbridge"
    psql "$admin" -qc "CREATE DATABASE nopbridge"
  fi
  echo "${admin%/*}/nopbridge"
}

cmd_demo() {
  install_tools
  ensure_postgres
  cd "$ROOT"
  log "building (release)"
  cargo build --release --workspace --bins
  local bin="$ROOT/target/release"
  mkdir -p "$STACK_DIR"
  start_broker "sqlite://$STACK_DIR/tansu.db"
  "$bin/nopbridge-topics" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS"
  export NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP_SERVERS"
  export NOPBRIDGE_TELEMETRY__LOG_FORMAT=text
  local ledger_url; ledger_url="$(demo_database)"
  local port=50051
  for svc in ingest transform connector-sink reconciler; do
    log "starting $svc (gRPC 127.0.0.1:$port)"
    case "$svc" in
      ingest) export NOPBRIDGE_SERVICE__WEBHOOK_SECRET="${NOPBRIDGE_SERVICE__WEBHOOK_SECRET:-demo-webhook-secret}" ;;
      reconciler) export NOPBRIDGE_SERVICE__DATABASE_URL="$ledger_url" ;;
      transform) export NOPBRIDGE_SERVICE__MAPPING_DIR="$ROOT/config/mapping" ;;
      *) unset NOPBRIDGE_SERVICE__WEBHOOK_SECRET NOPBRIDGE_SERVICE__DATABASE_URL NOPBRIDGE_SERVICE__MAPPING_DIR ;;
    esac
    NOPBRIDGE_GRPC__LISTEN="127.0.0.1:$port" "$bin/nopbridge-$svc" >"$STACK_DIR/$svc.log" 2>&1 &
    PIDS+=("$!")
    port=$((port + 1))
  done
  for p in 50051 50052 50053 50054; do wait_port 127.0.0.1 "$p" 60; done
  log "stack is up: broker $KAFKA_BOOTSTRAP_SERVERS, services on 127.0.0.1:50051-50054, logs in $STACK_DIR"
  log "press Ctrl-C to stop"
  wait
}

case "${1:-}" in
  test) cmd_test ;;
  demo) cmd_demo ;;
  install) install_tools ;;
  *) echo "usage: $0 {demo|test|install}" >&2; exit 2 ;;
esac
