# berth — build, test, benchmark.
GO      ?= go
TAGS    := seccomp
BIN     := bin/berth
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/berth-project/berth/internal/version.Version=$(VERSION)
PKGS    := ./...

.PHONY: all build test unit integration bench vet fmt try demo demo-clean e2e clean fuzz

all: build

# bin/berth-shim beside bin/berth is the per-container shim and init: the
# daemon runs it instead of itself (see cmd/berth-shim). bin/berth-visualizer
# is the static visualizer that `berth visualizer image` puts in an image.
build:
	$(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth
	$(GO) build -tags $(TAGS) -ldflags '-s -w' -o $(BIN)-shim ./cmd/berth-shim
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w' -o $(BIN)-visualizer ./cmd/berth-visualizer

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

# Fuzz the parsers of outside input: tar extraction, API requests and
# filters for FUZZTIME each, then the other parsers for FUZZTIME_OTHER.
# Not in .ci/run (too long); see docs/security.md.
FUZZTIME       ?= 10m
FUZZTIME_OTHER ?= 1m
FUZZFLAGS      ?=
fuzz:
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz '^FuzzApply$$' -fuzzminimizetime 5s $(FUZZFLAGS) -fuzztime $(FUZZTIME) ./internal/archive/
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz '^FuzzRequests$$' $(FUZZFLAGS) -fuzztime $(FUZZTIME) ./api/server/
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz '^FuzzParse$$' $(FUZZFLAGS) -fuzztime $(FUZZTIME) ./internal/filters/
	@set -e; for t in ./daemon/runtime/spec:FuzzParseSeccompProfile ./daemon/build:FuzzParseDockerfile \
		./daemon/image:FuzzApplyChanges ./daemon/registry:FuzzDecodeAuth ./daemon/lifecycle:FuzzParseBind \
		./cli/command/container:FuzzParseMount ./cli/command/container:FuzzParsePublish \
		./internal/portrange:FuzzParse ./daemon/logger/jsonfile:FuzzRead; do \
		$(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$${t#*:}$$" $(FUZZFLAGS) -fuzztime $(FUZZTIME_OTHER) "$${t%%:*}"; \
	done

vet:
	$(GO) vet -tags $(TAGS) $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
