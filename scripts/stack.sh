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
  # From inside $STACK_DIR: tansu resolves a sqlite:// path relative to its working directory.
  (cd "$STACK_DIR" && exec env -u OTEL_EXPORTER_OTLP_ENDPOINT tansu broker \
    --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "$1" >tansu.log 2>&1) &
  echo $! >"$STACK_DIR/tansu.pid"
  PIDS+=("$!")
  wait_port 127.0.0.1 "$port" 30
  export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$port"
}

# ensure_postgres: a PostgreSQL server for the ledger and the services' state. Uses
# DATABASE_URL or the local server; starts a stopped local cluster; on a machine without
# PostgreSQL (and with apt-get) installs Debian's, starts it and gives the postgres role a
# password, then exports DATABASE_URL with it (Debian's default asks TCP clients for one).
ensure_postgres() {
  local url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null || [ -n "${DATABASE_URL:-}" ]; then return; fi
  if ! command -v pg_ctlcluster >/dev/null && command -v apt-get >/dev/null; then
    log "installing PostgreSQL (Debian package postgresql)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    local password="nopbridge-local"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_port 127.0.0.1 5432 30
    su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD '$password'\"" >/dev/null
    export DATABASE_URL="postgres://postgres:$password@127.0.0.1:5432/postgres"
    return
  fi
  if command -v pg_ctlcluster >/dev/null; then
    log "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_port 127.0.0.1 5432 30 || { log "PostgreSQL is not reachable; set DATABASE_URL ($url)"; exit 1; }
}

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap "exit 130" INT TERM

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

