# Pier: the two commands of the quick start are `make run` and `make test`.
GO ?= go
export PATH := $(shell $(GO) env GOROOT)/bin:$(PATH)

.PHONY: run test build
run:
	$(GO) run ./cmd/pier $(ARGS)

build:
	$(GO) build -o bin/pier ./cmd/pier

test:
	$(GO) vet ./...
	$(GO) test -race ./...
