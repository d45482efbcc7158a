# berth — build, test, benchmark.
GO      ?= go
TAGS    := seccomp
BIN     := bin/berth
PKGS    := ./...

.PHONY: all build test unit integration bench vet fmt try clean

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

# A first taste: a throw-away daemon runs a container from a busybox image.
try: build
	./scripts/try.sh

vet:
	$(GO) vet -tags $(TAGS) $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
