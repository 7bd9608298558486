#!/usr/bin/env bash
# Runs every test file (unit tests beside the code, end-to-end tests in test/,
# the verifier package's tests) with node's own test runner under tsx.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find src test bench packages/*/src packages/*/test -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "$@" "${files[@]}"
