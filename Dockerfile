# syntax=docker/dockerfile:1.7
# hadolint global ignore=DL3008
#
# nopbridge images: one small image per binary, all cut from one shared build stage, so
# `docker compose build` compiles the workspace once and each image carries only its binary.
#
#   docker build --target ingest         -t nopbridge/ingest .
#   docker build --target transform      -t nopbridge/transform .
#   docker build --target connector-sink -t nopbridge/connector-sink .
#   docker build --target reconciler     -t nopbridge/reconciler .
#   docker build --target topics         -t nopbridge/topics .          (creates the topics)
#   docker build --target cli            -t nopbridge/cli .             (the `nopbridge` command)
#   docker build --target nop-emulator   -t nopbridge/nop-emulator .
#   docker build --target qbo-emulator   -t nopbridge/qbo-emulator .
#   docker build --target kashflow-emulator -t nopbridge/kashflow-emulator .
#   docker build --target gp-emulator    -t nopbridge/gp-emulator .
#   docker build --target emulator --build-arg BIN=<binary> -t nopbridge/<binary> .
#                                         (any other emulator)
#   docker build --target binary   --build-arg BIN=<binary> .   (any other workspace binary)
#   docker build .                        (last stage `all`: every binary, for debugging)
#
# Why one image per binary rather than one image with all: a pod pulls and scans only what it
# runs, a CVE in an emulator's dependencies never ships to production, and each image's
# entrypoint is its binary. The build stage is shared, so there is no extra compile.
#
# Runtime base: debian slim rather than distroless, because the binaries link libz
# dynamically (rdkafka's default build), the emulators need a shell and socat for their
# loopback relay (see deploy/docker/relay-entrypoint.sh), and a shell helps on-call. Every
# image runs as the unprivileged user 10001. No protoc is needed: crates/proto uses protox.

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm
ARG GO_VERSION=1.26

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
ARG RUST_VERSION
# librdkafka is built from source by rdkafka-sys (configure + make, no cmake); libz for it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev python3 \
 && rm -rf /var/lib/apt/lists/*
# The image's toolchain, without the extra components rust-toolchain.toml lists for developers.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo
WORKDIR /src
# Only what cargo needs, so edits to docs or deploy/ do not invalidate this stage.
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY proto proto
COPY crates crates
COPY services services
COPY emulators emulators
COPY tests tests
# Every shipping binary of the workspace (new emulators are picked up without editing this
# file); the test-support crate is left out. target/ lives in a cache mount, so the binaries
# are copied out to /out within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --workspace --bins --exclude nopbridge-tests \
 && mkdir -p /out \
 && find target/release -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \; \
 && ls -l /out

# ---------------------------------------------------------------------------------------------
# grpc_health_probe for docker compose healthchecks (Kubernetes uses its native gRPC probes).
FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS grpc-health-probe
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.56
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath -ldflags="-s -w" \
      github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION}

# ---------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 nopbridge \
 && useradd --system --uid 10001 --gid nopbridge --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin nopbridge
ENV NO_COLOR=1
WORKDIR /tmp

# The four services: gRPC control on 50051, Prometheus /metrics on 9090 when configured.
FROM runtime AS service
COPY --from=grpc-health-probe /out/grpc-health-probe /usr/local/bin/grpc_health_probe
EXPOSE 50051 9090
USER 10001:10001

FROM service AS ingest
COPY --from=builder /out/nopbridge-ingest /usr/local/bin/
# The webhook receiver (service.webhook_listen).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/nopbridge-ingest"]

FROM service AS transform
COPY --from=builder /out/nopbridge-transform /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/nopbridge-transform"]

FROM service AS connector-sink
COPY --from=builder /out/nopbridge-connector-sink /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/nopbridge-connector-sink"]

FROM service AS reconciler
COPY --from=builder /out/nopbridge-reconciler /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/nopbridge-reconciler"]

FROM runtime AS topics
COPY --from=builder /out/nopbridge-topics /usr/local/bin/
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/nopbridge-topics"]

FROM runtime AS cli
COPY --from=builder /out/nopbridge /usr/local/bin/
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/nopbridge"]

FROM runtime AS binary
ARG BIN
RUN test -n "${BIN}" || { echo "--build-arg BIN=<binary name> is required" >&2; exit 1; }
COPY --from=builder /out/${BIN} /usr/local/bin/
ENV BIN=${BIN}
USER 10001:10001
# exec form cannot expand variables; the shell form keeps the name given at build time.
ENTRYPOINT ["/bin/sh", "-c", "exec \"/usr/local/bin/$BIN\" \"$@\"", "--"]

# ---------------------------------------------------------------------------------------------
# Emulators listen on 127.0.0.1 only; relay-entrypoint.sh forwards RELAY_PORT on every
# interface to EMULATOR_PORT on loopback so other containers can reach them. They stop on
# SIGINT (Ctrl-C), which is what `docker stop` sends them.
FROM runtime AS emulator-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends socat \
 && rm -rf /var/lib/apt/lists/*
COPY --chmod=0755 deploy/docker/relay-entrypoint.sh /usr/local/bin/relay-entrypoint
STOPSIGNAL SIGINT
USER 10001:10001

FROM emulator-base AS nop-emulator
COPY --from=builder /out/nop-emulator /usr/local/bin/
ENV EMULATOR_PORT=18081 RELAY_PORT=8081 NOP_EMULATOR_PORT=18081
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/relay-entrypoint", "/usr/local/bin/nop-emulator"]

FROM emulator-base AS qbo-emulator
COPY --from=builder /out/qbo-emulator /usr/local/bin/
ENV EMULATOR_PORT=18089 RELAY_PORT=8089 QBO_EMULATOR_PORT=18089
EXPOSE 8089
ENTRYPOINT ["/usr/local/bin/relay-entrypoint", "/usr/local/bin/qbo-emulator"]

FROM emulator-base AS kashflow-emulator
COPY --from=builder /out/kashflow-emulator /usr/local/bin/
ENV EMULATOR_PORT=18091 RELAY_PORT=8091 KASHFLOW_EMULATOR_PORT=18091
EXPOSE 8091
ENTRYPOINT ["/usr/local/bin/relay-entrypoint", "/usr/local/bin/kashflow-emulator"]

FROM emulator-base AS gp-emulator
COPY --from=builder /out/gp-emulator /usr/local/bin/
ENV EMULATOR_PORT=18092 RELAY_PORT=8092 GP_EMULATOR_PORT=18092
EXPOSE 8092
ENTRYPOINT ["/usr/local/bin/relay-entrypoint", "/usr/local/bin/gp-emulator"]

FROM emulator-base AS emulator
ARG BIN
RUN test -n "${BIN}" || { echo "--build-arg BIN=<emulator binary name> is required" >&2; exit 1; }
COPY --from=builder /out/${BIN} /usr/local/bin/
ENV BIN=${BIN}
ENTRYPOINT ["/bin/sh", "-c", "exec /usr/local/bin/relay-entrypoint \"/usr/local/bin/$BIN\" \"$@\"", "--"]

# ---------------------------------------------------------------------------------------------
# Default target: every binary in one image (debugging, one-off jobs). Deploy the per-binary
# targets above.
FROM runtime AS all
COPY --from=builder /out/ /usr/local/bin/
COPY --from=grpc-health-probe /out/grpc-health-probe /usr/local/bin/grpc_health_probe
USER 10001:10001
