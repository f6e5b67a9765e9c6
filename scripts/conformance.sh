#!/usr/bin/env bash
# Runs the official Engine.IO v4, v3 and Socket.IO v5 test suites against one
# `pier conformance` process on localhost:3000.
#
#   scripts/conformance.sh DOCS_DIR [eio4|eio3|sio5]...
#
# DOCS_DIR is the docs/ folder of the socketio/socket.io repository, which
# holds engine.io-protocol/v4-test-suite, engine.io-protocol/v3-test-suite and
# socket.io-protocol/v5-test-suite (mocha; they are not published on npm).
set -uo pipefail
cd "$(dirname "$0")/.."
docs=${1:?usage: scripts/conformance.sh DOCS_DIR [eio4|eio3|sio5]...}
shift
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(eio4 eio3 sio5)

go build -o bin/pier ./cmd/pier || exit 2
bin/pier conformance -addr localhost:3000 -log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://localhost:3000/" && break; sleep 0.1; done

status=0
summary=()
for s in "${suites[@]}"; do
  case $s in
    eio4) dir=$docs/engine.io-protocol/v4-test-suite ;;
    eio3) dir=$docs/engine.io-protocol/v3-test-suite ;;
    sio5) dir=$docs/socket.io-protocol/v5-test-suite ;;
    *) echo "unknown suite $s"; exit 2 ;;
  esac
  [ -d "$dir/node_modules" ] || (cd "$dir" && npm ci --no-audit --no-fund >/dev/null) || exit 2
  out=$(cd "$dir" && timeout 300 npx mocha test-suite.js 2>&1)
  echo "$out"
  pass=$(grep -oE '[0-9]+ passing' <<<"$out" | grep -oE '[0-9]+' || echo 0)
  fail=$(grep -oE '[0-9]+ failing' <<<"$out" | grep -oE '[0-9]+' || echo 0)
  pend=$(grep -oE '[0-9]+ pending' <<<"$out" | grep -oE '[0-9]+' || echo 0)
  summary+=("$s: $pass passing, $fail failing, $pend pending")
  [ "$fail" = 0 ] && [ "$pass" != 0 ] || status=1
done
printf '%s\n' "${summary[@]}"
exit $status
