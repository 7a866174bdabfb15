# syntax=docker/dockerfile:1
#
# One Dockerfile, one image per binary. A single builder stage compiles all
# four commands (one module download, one build cache); each runtime stage
# carries only its own static binary on distroless/static, so the worker image
# holds no webhook code and the bridge image no AML client or S3 credentials
# path, and each image's ENTRYPOINT is its binary.
#
#   docker build --target worker         -t ghcr.io/kybflow/kybflow-worker:dev .
#   docker build --target webhook-bridge -t ghcr.io/kybflow/kybflow-webhook-bridge:dev .
#   docker build --target aml-sandbox    -t ghcr.io/kybflow/kybflow-aml-sandbox:dev .
#   docker build --target amlctl         -t ghcr.io/kybflow/amlctl:dev .
#   docker build --target console        -t ghcr.io/kybflow/kybflow-console:dev .
#
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 --target worker ...
# (the builder runs natively and cross-compiles; CGO is off).
#
# Runtime images run as 65532:65532 (distroless "nonroot"), write nothing to
# the root filesystem and work with readOnlyRootFilesystem: true.

ARG GO_VERSION=1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local
# Modules first, so that a source change does not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download -x
COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/ \
        ./cmd/worker ./cmd/webhook-bridge ./cmd/aml-sandbox ./cmd/amlctl ./cmd/console

# ---- amlctl: submit, follow and fetch lookups (e.g. kubectl run -it --rm ... amlctl events) ----
FROM ${RUNTIME_IMAGE} AS amlctl
LABEL org.opencontainers.image.source="https://github.com/kybflow/kybflow" \
      org.opencontainers.image.title="amlctl" \
      org.opencontainers.image.description="Command-line client of kybflow: submit lookups, follow events, download results"
COPY --from=build /out/amlctl /usr/local/bin/amlctl
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/amlctl"]

# ---- aml-sandbox: the BankID AML API emulator (development and tests only) ----
FROM ${RUNTIME_IMAGE} AS aml-sandbox
LABEL org.opencontainers.image.source="https://github.com/kybflow/kybflow" \
      org.opencontainers.image.title="kybflow-aml-sandbox" \
      org.opencontainers.image.description="Emulator of the BankID AML API with synthetic data (not for production)"
COPY --from=build /out/aml-sandbox /usr/local/bin/aml-sandbox
# Its default, 127.0.0.1:8480, is unreachable from outside a container.
ENV SANDBOX_LISTEN=:8480
EXPOSE 8480
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/aml-sandbox"]

# ---- webhook-bridge: POST /webhooks/{lookupId} on :8080, ops on :9091 ----
FROM ${RUNTIME_IMAGE} AS webhook-bridge
LABEL org.opencontainers.image.source="https://github.com/kybflow/kybflow" \
      org.opencontainers.image.title="kybflow-webhook-bridge" \
      org.opencontainers.image.description="Receives BankID AML webhooks and republishes them to NATS JetStream"
COPY --from=build /out/webhook-bridge /usr/local/bin/webhook-bridge
EXPOSE 8080 9091
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/webhook-bridge"]

# ---- console: pages, documents, /healthz and /readyz on :8090 ----
FROM ${RUNTIME_IMAGE} AS console
LABEL org.opencontainers.image.source="https://github.com/kybflow/kybflow" \
      org.opencontainers.image.title="kybflow-console" \
      org.opencontainers.image.description="The web console of kybflow: lookups, their events and documents, dead letters, monitors, audit"
COPY --from=build /out/console /usr/local/bin/console
EXPOSE 8090
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/console"]

# ---- worker: ops (/healthz, /readyz, /metrics) on :9090 ----
# Last, so that a build without --target produces the worker.
FROM ${RUNTIME_IMAGE} AS worker
LABEL org.opencontainers.image.source="https://github.com/kybflow/kybflow" \
      org.opencontainers.image.title="kybflow-worker" \
      org.opencontainers.image.description="Runs kybflow lookups: JetStream commands to BankID AML sessions, results to S3, CloudEvents out"
COPY --from=build /out/worker /usr/local/bin/worker
EXPOSE 9090
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/worker"]
