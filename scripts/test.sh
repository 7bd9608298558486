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
# --test-timeout: a file whose set-up failed with servers still open, or that waits on something that
# never comes, fails after 10 minutes instead of holding the run for ever (a before hook that threw
# left its listeners up, and the run hung). The slowest file takes under a minute. Not
# --test-force-exit: on Node 20 it ended files before all their tests had run, and the run passed.
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-600000}" --test-reporter=spec "$@" "${files[@]}"
