#!/usr/bin/env bash
# Runs every test file (unit tests beside the code, end-to-end tests in test/,
# the verifier package's tests) with node's own test runner under tsx.
# TEST_DIRS narrows the folders searched (e.g. TEST_DIRS=test: the end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# The import rules first (.dependency-cruiser.cjs: no circles, domain folders never import
# src/web, src/server or src/cli): a violation fails the run before any test starts.
npm run --silent lint:deps
read -r -a dirs <<<"${TEST_DIRS:-src test bench packages/verify/src packages/verify/test}"
mapfile -t files < <(find "${dirs[@]}" -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "$@" "${files[@]}"
