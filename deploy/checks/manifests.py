"""Checks on manifests rendered by `helm template` from deploy/helm/nopbridge, run by
scripts/check-deploy.sh in its checkers' virtualenv:

1. every object is valid against the Kubernetes OpenAPI schemas (strict: unknown fields fail)
   of each Kubernetes version given (custom resources are checked by rule 2 instead);
2. the chart's own rules: no Secret rendered (no secret values in the chart), every service
   probed on gRPC health of its Control service, requests and limits set, read-only non-root
   containers, a PDB and a Service per Deployment, HPAs only for transform and
   connector-sink, only known NOPBRIDGE_* configuration keys, shutdown shorter than the grace
   period, and the wiring of webhooks, mappings and metrics.

usage: manifests.py NAME RENDERED.yaml KUBE_VERSION...
"""
import sys

import kubernetes_validate
import yaml

COMPONENTS = {"ingest", "transform", "connector-sink", "reconciler"}
SCALED = {"transform", "connector-sink"}
SECTIONS = {"kafka", "grpc", "telemetry", "consumer", "service", "shutdown_deadline_ms"}
HEALTH_SERVICE = "nopbridge.control.v1.Control"
CUSTOM = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def component(obj):
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def validate_schemas(docs, versions):
    for d in docs:
        if (d["apiVersion"], d["kind"]) in CUSTOM:
            continue
        for v in versions:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                first = str(e).splitlines()[0]
                raise Failure(f"{d['kind']}/{d['metadata']['name']} is invalid for Kubernetes {v}: {first}")


def container_port(container, name):
    ports = [p["containerPort"] for p in container.get("ports", []) if p["name"] == name]
    return ports[0] if ports else None


def check_deployment(dep, docs):
    name, comp = dep["metadata"]["name"], component(dep)
    check(comp in COMPONENTS, f"Deployment {name} has an unknown component {comp}")
    pod = dep["spec"]["template"]["spec"]
    check(pod["securityContext"].get("runAsNonRoot") is True, f"{name}: pods must run as non-root")
    check(pod.get("automountServiceAccountToken") is False, f"{name}: the services need no API token")
    (c,) = pod["containers"]
    sc = c["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
          f"{name}: container must be read-only without privilege escalation")
    for kind in ("requests", "limits"):
        res = c["resources"].get(kind, {})
        check("cpu" in res and "memory" in res, f"{name}: resources.{kind} needs cpu and memory")
    grpc_port = container_port(c, "grpc")
    check(grpc_port, f"{name}: no grpc port")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        g = c.get(probe, {}).get("grpc")
        check(g is not None, f"{name}: {probe} must be a native gRPC probe")
        check(g["port"] == grpc_port and g.get("service") == HEALTH_SERVICE,
              f"{name}: {probe} must check {HEALTH_SERVICE} on the grpc port")
    # The configuration the container reads.
    refs = c.get("envFrom", [])
    cm_names = [r["configMapRef"]["name"] for r in refs if "configMapRef" in r]
    check(len(cm_names) == 1 and any("secretRef" in r for r in refs), f"{name}: needs its ConfigMap and Secret")
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == cm_names[0]]
    env = dict(cm["data"])
    env.update({e["name"]: "<secret>" for e in c.get("env", [])})
    for key in env:
        check(key.startswith("NOPBRIDGE_"), f"{name}: {key} is not a nopbridge setting")
        if key != "NOPBRIDGE_CONFIG":
            section = key[len("NOPBRIDGE_"):].split("__")[0].lower()
            check(section in SECTIONS, f"{name}: {key} is not a configuration key (the service would refuse to start)")
    check(env["NOPBRIDGE_GRPC__LISTEN"] == f"0.0.0.0:{grpc_port}", f"{name}: gRPC listens elsewhere than its port")
    deadline_ms = int(env["NOPBRIDGE_SHUTDOWN_DEADLINE_MS"])
    check(deadline_ms < pod["terminationGracePeriodSeconds"] * 1000,
          f"{name}: shutdown deadline must end before the grace period")
    metrics_port = container_port(c, "metrics")
    if metrics_port:
        check(env.get("NOPBRIDGE_TELEMETRY__METRICS_LISTEN") == f"0.0.0.0:{metrics_port}", f"{name}: metrics port mismatch")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    if "NOPBRIDGE_CONFIG" in env:
        check(env["NOPBRIDGE_CONFIG"] in mounts, f"{name}: NOPBRIDGE_CONFIG names a file that is not mounted")
    if comp == "ingest" and "NOPBRIDGE_SERVICE__WEBHOOK_LISTEN" in env:
        hook_port = container_port(c, "webhooks")
        check(env["NOPBRIDGE_SERVICE__WEBHOOK_LISTEN"] == f"0.0.0.0:{hook_port}", f"{name}: webhook port mismatch")
        check(any(s["metadata"]["name"].endswith("-webhooks") and s["spec"]["ports"][0]["targetPort"] == "webhooks"
                  for s in by_kind(docs, "Service")), f"{name}: no webhooks Service")
    if comp == "transform":
        check(mounts.get(env.get("NOPBRIDGE_SERVICE__MAPPING_DIR")) == "mapping", f"{name}: mapping directory not mounted")
    # Its PDB and Service.
    labels = dep["spec"]["selector"]["matchLabels"]
    check(any(p["spec"]["selector"]["matchLabels"] == labels for p in by_kind(docs, "PodDisruptionBudget")),
          f"{name}: no PodDisruptionBudget")
    svcs = [s for s in by_kind(docs, "Service") if s["spec"]["selector"] == labels]
    check(any(p["name"] == "grpc" for s in svcs for p in s["spec"]["ports"]), f"{name}: no gRPC Service")
    return comp


