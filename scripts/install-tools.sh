#!/usr/bin/env bash
# Installs what the test suite needs, when it is missing:
#   - MinIO, built from the Go module proxy at a pinned version, into $(go env GOPATH)/bin
#     (outside the repo; about 3-5 minutes on 2 cores, once per machine);
#   - golangci-lint, built from the Go module proxy at a pinned version, into the same place
#     (about a minute, once);
#   - pdfinfo (poppler-utils) and qpdf from Debian, to check the sandbox's PDF reports;
#   - Chromium, Debian's package chromium (with its dependencies about 1.5 minutes
#     and 350 MB, once), for the console's browser tests, unless CHROMIUM_BIN names one or
#     chromium or chromium-browser is on PATH.
# It prints the path of the MinIO binary on its last line of output to stdout.
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
minio="$gobin/minio"

have_pinned_minio() {
	[ -x "$minio" ] && go version -m "$minio" 2>/dev/null | grep -q "mod[[:space:]]*github.com/minio/minio[[:space:]]*${MINIO_VERSION}"
}

if ! have_pinned_minio; then
	echo "install-tools: building MinIO ${MINIO_VERSION} into $gobin (a few minutes, once)" >&2
	GOFLAGS=-buildvcs=false go install "github.com/minio/minio@${MINIO_VERSION}" >&2
fi

GOLANGCI_LINT_VERSION="${GOLANGCI_LINT_VERSION:-v2.15.0}"
lint="$gobin/golangci-lint"
if ! { [ -x "$lint" ] && go version -m "$lint" 2>/dev/null | grep -q "mod[[:space:]]*github.com/golangci/golangci-lint/v2[[:space:]]*${GOLANGCI_LINT_VERSION}"; }; then
	echo "install-tools: building golangci-lint ${GOLANGCI_LINT_VERSION} into $gobin (a minute, once)" >&2
	GOFLAGS=-buildvcs=false go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}" >&2
fi

debs=()
if ! command -v pdfinfo >/dev/null 2>&1 || ! command -v qpdf >/dev/null 2>&1; then
	debs+=(poppler-utils qpdf)
fi
if [ -z "${CHROMIUM_BIN:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	debs+=(chromium)
fi
if [ "${#debs[@]}" -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "install-tools: installing ${debs[*]} from Debian" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}"; } >&2
	else
		echo "install-tools: ${debs[*]} missing and cannot apt-get install them; PDF checks will fail under REQUIRE_PDF_TOOLS=1, browser tests under REQUIRE_BROWSER=1" >&2
	fi
fi

echo "$minio"