# demo_database NAME: a fresh database of the local PostgreSQL; prints its URL. The demo starts
# over on every run, because its emulators keep their state in memory.
demo_database() {
  local admin="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  psql "$admin" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  echo "${admin%/*}/$1"
}

# start_bg NAME CMD...: runs CMD in the background with its log in $STACK_DIR/NAME.log.
start_bg() {
  local name="$1"; shift
  "$@" >"$STACK_DIR/$name.log" 2>&1 &
  PIDS+=("$!")
}

# The demo: emulators for the store and its three back offices (QuickBooks Online for store 1,
# KashFlow for store 2, Dynamics GP for store 3; config/mapping/*-demo.yaml), the broker, and
# the four services wired like production, each from its own config file under $STACK_DIR/config.
DEMO_NOP=18081 DEMO_WEBHOOK=18090 DEMO_QBO=18089 DEMO_REALM=9341452248471234
DEMO_KF=18091 DEMO_GP=18092 DEMO_GP_SECRET=demo-gp-shared-secret
DEMO_QBO_HOOKS=18093 DEMO_QBO_VERIFIER=demo-qbo-verifier-token

# write_back_office_configs: the KashFlow account and the GP company as the demo mappings
# expect them (VAT rates; tax details, and the store's items with stock, since GP refuses a
# sale of an item it has none of: the store's catalogue is SKU-00001 ... SKU-00060).
write_back_office_configs() {
  local dir="$STACK_DIR/config"
  mkdir -p "$dir"
  cat >"$dir/kashflow-emulator.toml" <<EOF
port = $DEMO_KF
[[accounts]]
username = "demo"
password = "demo-password"
memorable_word = "pineapple"
company_name = "Acme Trading (EU) Ltd"
vat_rates = [0.0, 5.0, 7.0, 20.0]
EOF
  {
    cat <<EOF
port = $DEMO_GP
[auth]
shared_secret = "$DEMO_GP_SECRET"
[[companies]]
name = "TWO"
tax_details = ["UKVAT20S", "UKVAT5S", "UKVAT0S", "VAT7R"]
EOF
    # SKU-00007 has run out in GP while the store still sells it, so the UK store's orders
    # with it are refused (eConnect 4776) and dead-lettered with what to do: the demo's
    # failures for `nopbridge dlq list`.
    local i qty
    for i in $(seq 1 "${DEMO_PRODUCTS:-60}"); do
      qty=100000.0
      [ "$i" -eq 7 ] && qty=0.0
      printf '[[companies.items]]\nitemnmbr = "SKU-%05d"\ndescription = "Store item %d"\nquantities = { MAIN = %s }\n' "$i" "$i" "$qty"
    done
  } >"$dir/gp-emulator.toml"
}

write_demo_configs() {
  local dir="$STACK_DIR/config" refresh="$1"
  mkdir -p "$dir"
  local common="[kafka]
bootstrap_servers = \"$KAFKA_BOOTSTRAP_SERVERS\"
[telemetry]
log_format = \"text\""
  cat >"$dir/ingest.toml" <<EOF
$common
[grpc]
listen = "127.0.0.1:50051"
[service]
webhook_secret = "demo-webhook-secret"
webhook_listen = "127.0.0.1:$DEMO_WEBHOOK"
database_url = "$(demo_database nopbridge_ingest)"
[[service.connections]]
id = "shop-1"
tenant = "acme"
store_id = 1
dialect = "official"
base_url = "http://127.0.0.1:$DEMO_NOP"
username = "admin"
password = "admin-password"
store_currency = "USD"
poll_interval_ms = 5000
repoll_interval_ms = 15000
$(for store in 2 3; do printf '%s\n' "[[service.connections]]" "id = \"shop-$store\"" "tenant = \"acme\"" \
    "store_id = $store" "dialect = \"official\"" "base_url = \"http://127.0.0.1:$DEMO_NOP\"" \
    "username = \"admin\"" "password = \"admin-password\"" "store_currency = \"USD\"" \
    "poll_interval_ms = 5000" "repoll_interval_ms = 15000"; done)
EOF
  cat >"$dir/transform.toml" <<EOF
$common
[grpc]
listen = "127.0.0.1:50052"
[service]
mapping_dir = "$ROOT/config/mapping"
EOF
  cat >"$dir/connector-sink.toml" <<EOF
$common
[grpc]
listen = "127.0.0.1:50053"
[service]
database_url = "$(demo_database nopbridge_sink)"
[[service.quickbooks]]
connection_id = "qbo-realm-1"
realm_id = "$DEMO_REALM"
base_url = "http://127.0.0.1:$DEMO_QBO"
token_url = "http://127.0.0.1:$DEMO_QBO/oauth2/v1/tokens/bearer"
client_id = "emulator-client"
client_secret = "emulator-secret"
refresh_token = "$refresh"
home_currency = "USD"
create_missing_items = true
# Stock back-sync: QuickBooks movements the bridge did not cause (bills, counts, counter sales)
# become AdjustInventory in store 1 (config/mapping/store-demo.yaml), woken by the emulator's
# signed webhooks below, else every minute.
[service.quickbooks.stock_watch]
tenant = "acme"
store = "1"
[service.quickbooks_webhooks]
listen = "127.0.0.1:$DEMO_QBO_HOOKS"
verifier_token = "$DEMO_QBO_VERIFIER"
[[service.nopcommerce]]
connection_id = "shop-1-write-back"
base_url = "http://127.0.0.1:$DEMO_NOP"
username = "admin"
password = "admin-password"
# Store 2 (config/mapping/kashflow-demo.yaml): invoices in USD with the rate to GBP.
[[service.kashflow]]
connection_id = "kashflow-eu-1"
base_url = "http://127.0.0.1:$DEMO_KF/v2"
username = "demo"
password = "demo-password"
memorable_word = "pineapple"
home_currency = "GBP"
sales_nominal = 4000
shipping_nominal = 4905
other_nominal = 4900
bank_account_id = 1201
# Store 3 (config/mapping/gp-demo.yaml): SOP invoices (SOPTYPE 3, DOCID STDINV) at site MAIN
# in batches WEB<date>, returns as SOPTYPE 4 (STDRTN); USD documents as Z-US\$ with the rate.
[[service.dynamics_gp]]
connection_id = "gp-uk-1"
endpoint = "http://127.0.0.1:$DEMO_GP/gp/TWO/econnect"
shared_secret = "$DEMO_GP_SECRET"
home_currency = "GBP"
currency_ids = { USD = "Z-US\$", EUR = "Z-EURO" }
sale_document = "invoice"
site = "MAIN"
batch_prefix = "WEB"
checkbook = "UPTOWN TRUST"
tax_details = { "20" = "UKVAT20S", "5" = "UKVAT5S", "7" = "VAT7R", "0" = "UKVAT0S" }
[service.dynamics_gp.doc_ids]
invoice = "STDINV"
order = "STDORD"
return = "STDRTN"
EOF
  cat >"$dir/reconciler.toml" <<EOF
$common
[grpc]
listen = "127.0.0.1:50054"
[service]
database_url = "$(demo_database nopbridge)"
# Posted orders get a note with the QuickBooks document, and are marked paid in the store
# when the books hold the payment.
[[service.write_back]]
connection_id = "qbo-realm-1"
store_connection = "shop-1-write-back"
mark_paid = true
[[service.write_back]]
connection_id = "kashflow-eu-1"
store_connection = "shop-1-write-back"
mark_paid = true
[[service.write_back]]
connection_id = "gp-uk-1"
store_connection = "shop-1-write-back"
mark_paid = true
EOF
}

cmd_demo() {
  install_tools
  ensure_postgres
  cd "$ROOT"
  log "building (release)"
  cargo build --release --workspace --bins
  local bin="$ROOT/target/release"
  mkdir -p "$STACK_DIR"
  rm -f "$STACK_DIR"/tansu.db*
  start_broker "sqlite://tansu.db"
  "$bin/nopbridge-topics" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS"

  # The store: seeded history for the backfill, then live orders and status changes announced
  # by signed webhooks to ingest (retried until ingest is up).
  log "starting the nopCommerce emulator on 127.0.0.1:$DEMO_NOP (seeded store, live traffic)"
  start_bg nop-emulator "$bin/nop-emulator" --port "$DEMO_NOP" --seed 42 --orders "${DEMO_ORDERS:-300}" \
    --webhook-url "http://127.0.0.1:$DEMO_WEBHOOK/webhooks/nopcommerce/shop-1" \
    --webhook-secret demo-webhook-secret --live-orders-per-minute 20 --live-actions-per-minute 40
  wait_port 127.0.0.1 "$DEMO_NOP" 30

  log "starting the QuickBooks Online emulator on 127.0.0.1:$DEMO_QBO"
  mkdir -p "$STACK_DIR/config"
  cat >"$STACK_DIR/config/qbo-emulator.toml" <<EOF
port = $DEMO_QBO
[webhooks]
url = "http://127.0.0.1:$DEMO_QBO_HOOKS/webhooks/quickbooks"
verifier_token = "$DEMO_QBO_VERIFIER"
EOF
  start_bg qbo-emulator "$bin/qbo-emulator" --config "$STACK_DIR/config/qbo-emulator.toml"
  wait_port 127.0.0.1 "$DEMO_QBO" 30
  # The consent step: the emulator issues this realm's tokens as if the user clicked Connect.
  local tokens refresh
  tokens="$(curl -fsS -X POST "http://127.0.0.1:$DEMO_QBO/__emulator/realms/$DEMO_REALM/tokens")"
  refresh="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' <<<"$tokens")"
  # The accounts, payment methods and items the demo mapping names, set up once as an
  # accountant would.
  python3 "$ROOT/scripts/qbo-company-setup.py" "http://127.0.0.1:$DEMO_QBO/v3/company/$DEMO_REALM" \
    "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$tokens")" \
    "$ROOT/config/qbo-demo-company.json" >"$STACK_DIR/qbo-setup.log"

  write_back_office_configs
  log "starting the KashFlow emulator on 127.0.0.1:$DEMO_KF (store 2) and the Dynamics GP emulator on 127.0.0.1:$DEMO_GP (store 3)"
  start_bg kashflow-emulator "$bin/kashflow-emulator" --config "$STACK_DIR/config/kashflow-emulator.toml"
  start_bg gp-emulator "$bin/gp-emulator" --config "$STACK_DIR/config/gp-emulator.toml"
  wait_port 127.0.0.1 "$DEMO_KF" 30
  wait_port 127.0.0.1 "$DEMO_GP" 30
  write_demo_configs "$refresh"

  local port=50051
  for svc in ingest transform connector-sink reconciler; do
    log "starting $svc (gRPC 127.0.0.1:$port, metrics 127.0.0.1:$((port - 50051 + 9091)))"
    NOPBRIDGE_TELEMETRY__METRICS_LISTEN="127.0.0.1:$((port - 50051 + 9091))" \
      start_bg "$svc" "$bin/nopbridge-$svc" --config "$STACK_DIR/config/$svc.toml"
    port=$((port + 1))
  done
  for p in 50051 50052 50053 50054; do wait_port 127.0.0.1 "$p" 60; done

  log "stack is up: broker $KAFKA_BOOTSTRAP_SERVERS; store http://127.0.0.1:$DEMO_NOP; QuickBooks http://127.0.0.1:$DEMO_QBO (store 1); KashFlow http://127.0.0.1:$DEMO_KF (store 2); GP http://127.0.0.1:$DEMO_GP (store 3)"
  log "services on 127.0.0.1:50051-50054 (configs and logs in $STACK_DIR); try: $bin/nopbridge status"
  log "press Ctrl-C to stop"
  while sleep "${DEMO_REFRESH_SECONDS:-15}"; do
    printf '\n\033[1m%s\033[0m  QuickBooks: %s\n' "$(date +%T)" \
      "$(curl -fsS "http://127.0.0.1:$DEMO_QBO/__emulator/counters" 2>/dev/null || echo unavailable)"
    printf '  KashFlow: %s\n  GP: %s\n' \
      "$(curl -fsS "http://127.0.0.1:$DEMO_KF/__emulator/counters" 2>/dev/null || echo unavailable)" \
      "$(curl -fsS "http://127.0.0.1:$DEMO_GP/__emulator/counters" 2>/dev/null || echo unavailable)"
    "$bin/nopbridge" status || true
    "$bin/nopbridge" dlq list --limit 5 || true
  done
}

case "${1:-}" in
  test) cmd_test ;;
  demo) cmd_demo ;;
  install) install_tools ;;
  *) echo "usage: $0 {demo|test|install}" >&2; exit 2 ;;
esac
