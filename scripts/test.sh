#!/usr/bin/env bash
# Install what the tests need and run every check: lint, typecheck, build, all tests with coverage.
# Works on a fresh Debian machine with Node 20 and npm, run as root: scripts/services.sh installs and starts the
# services the integration tests use (Docker engine, test images, private registry, git).
# The last line is always `N passed, N failed[, N skipped]`, summed over every test file.
set -uo pipefail
cd "$(dirname "$0")/.."

export SLUICE_REQUIRE_SERVICES="${SLUICE_REQUIRE_SERVICES:-1}" # tests fail, never skip, when a service is missing
export TURBO_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1 NO_UPDATE_NOTIFIER=1
results=.test-results
mkdir -p "$results"
rm -f "$results/vitest.json"
failed_steps=()

step() {
  local name=$1
  shift
  echo "==> $name"
  if ! "$@"; then
    echo "!!! $name failed"
    failed_steps+=("$name")
  fi
}

# npm ci runs the root postinstall (scripts/postinstall.mjs): it generates the Prisma client and builds dist/, as it
# does for a user's `npm ci`; the build step below then only checks it (Turborepo's cache answers).
echo "==> install (npm ci)"
if ! npm ci --no-audit --no-fund --loglevel=error; then
  echo "!!! npm ci failed"
  echo "0 passed, 1 failed"
  exit 1
fi

step lint npm run --silent lint
step typecheck npm run --silent typecheck
step build npm run --silent build -- --output-logs=errors-only
# Real services for the tests (Docker engine, test images, private registry): see scripts/services.sh.
services() {
  if [ "$(id -u)" = 0 ]; then bash scripts/services.sh --python; else sudo -E bash scripts/services.sh --python; fi
}
step services services
export SLUICE_TEST_REGISTRY=127.0.0.1:5000 SLUICE_TEST_REGISTRY_USER=sluice SLUICE_TEST_REGISTRY_PASSWORD=sluice-pass
export SLUICE_TEST_BUSYBOX_IMAGE=sluice-test/busybox:1 SLUICE_TEST_PYTHON_IMAGE=sluice-test/python:3
export SLUICE_TEST_DATABASE_URL=postgres://sluice:sluice@127.0.0.1:5433/postgres
step tests npx vitest run --coverage --reporter=default --reporter=json --outputFile="$results/vitest.json"
# The fault suite of issue #15 (tests/faults/): real Postgres, Redis and app processes of its own, one fault after
# another (worker, scheduler and API SIGKILL, Redis restart, Postgres outages). Apart from the main run, which it
# would otherwise compete with for the two cores; its tests are merged into the vitest report, so they count in the
# last line. Figures: .test-results/faults/figures.json; logs and ledgers: .test-results/faults/<case>/.
fault_suite() {
  local rc=0
  npx tsc -p tests/faults/tsconfig.json || rc=1
  rm -f "$results/faults.json"
  npx vitest run --config tests/faults/vitest.config.ts --reporter=default --reporter=json --outputFile="$results/faults.json" || rc=1
  node scripts/merge-test-report.mjs "$results/faults.json" "$results/vitest.json" || rc=1
  return $rc
}
step faults fault_suite
# The README's quick start on a fresh clone, as a newcomer runs it (scripts/quickstart-smoke.mjs): its checks are
# appended to the vitest report too. Run after the tests, which it would otherwise compete with for the two cores.
step quickstart node scripts/quickstart-smoke.mjs --report "$results/vitest.json"
# The whole stack in containers (Dockerfile, docker-compose.yml, stand-in base images): see scripts/compose-smoke.sh.
# After the tests: it appends its checks (one test each) to their JSON report, so they count in the last line, and a
# Docker-heavy run never competes with the tests for the engine.
compose_smoke() {
  if [ "$(id -u)" = 0 ]; then bash scripts/compose-smoke.sh --report "$results/vitest.json"; else sudo -E bash scripts/compose-smoke.sh --report "$results/vitest.json"; fi
}
step compose-smoke compose_smoke

if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
fi
node scripts/test-summary.mjs "$results/vitest.json" "${#failed_steps[@]}"
