# `make test` is the whole suite, exactly what CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
TEST_FLAGS ?= -race -count=1 -timeout 12m

.PHONY: test tools vet fmt-check build fuzz sandbox bench

test: vet fmt-check
	MINIO_BIN="$$(./scripts/install-tools.sh | tail -n 1)" REQUIRE_PDF_TOOLS=1 REQUIRE_MINIO=1 \
		$(GO) test $(TEST_FLAGS) $(PKGS)

tools:
	@./scripts/install-tools.sh >/dev/null

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

build:
	$(GO) build -o bin/ ./cmd/...

# Short runs of every fuzz target (the seeds also run in `make test`).
FUZZTIME ?= 15s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

sandbox:
	$(GO) run ./cmd/aml-sandbox

# Benchmark programs: numbers are reported, never enforced by tests.
bench: tools
	MINIO_BIN="$$(./scripts/install-tools.sh | tail -n 1)" $(GO) test -run '^$$' -bench . -benchmem -benchtime 200x \
		./internal/worker ./internal/blob ./internal/sandbox ./e2e
