"""Checks on the resolved docker-compose.yml (`docker compose config --format json`), run by
scripts/check-deploy.sh: the wiring the services depend on, which `config` alone cannot see.

usage: compose.py DEFAULT.json OTLP.json
"""
import json
import sys

SERVICES = ["ingest", "transform", "connector-sink", "reconciler"]
# Top-level keys of the services' configuration (crates/runtime/src/config.rs): any other
# NOPBRIDGE_* variable stops a service at start (unknown key).
SECTIONS = {"kafka", "grpc", "telemetry", "consumer", "service", "shutdown_deadline_ms"}
PROBE = "-service=nopbridge.control.v1.Control"


def fail(msg):
    print(f"compose check FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def env_of(svc):
    return svc.get("environment") or {}


def check_default(cfg):
    services = cfg["services"]
    for name in ["kafka", "postgres", "topics", "nop-emulator", "qbo-emulator", "kashflow-emulator", "gp-emulator",
                 "qbo-consent", *SERVICES]:
        if name not in services:
            fail(f"service {name} missing from the default stack")
    for name in ["otel-collector", "jaeger", "prometheus", "cli"]:
        if name in services:
            fail(f"{name} must only run with its profile")
    for name in SERVICES:
        svc = services[name]
        env = env_of(svc)
        for key in env:
            if key.startswith("NOPBRIDGE_") and key != "NOPBRIDGE_CONFIG":
                section = key[len("NOPBRIDGE_"):].split("__")[0].lower()
                if section not in SECTIONS:
                    fail(f"{name}: {key} is not a configuration key (the service would refuse to start)")
        if env.get("NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS") != "kafka:9092":
            fail(f"{name}: not wired to the compose broker")
        if env.get("NOPBRIDGE_GRPC__LISTEN") != "0.0.0.0:50051":
            fail(f"{name}: gRPC must listen on 0.0.0.0:50051 inside the container")
        if not env.get("NOPBRIDGE_GRPC__AUTH_TOKEN"):
            fail(f"{name}: the control token (secrets/control.env) is not loaded")
        if "NOPBRIDGE_TELEMETRY__OTLP_ENDPOINT" in env:
            fail(f"{name}: OTLP export must be off unless OTLP is set")
        test = " ".join(svc.get("healthcheck", {}).get("test", []))
        if "grpc_health_probe" not in test or PROBE not in test:
            fail(f"{name}: healthcheck must probe gRPC health of the Control service")
        deps = svc.get("depends_on", {})
        if deps.get("topics", {}).get("condition") != "service_completed_successfully":
            fail(f"{name}: must start after the topics job")
        if not svc.get("read_only"):
            fail(f"{name}: root filesystem must be read-only")
    for name, key in [("ingest", "NOPBRIDGE_SERVICE__WEBHOOK_SECRET"), ("ingest", "NOPBRIDGE_SERVICE__DATABASE_URL"),
                      ("connector-sink", "NOPBRIDGE_SERVICE__DATABASE_URL"), ("reconciler", "NOPBRIDGE_SERVICE__DATABASE_URL")]:
        if not env_of(services[name]).get(key):
            fail(f"{name}: required secret {key} is not loaded from its env file")
    for name, key in [("ingest", "NOPBRIDGE_SERVICE__CONNECTIONS"), ("connector-sink", "NOPBRIDGE_SERVICE__QUICKBOOKS"),
                      ("connector-sink", "NOPBRIDGE_SERVICE__KASHFLOW"), ("connector-sink", "NOPBRIDGE_SERVICE__DYNAMICS_GP")]:
        value = env_of(services[name]).get(key, "")
        if not (value.startswith("[{") and value.endswith("}]")):
            fail(f"{name}: {key} must be an inline list of tables, got {value[:20]!r}")
    # Every store the demo mappings route (config/mapping/*-demo.yaml: stores 1, 2, 3) is read
    # by ingest.
    for store in (1, 2, 3):
        if f"store_id={store}," not in env_of(services["ingest"]).get("NOPBRIDGE_SERVICE__CONNECTIONS", ""):
            fail(f"ingest: no connection reads store {store}")
    # The KashFlow and GP connections reach their emulators (the port the image relays), which
    # run with a mounted config; the sink starts after them.
    sink = env_of(services["connector-sink"])
    for emulator, key, url, config_env in [
        ("kashflow-emulator", "NOPBRIDGE_SERVICE__KASHFLOW", "http://kashflow-emulator:8091/", "KASHFLOW_EMULATOR_CONFIG"),
        ("gp-emulator", "NOPBRIDGE_SERVICE__DYNAMICS_GP", "http://gp-emulator:8092/", "GP_EMULATOR_CONFIG"),
    ]:
        if url not in sink.get(key, ""):
            fail(f"connector-sink: {key} must point at {url}")
        emu = services[emulator]
        mounted = [v.get("target") for v in emu.get("volumes") or []]
        if env_of(emu).get(config_env) not in mounted:
            fail(f"{emulator}: {config_env} must name its mounted config file")
        if emulator not in (services["connector-sink"].get("depends_on") or {}):
            fail(f"connector-sink: must start after {emulator}")
    # The store's webhooks reach ingest's receiver, signed with the secret ingest checks.
    nop = env_of(services["nop-emulator"])
    if not nop.get("NOP_EMULATOR_WEBHOOK_URL", "").startswith("http://ingest:8080/webhooks/nopcommerce/"):
        fail("nop-emulator: webhooks must go to ingest's receiver")
    if nop.get("NOP_EMULATOR_WEBHOOK_SECRET") != env_of(services["ingest"]).get("NOPBRIDGE_SERVICE__WEBHOOK_SECRET"):
        fail("nop-emulator and ingest disagree on the webhook secret")
    for name, svc in services.items():
        for dep, how in (svc.get("depends_on") or {}).items():
            if how.get("condition") == "service_completed_successfully" and services[dep].get("restart") not in (None, "no"):
                fail(f"{name} waits for {dep} to complete, but {dep} restarts")


def check_otlp(cfg):
    services = cfg["services"]
    for name in ["otel-collector", "jaeger", "prometheus"]:
        if name not in services:
            fail(f"{name} missing from the observability profile")
    for name in SERVICES:
        if env_of(services[name]).get("NOPBRIDGE_TELEMETRY__OTLP_ENDPOINT") != "http://otel-collector:4317":
            fail(f"{name}: OTLP=1 must send traces to the collector")


def main():
    with open(sys.argv[1]) as f:
        check_default(json.load(f))
    with open(sys.argv[2]) as f:
        check_otlp(json.load(f))
    print("compose checks passed", file=sys.stderr)


if __name__ == "__main__":
    main()
