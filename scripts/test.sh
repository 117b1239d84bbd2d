#!/usr/bin/env bash
# Lint, build (tsc typechecks) and run every test with Node's own runner. Called by `npm test`
# after scripts/setup.sh; `npm run test:unit` runs it with `unit` (unit tests in dist/src only).
#
#   bash scripts/test.sh [unit]
#
# All three steps always run so one pass shows every problem; the exit status is non-zero when any
# of them failed. The runner's closing lines (`# pass N`, `# fail N`) are the last lines on stdout.
#
# Environment:
#   CERTPILOT_REQUIRE_SERVERS=1   a missing server binary fails its test instead of skipping (CI)
#   CERTPILOT_TEST_CONCURRENCY    test files run at once (default: 2 x CPUs, at least 4; the
#                                 integration files mostly wait on their own Pebble)
#   CERTPILOT_TEST_TIMEOUT_MS     longest any one test may run (default 300000): a hang fails that
#                                 test (reported as cancelled, counted as failed) instead of stalling
#                                 the run. Integration tests carry their own, shorter `{ timeout }`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE="${1:-all}"
case "$MODE" in
  all) TEST_DIRS=(dist/src dist/test) ;;
  unit) TEST_DIRS=(dist/src) ;;
  *) echo "test: unknown argument: $MODE (expected: unit)" >&2; exit 2 ;;
esac

log() { printf 'test: %s\n' "$*" >&2; }
failed=()

# tsc never deletes outputs: drop compiled files whose source is gone, so a deleted or renamed
# test cannot keep running (or failing) from dist/.
if [[ -d dist ]]; then
  while IFS= read -r -d '' js; do
    rel="${js#dist/}"
    if [[ ! -f ${rel%.js}.ts ]]; then
      log "removing stale $js (no ${rel%.js}.ts)"
      rm -f "$js" "$js.map"
    fi
  done < <(find dist/src dist/test -name '*.js' -print0 2>/dev/null)
fi

log "lint (eslint .)"
npx eslint . >&2 || failed+=(lint)

log "build (npm run build: tsc typechecks)"
npm run --silent build >&2 || failed+=(build)

mapfile -t files < <(find "${TEST_DIRS[@]}" -name '*.test.js' 2>/dev/null | sort)
if [[ ${#files[@]} -eq 0 ]]; then
  log "no test files under ${TEST_DIRS[*]}"
  failed+=(no-tests)
else
  cpus="$(nproc 2>/dev/null || echo 2)"
  concurrency="${CERTPILOT_TEST_CONCURRENCY:-$(( cpus * 2 > 4 ? cpus * 2 : 4 ))}"
  reporter=()
  # CI and pipes get TAP, whose closing lines are `# pass N` / `# fail N`.
  if [[ -n ${CI:-} || ! -t 1 ]]; then reporter=(--test-reporter=tap); fi
  timeout_ms="${CERTPILOT_TEST_TIMEOUT_MS:-300000}"
  timeout_args=(--test-timeout="$timeout_ms")
  # --test-timeout is Node 20.11+; engines allows 20.9, where it would be a bad option.
  if ! node --test-timeout=1 -e '' 2>/dev/null; then
    log "WARNING: node $(node -v) has no --test-timeout (20.11+): a hanging test will stall this run"
    timeout_args=()
  fi
  log "node --test: ${#files[@]} files, concurrency $concurrency, per-test timeout ${timeout_ms} ms, CERTPILOT_REQUIRE_SERVERS=${CERTPILOT_REQUIRE_SERVERS:-0}"
  summary="$(mktemp)"
  # No --enable-source-maps. Runner children that hung before their first test (blamed on it once,
  # and seen again without it) were Node 20's keygen deadlock: see "Keys made synchronously" in
  # docs/design-notes.md and src/acme/private-key-sync.ts.
  node --test --test-concurrency="$concurrency" "${timeout_args[@]}" "${reporter[@]}" "${files[@]}" \
    | tee "$summary" || failed+=(tests)
  passed_n="$(sed -n 's/^# pass \([0-9]*\)$/\1/p; s/^ℹ pass \([0-9]*\)$/\1/p' "$summary" | tail -n 1)"
  failed_n="$(sed -n 's/^# fail \([0-9]*\)$/\1/p; s/^ℹ fail \([0-9]*\)$/\1/p' "$summary" | tail -n 1)"
  # A test stopped by its timeout is "cancelled", not "fail": it failed all the same.
  cancelled_n="$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p; s/^ℹ cancelled \([0-9]*\)$/\1/p' "$summary" | tail -n 1)"
  failed_n=$(( ${failed_n:-0} + ${cancelled_n:-0} ))
  rm -f "$summary"
fi

# The plain closing line, whatever reporter ran: a run that executed nothing cannot look green.
passed_n="${passed_n:-0}"
failed_n="${failed_n:-0}"
if [[ ${#failed[@]} -gt 0 && $failed_n -eq 0 ]]; then failed_n=1; fi  # lint or build failed
if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED: ${failed[*]}"
  echo "${passed_n} passed, ${failed_n} failed"
  exit 1
fi
log "all green"
echo "${passed_n} passed, ${failed_n} failed"
