# `make test` is the whole suite, exactly what CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
TEST_FLAGS ?= -race -count=1 -timeout 12m

.PHONY: test tools contract-tools vet fmt-check lint build fuzz sandbox bench

GOBIN_DIR := $(shell $(GO) env GOBIN)
ifeq ($(GOBIN_DIR),)
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
endif

test: vet fmt-check lint contract-tools
	MINIO_BIN="$$(./scripts/install-tools.sh | tail -n 1)" REQUIRE_PDF_TOOLS=1 REQUIRE_MINIO=1 REQUIRE_NODE_CHECKS=1 REQUIRE_BROWSER=1 \
		$(GO) test $(TEST_FLAGS) $(PKGS)

tools:
	@./scripts/install-tools.sh >/dev/null

# The npm packages of scripts/contract-check (exact versions, package-lock.json)
# for docs/asyncapi_test.go: installed when node_modules is missing, or older
# than the lock file. Install scripts are not run (none is needed).
CONTRACT_CHECK := scripts/contract-check
contract-tools: $(CONTRACT_CHECK)/node_modules/.package-lock.json
$(CONTRACT_CHECK)/node_modules/.package-lock.json: $(CONTRACT_CHECK)/package-lock.json $(CONTRACT_CHECK)/package.json
	npm ci --prefix $(CONTRACT_CHECK) --ignore-scripts --no-audit --no-fund
	@touch $@

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

# golangci-lint, pinned and installed by scripts/install-tools.sh (.golangci.yml).
lint: tools
	$(GOBIN_DIR)/golangci-lint run ./...

build:
	$(GO) build -o bin/ ./cmd/...

# Short runs of every fuzz target (the seeds also run in `make test`).
FUZZTIME ?= 60s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

sandbox:
	$(GO) run ./cmd/aml-sandbox

# Benchmark programs: numbers are reported, never enforced as times (the
# e2e benchmarks fail on a lookup lost, failed or ended twice, or a process
# that exits: what they measure is only meaningful without those). The e2e
# ones (faults, e2e/faults_bench_test.go; throughput and memory at scale,
# e2e/scale_bench_test.go) run each scenario once, with the binaries as
# processes: about 10 minutes on 2 cores. SCALE_LOOKUPS, SCALE_ROUNDS and
# SCALE_SESSIONS change the scale scenarios' sizes. The console's run once
# too (internal/console/scale_bench_test.go: CONSOLE_N lookups, 100,000 by
# default, in an embedded NATS; under a minute).
bench: tools
	MINIO_BIN="$$(./scripts/install-tools.sh | tail -n 1)" $(GO) test -run '^$$' -bench . -benchmem -benchtime 200x -timeout 30m \
		./internal/worker ./internal/blob ./internal/sandbox
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/console
	MINIO_BIN="$$(./scripts/install-tools.sh | tail -n 1)" $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 40m ./e2e
