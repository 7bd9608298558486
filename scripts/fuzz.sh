#!/usr/bin/env bash
# Runs every fuzz property (`*.fuzz.test.ts`) with a large budget:
# FUZZ_RUNS cases per property (default 10000), a random seed unless
# FUZZ_SEED is set. A failure prints its seed and counterexample with the
# FUZZ_SEED / FUZZ_PATH that replay it, e.g.
#   FUZZ_SEED=123 FUZZ_PATH=4:1 npm run fuzz -- --test-name-pattern=SCIM
# At the end, one line per property: cases, time and seed, and the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_RUNS="${FUZZ_RUNS:-10000}"
report="$(mktemp -t limen-fuzz.XXXXXX)"
trap 'rm -f "$report"' EXIT
export FUZZ_REPORT="$report"
mapfile -t files < <(find src test packages/*/src packages/*/test -name '*.fuzz.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no fuzz files found" >&2; exit 1; fi
start=$(date +%s)
status=0
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "$@" "${files[@]}" || status=$?
end=$(date +%s)
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
let cases = 0;
console.log("\nfuzz summary (FUZZ_RUNS=" + process.env.FUZZ_RUNS + ")");
for (const r of lines.sort((a, b) => a.name.localeCompare(b.name))) {
  cases += r.cases;
  console.log(`  ${r.failed ? "FAIL" : "ok  "} ${r.name.padEnd(28)} ${String(r.cases).padStart(8)} cases ${String((r.ms / 1000).toFixed(1)).padStart(7)} s  seed ${r.seed}`);
}
console.log(`  ${lines.length} properties, ${cases} cases, ${process.argv[2]} s wall clock`);
' "$report" "$((end - start))"
exit "$status"