def check_all(name, docs):
    check(not by_kind(docs, "Secret"), "the chart must not render Secrets (credentials come from existing ones)")
    deployments = by_kind(docs, "Deployment")
    comps = {check_deployment(d, docs) for d in deployments}
    check(comps == COMPONENTS, f"expected a Deployment per service, got {sorted(comps)}")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in hpas}
    check({component(h) for h in hpas} == SCALED, f"HPAs must exist for exactly {sorted(SCALED)}")
    for d in deployments:
        if d["metadata"]["name"] in targets:
            check("replicas" not in d["spec"], f"{d['metadata']['name']}: replicas must be left to its HPA")
        h = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == d["metadata"]["name"]]
        if h:
            check(h[0]["spec"]["minReplicas"] <= h[0]["spec"]["maxReplicas"], "HPA minReplicas above maxReplicas")
    for sm in by_kind(docs, "ServiceMonitor"):
        check(sm["spec"]["endpoints"][0]["port"] == "metrics", "ServiceMonitor must scrape the metrics port")
        check(any(p["name"] == "metrics" for s in by_kind(docs, "Service") for p in s["spec"]["ports"]),
              "ServiceMonitor without a metrics port on the Services")
    for rule in by_kind(docs, "PrometheusRule"):
        rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
        check(rules and all(r.get("alert") and r.get("expr") for r in rules), "PrometheusRule without alerts")
    if name == "production":
        check(by_kind(docs, "ServiceMonitor") and by_kind(docs, "PrometheusRule") and by_kind(docs, "Ingress"),
              "production values must render the ServiceMonitor, PrometheusRule and webhook Ingress")
        for d in deployments:
            (c,) = d["spec"]["template"]["spec"]["containers"]
            check(any(e["name"] == "NOPBRIDGE_GRPC__AUTH_TOKEN" for e in c.get("env", [])),
                  f"{d['metadata']['name']}: production values must protect the Control API")


def main():
    name, path, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    try:
        validate_schemas(docs, versions)
        check_all(name, docs)
    except Failure as e:
        print(f"manifest check FAILED ({name} values): {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{len(docs)} manifests ({name} values) valid for Kubernetes {', '.join(versions)}", file=sys.stderr)


if __name__ == "__main__":
    main()
