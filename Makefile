# Pier. The quick start is two commands: `make run` and `make test`.
# Targets stay thin; the scripts under .ci/ and scripts/ hold the logic.
GO        ?= go
FUZZTIME  ?= 8s
ARGS      ?=

.PHONY: run build test vet unit fuzz conformance bench clean

## run: serve Pier on :1337 with its embedded defaults (ARGS="-addr host:port" to change)
run:
	$(GO) run ./cmd/pier $(ARGS)

build:
	$(GO) build -o bin/pier ./cmd/pier

## test: everything CI runs: vet, the race-enabled tests (they install the npm
## clients themselves), and a short run of every fuzz target.
test: vet unit fuzz

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 10m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## conformance: run the official protocol suites against `pier conformance`.
## SUITES is a checkout of the socketio/socket.io repository's docs folder
## (the suites are not on npm); see scripts/conformance.sh.
conformance:
	scripts/conformance.sh $(SUITES)

clean:
	rm -rf bin
