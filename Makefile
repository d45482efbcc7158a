# berth — build, test, benchmark.
GO      ?= go
TAGS    := seccomp
BIN     := bin/berth
PKGS    := ./...

.PHONY: all build test unit integration bench vet fmt try demo demo-clean e2e clean

all: build

build:
	$(GO) build -tags $(TAGS) -o $(BIN) ./cmd/berth

# Unit tests, then the integration suite against a real daemon (needs root).
test: build
	$(GO) vet -tags $(TAGS) $(PKGS)
	BERTH_BINARY=$(CURDIR)/$(BIN) $(GO) test -tags $(TAGS) -count=1 -timeout 30m -p 1 $(PKGS)

unit:
	$(GO) test -tags $(TAGS) -count=1 $$($(GO) list ./... | grep -v /integration)

integration: build
	BERTH_BINARY=$(CURDIR)/$(BIN) $(GO) test -tags $(TAGS) -count=1 -timeout 30m -v ./integration/

# Performance figures beside their targets (printed, never asserted).
bench: build
	BERTH_BINARY=$(CURDIR)/$(BIN) $(GO) run ./scripts/bench

# Docker's Get Started app, end to end: base image from Debian's mirror,
# build, run with -p 4000:80 on a user network, push/pull through a
# registry of our own. Clean up with `make demo-clean`.
demo:
	./scripts/demo.sh

demo-clean:
	./scripts/demo-clean.sh

# The demo as a test: asserts visits 1, 2, 3, a 12-hex hostname, the
# registry round trip and a cached second bootstrap; always cleans up.
e2e:
	./scripts/e2e.sh

# A first taste: a throw-away daemon runs a container from a busybox image.
try: build
	./scripts/try.sh

vet:
	$(GO) vet -tags $(TAGS) $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
