#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 8s).
# The seed corpora under testdata/fuzz already run as plain tests in `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-8s}
for pkg in $($GO list ./...); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($FUZZTIME)"
    $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel 2 "$pkg" > /tmp/pier-fuzz.log 2>&1 || { cat /tmp/pier-fuzz.log; exit 1; }
  done
done
