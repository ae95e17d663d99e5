# shardgate: build, test, demo, benchmark. See README.md.
#
#   make build   bin/shardgate (version from git describe)
#   make test    go vet + all tests (unit and integration; installs missing Debian packages as root)
#   make demo    3 throwaway MariaDB servers + the proxy on 127.0.0.1:15306 (Ctrl-C stops it)
#   make bench   sysbench through shardgate, a bare TCP relay and direct MariaDB (bench/README.md)
#   make bench-ha  20 kill -9 failovers under write load, and reads on replicas (docs/ha.md)
#   make bench-reshard  online reshard 2→4 under load: copy rate, lag, VDiff, switch pauses (docs/workflows.md)
#   make fmt     gofmt -s -w every Go file
#   make clean   remove bin/

SHELL := /bin/bash
# Go lives in /usr/local/go on the CI and dev machines; a go already in PATH comes after it.
export PATH := $(if $(wildcard /usr/local/go/bin/go),/usr/local/go/bin:)$(PATH)

GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)
# extra flags for go test, e.g. make test TESTFLAGS='-v -run TestSmoke'
TESTFLAGS ?=
TEST_TIMEOUT ?= 25m

# benchmark knobs (see bench/README.md); exported so bench/run.sh sees them
export BENCH_TIME BENCH_ROUNDS BENCH_THREADS BENCH_ROWS BENCH_MODES BENCH_TESTS BENCH_WARMUP BENCH_RECORD BENCH_TARGETS BENCH_BASELINE \
	BENCH_SCAN_ROWS BENCH_SCAN_REPS BENCH_SCAN_PROTOCOLS BENCH_MUX_THREADS BENCH_MUX_DIRECT_THREADS BENCH_MUX_POOL BENCH_MUX_TEST

.PHONY: all build test vet demo bench bench-ha bench-reshard fmt clean deps

all: build

# A static binary (no cgo: Go's own DNS resolver and user lookup), as docs/operations.md says.
build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/shardgate ./cmd/shardgate

# Installs the missing Debian packages when run as root (otherwise warns), then vets and runs every
# test. go test's own output is kept as is (CI reads its "ok", "FAIL" and "--- FAIL" lines); vet
# problems fail the target but do not stop the tests from running.
test:
	@scripts/deps.sh ensure
	@rc=0; \
	echo "$(GO) vet ./..."; $(GO) vet ./... || rc=1; \
	echo "$(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS)"; \
	$(GO) test ./... -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) || rc=1; \
	exit $$rc

vet:
	$(GO) vet ./...

deps:
	scripts/deps.sh install

# mariadb-server is required (installed when missing and root, else a message and stop); the
# mariadb client is only needed to connect, so it is a warning.
demo:
	@scripts/deps.sh ensure mariadb-server mariadb-client && scripts/deps.sh check mariadb-server
	@$(MAKE) --no-print-directory build
	bin/shardgate demo

# builds bin/shardgate, bin/relay, bin/sgbench itself; BENCH_* settings in bench/README.md
bench:
	bench/run.sh

# HA_TRIALS (default 20), HA_MODE (kill or stop), HA_RECORD (append the report to that file)
HA_TRIALS ?= 20
HA_MODE   ?= kill
bench-ha:
	@scripts/deps.sh check mariadb-server
	$(GO) run ./bench/cmd/hafailover -trials $(HA_TRIALS) -mode $(HA_MODE) $(if $(HA_RECORD),-record $(HA_RECORD))

# RESHARD_ARGS: flags of bench/cmd/reshardbench (-rows, -threads, -cycles, -throttle, …;
# bench/README.md); RESHARD_RECORD appends the report to that file.
RESHARD_ARGS ?=
bench-reshard: build
	@scripts/deps.sh check mariadb-server
	$(GO) run ./bench/cmd/reshardbench -shardgate bin/shardgate $(RESHARD_ARGS) $(if $(RESHARD_RECORD),-record $(RESHARD_RECORD))

fmt:
	gofmt -s -w $$(git ls-files -co --exclude-standard '*.go')

clean:
	rm -rf bin
