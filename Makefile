# Pier. The quick start is two commands: `make run` and `make test`.
# Targets stay thin; the scripts under .ci/ and scripts/ hold the logic.
GO        ?= go
FUZZTIME  ?= 8s
ARGS      ?=
STATICCHECK ?= v0.8.2

.PHONY: run demo-deps build test deps vet unit fuzz conformance bench clean

## run: serve Pier on :1337 with its embedded defaults (ARGS="-addr host:port" to change).
## The demo page loads the pinned sails.io.js bundle, installed with npm first
## (Pier serves without it if npm is missing).
## (Built, then run: `go run` exits 1 on Ctrl-C whatever the program does.)
run: demo-deps
	$(GO) build -o bin/pier ./cmd/pier
	bin/pier $(ARGS)

demo-deps:
	@test -f testdata/js/node_modules/sails.io.js/dist/sails.io.js || \
	  (cd testdata/js && npm ci --no-audit --no-fund --loglevel=error) || \
	  echo "npm ci failed: the demo page will not find sails.io.js (Pier still serves)"
	@test -f testdata/admin/node_modules/@socket.io/admin-ui/ui/dist/index.html || \
	  (cd testdata/admin && npm ci --no-audit --no-fund --loglevel=error) || \
	  echo "npm ci failed: the admin dashboard (@socket.io/admin-ui) will not be served"

build:
	$(GO) build -o bin/pier ./cmd/pier

## test: everything CI runs: vet (gofmt, go vet, darwin and windows builds,
## staticcheck), the race-enabled tests (they install the npm
## clients themselves), and a short run of every fuzz target.
test: deps vet unit fuzz

## deps: what the tests need from Debian (CI runs as root on a fresh machine).
deps:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@command -v node >/dev/null || { echo "node and npm are needed (Node.js 20+)"; exit 1; }
	@test -n "$$PIER_CHROMIUM" || test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./... && GOOS=windows $(GO) build ./...
	@test -x bin/staticcheck || GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK)
	bin/staticcheck ./...

unit:
	$(GO) test -race -count=1 -timeout 10m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## conformance: run the official protocol suites against `pier conformance`.
## SUITES is a checkout of the socketio/socket.io repository's docs folder
## (the suites are not on npm); see scripts/conformance.sh.
conformance:
	scripts/conformance.sh $(SUITES)

## bench: Pier against the Node reference (socket.io 4.8.4) and the Go port
## zishang520/socket.io v3 (its own module in testdata/bench/zishang520, built
## here; its first build fetches it from the Go module proxy) in the same run,
## each server pinned to core 0 and the load generator to core 1; writes
## bench-results/ (table, JSON, SVG). BENCH_ARGS="-list" shows the scenarios.
bench:
	$(GO) build -o bin/pier-bench ./cmd/pier-bench
	cd testdata/bench/zishang520 && $(GO) build -o ../../../bin/zishang520-bench .
	bin/pier-bench $(BENCH_ARGS)

clean:
	rm -rf bin

## soak: two Pier servers over a private redis-server under mixed traffic with
## client churn for DURATION (default 10m; not in CI), printing RSS, heap and
## goroutines every 30s: both columns should stay flat.
DURATION ?= 10m
.PHONY: soak
soak:
	$(GO) run ./cmd/pier-soak -duration $(DURATION)
