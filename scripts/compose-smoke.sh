#!/usr/bin/env bash
# Smoke test of the whole stack in containers, on this machine, offline: what `docker compose up` gives a user.
#
#  1. the test services (scripts/services.sh --python: Docker engine, registry with auth on 127.0.0.1:5000 holding
#     127.0.0.1:5000/sluice/python:3) and the stand-ins for the public base images (scripts/stand-in-images.sh),
#     both cached;
#  2. `docker build --network host` of the app image, handing the extra CA certificates of the host's npm trust
#     store (`npm config get cafile` minus Node's built-in roots: the TLS proxy's CA) to the build stages only; the
#     final image must not contain them;
#  3. a derived worker image with what the seed's PROCESS flows expect of a worker machine (Debian's python3, a
#     `conda` stand-in, /Users/you/scripts/etl_script.py, and on the gpu worker a `python` that finds
#     ml_on_gpu.py), as a user would derive theirs;
#  4. docker-compose -f docker-compose.yml -f docker-compose.host.yml -f <generated smoke override> --profile gpu
#     up -d: every service on the host network, on 127.0.0.1 (Postgres 25432, Redis 26379, API 28080), with API and
#     worker tokens, fixed worker ids (SLUICE_WORKER_ID) and the seed's registry secret on the workers;
#  5. waits for health, checks the containers (host network only, no bridge network created, workers run as uid
#     1000 in the Docker socket's group), then scripts/compose-smoke.ts deploys the seed flows through the REST API,
#     runs them (the gpu one on the worker-gpu service) and checks their outputs, and the README's first flow;
#  6. no task container left, nothing left in the work dir but the empty working directories the workers keep for
#     later tasks, then `docker-compose down -v` (always, also on failure).
#
# Prints one line per check (`ok   NAME (1.2 s)` / `FAIL NAME: reason`); exits non-zero if one failed. Results also
# go to .test-results/compose-smoke.json (the vitest JSON report's shape: one test per check) and, with
# `--report FILE` when FILE exists (scripts/test.sh passes its vitest report), are appended to FILE's testResults,
# so they count in the `N passed, N failed` line of scripts/test-summary.mjs.
#
# Usage: sudo bash scripts/compose-smoke.sh [--report FILE] [--keep]
#   --keep    leave the stack running at the end (tear it down with the command printed)
# Environment: SLUICE_COMPOSE (default `docker-compose`, else `docker compose`), SMOKE_TIMEOUT_S (default 900).
# Logs of every step: .test-results/compose-smoke.log. Root is needed (debootstrap, Docker, the work dir).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PROJECT=sluice-smoke
APP_IMAGE=sluice:smoke
WORKER_IMAGE=sluice-smoke/worker:latest
REGISTRY=127.0.0.1:5000
REGISTRY_IMAGE=$REGISTRY/sluice/python:3
SEED_REGISTRY_PASSWORD=seed-pat-for-tests
export SLUICE_HOST_POSTGRES_PORT=25432 SLUICE_HOST_REDIS_PORT=26379 SLUICE_HOST_API_PORT=28080
API_URL=http://127.0.0.1:$SLUICE_HOST_API_PORT
DEFAULT_WORKER_ID=smoke-worker-default
GPU_WORKER_ID=smoke-worker-gpu
RESULTS_DIR=$ROOT/.test-results
TSV=$RESULTS_DIR/compose-smoke.tsv
JSON=$RESULTS_DIR/compose-smoke.json
LOG=$RESULTS_DIR/compose-smoke.log
TIMEOUT_S=${SMOKE_TIMEOUT_S:-900}

report=""
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --report)
      report=${2:-}
      shift
      ;;
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "compose-smoke.sh: unknown option $1 (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done

mkdir -p "$RESULTS_DIR"
: >"$TSV"
: >"$LOG"
started_all=$(date +%s)
failed=0
stack_up=0
work=$(mktemp -d)
work_dir=""

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "${4:-}" | tr '\t\n' '  ')" >>"$TSV"; }
pass() {
  echo "ok   $1 ($2 s${3:+; $3})"
  record pass "$1" "$2"
}
fail() {
  echo "FAIL $1: $3"
  record fail "$1" "$2" "$3"
  failed=$((failed + 1))
}
# check NAME COMMAND...: run COMMAND with its output in the log; its last output line is the detail or the reason.
check() {
  local name=$1 start out rc
  shift
  start=$(now)
  echo "=== $name" >>"$LOG"
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" >>"$LOG"
  if [ $rc = 0 ]; then
    pass "$name" "$(elapsed "$start")" "$(printf '%s' "$out" | tail -n 1 | cut -c1-160)"
  else
    fail "$name" "$(elapsed "$start")" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ' | cut -c1-400) (log: $LOG)"
  fi
  return $rc
}

# --- compose command ---------------------------------------------------------------------------------------------
if [ -n "${SLUICE_COMPOSE:-}" ]; then
  read -r -a COMPOSE <<<"$SLUICE_COMPOSE"
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  COMPOSE=(docker-compose)
fi
override=$work/docker-compose.smoke.yml
compose() {
  "${COMPOSE[@]}" -p "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$ROOT/docker-compose.host.yml" -f "$override" --profile gpu "$@"
}
container_of() { compose ps -q "$1" 2>/dev/null | head -n 1; }

# --- results: JSON in the vitest report's shape, merged into --report ----------------------------------------------
write_results() {
  node - "$TSV" "$JSON" "$report" <<'EOF'
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const [tsv, json, report] = process.argv.slice(2);
const lines = readFileSync(tsv, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));
if (lines.length === 0) lines.push(['fail', 'compose smoke test ran no check', '0', 'see .test-results/compose-smoke.log']);
const assertionResults = lines.map(([status, title, seconds, reason]) => ({
  ancestorTitles: ['compose smoke'],
  fullName: `compose smoke ${title}`,
  title,
  status: status === 'pass' ? 'passed' : 'failed',
  duration: Math.round(Number(seconds) * 1000),
  failureMessages: status === 'pass' ? [] : [reason || 'failed'],
}));
const failed = assertionResults.filter((a) => a.status === 'failed').length;
const file = { name: 'scripts/compose-smoke.sh', status: failed ? 'failed' : 'passed', message: '', assertionResults };
writeFileSync(json, JSON.stringify({ numTotalTests: assertionResults.length, numPassedTests: assertionResults.length - failed, numFailedTests: failed, testResults: [file] }, null, 2));
if (report && existsSync(report)) {
  const merged = JSON.parse(readFileSync(report, 'utf8'));
  merged.testResults = [...(merged.testResults ?? []).filter((f) => f.name !== file.name), file];
  for (const [key, add] of [['numTotalTests', assertionResults.length], ['numPassedTests', assertionResults.length - failed], ['numFailedTests', failed], ['numTotalTestSuites', 1]]) {
    if (typeof merged[key] === 'number') merged[key] += add;
  }
  if (failed && 'success' in merged) merged.success = false;
  writeFileSync(report, JSON.stringify(merged));
}
EOF
}

teardown() {
  if [ "$stack_up" = 1 ]; then
    if [ "$keep" = 1 ]; then
      echo "compose-smoke: --keep: the stack stays up; API $API_URL (token smoke-api-token). Tear it down with:"
      echo "  ${COMPOSE[*]} -p $PROJECT -f docker-compose.yml -f docker-compose.host.yml -f $override --profile gpu down -v"
      return
    fi
    local start
    start=$(now)
    if [ "$failed" -gt 0 ]; then
      echo "=== compose logs (failure)" >>"$LOG"
      compose logs --no-color --tail=200 >>"$LOG" 2>&1
    fi
    echo "=== down" >>"$LOG"
    if compose down -v --remove-orphans >>"$LOG" 2>&1; then
      local left
      left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
      if [ -z "$left" ]; then pass "docker-compose down -v: no container or volume left" "$(elapsed "$start")"; else fail "docker-compose down -v: no container or volume left" "$(elapsed "$start")" "left: $left"; fi
    else
      fail "docker-compose down -v: no container or volume left" "$(elapsed "$start")" "down failed (log: $LOG)"
    fi
    stack_up=0
  fi
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  failed=$(grep -c '^fail' "$TSV")
  teardown
  [ -n "$work_dir" ] && [ "$keep" = 0 ] && rm -rf "$work_dir"
  [ "$keep" = 0 ] && rm -rf "$work"
  write_results
  local total=$(($(date +%s) - started_all))
  local passed
  passed=$(grep -c '^pass' "$TSV")
  failed=$(grep -c '^fail' "$TSV")
  echo "compose smoke: $passed passed, $failed failed in ${total} s (log: $LOG, results: $JSON)"
  [ "$failed" -gt 0 ] && exit 1
  exit "$rc"
}
trap finish EXIT
trap 'fail "interrupted" 0 "signal received"; exit 130' INT TERM

# Stop here, after one failure that makes the rest meaningless.
abort() {
  echo "compose-smoke: stopping after the failure above" >&2
  exit 1
}

# --- 1. services and stand-ins ------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || {
  fail "run as root" 0 "the smoke test needs root (debootstrap, Docker, work dir): sudo bash $0"
  exit 1
}
if ! command -v "${COMPOSE[0]}" >/dev/null || ! "${COMPOSE[@]}" version >/dev/null 2>&1; then
  echo "compose-smoke: installing docker-compose (apt)" >>"$LOG"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends docker-compose || { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose; }; } >>"$LOG" 2>&1
  COMPOSE=(docker-compose)
fi
check "compose available" sh -c "${COMPOSE[*]} version | head -n 1" || abort
check "test services (Docker engine, registry $REGISTRY with $REGISTRY_IMAGE)" bash scripts/services.sh --python || abort
check "stand-in base images (node:20-bookworm-slim, postgres:15-bookworm, redis:7-bookworm)" bash scripts/stand-in-images.sh || abort

# --- 2. the app image ---------------------------------------------------------------------------------------------
# Extra CAs: the certificates of npm's CA file that Node does not ship (a TLS proxy's, a company's). Small enough
# for a build argument, unlike the whole bundle.
cafile=$(npm config get cafile 2>/dev/null || true)
ca_certs=""
if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -f "$cafile" ]; then
  ca_certs=$(node -e '
    const tls = require("node:tls"), fs = require("node:fs");
    const key = (pem) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const builtIn = new Set(tls.rootCertificates.map(key));
    const pems = fs.readFileSync(process.argv[1], "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    process.stdout.write(pems.filter((p) => !builtIn.has(key(p))).join("\n"));' "$cafile")
fi
build_app() {
  docker build --network host --build-arg NPM_CA_CERTS="$ca_certs" -t "$APP_IMAGE" . || return 1
  docker image inspect -f '{{ .Size }}' "$APP_IMAGE" | awk '{ printf "image %d MB\n", $1 / 1e6 }'
}
check "docker build --network host of the app image ($APP_IMAGE, $(printf '%s' "$ca_certs" | grep -c 'BEGIN CERT') extra CA certificate(s) as a build argument)" build_app || abort
image_hygiene() {
  local user
  user=$(docker image inspect -f '{{ .Config.User }}' "$APP_IMAGE")
  [ "$user" = node ] || { echo "image user is '$user', expected node"; return 1; }
  if docker history --no-trunc "$APP_IMAGE" | grep -q 'BEGIN CERTIFICATE'; then echo "a CA certificate is in the image history"; return 1; fi
  docker run --rm --network none --entrypoint sh "$APP_IMAGE" -c \
    'test ! -e /tmp/npm-ca.pem && test ! -d /app/node_modules/typescript && test ! -d /app/node_modules/vitest && test ! -d /app/apps/api/src && node /app/apps/cli/bin/sluice.mjs --version' ||
    { echo "the runtime image has a CA file, dev dependencies or sources"; return 1; }
}
check "app image: runs as node, no CA certificate, no dev dependencies or sources" image_hygiene
# The image's default command: everything in one container, embedded Postgres (docker run -p 8080:8080 IMAGE).
one_container() {
  local name=$PROJECT-one-container port=28090 status=""
  docker rm -f "$name" >/dev/null 2>&1
  docker run -d --name "$name" --network host -e PORT=$port -e SLUICE_API_HOST=127.0.0.1 "$APP_IMAGE" >/dev/null || return 1
  for _ in $(seq 1 60); do
    status=$(curl -s --max-time 2 "http://127.0.0.1:$port/health" || true)
    case $status in *'"status":"UP"'*) break ;; esac
    sleep 1
  done
  docker logs "$name" 2>&1 | tail -n 5
  docker rm -f "$name" >/dev/null
  case $status in *'"status":"UP"'*) echo "$status" ;; *) echo "no healthy answer on port $port: $status"; return 1 ;; esac
}
check "docker run IMAGE (default command server local, embedded Postgres): /health UP" one_container

# --- 3. the derived worker image ----------------------------------------------------------------------------------
ctx=$work/worker-image
mkdir -p "$ctx"
printf '#!/bin/sh\n# Stand-in for conda on the smoke workers: the seed flow only activates an environment.\necho "conda: $*"\n' >"$ctx/conda"
# The gpu seed runs `python ml_on_gpu.py` from its working directory: on a real gpu box the script is there; here
# this python provisions it, then runs Debian's python3.
printf '#!/bin/sh\n[ "$1" != ml_on_gpu.py ] || [ -f ml_on_gpu.py ] || cp /opt/smoke/ml_on_gpu.py .\nexec python3 "$@"\n' >"$ctx/python"
printf 'print("::" + %s + "::")\nprint("trained on the gpu worker")\n' "'{\"outputs\": {\"accuracy\": 0.97}}'" >"$ctx/ml_on_gpu.py"
printf 'print("etl ran")\n' >"$ctx/etl_script.py"
chmod 755 "$ctx/conda" "$ctx/python"
cat >"$ctx/Dockerfile" <<EOF
# A worker image for the seed's PROCESS flows, derived as users derive theirs (docs/remote-workers.md).
FROM $APP_IMAGE
USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null && rm -rf /var/lib/apt/lists/*
COPY conda python /usr/local/bin/
COPY ml_on_gpu.py /opt/smoke/ml_on_gpu.py
COPY etl_script.py /Users/you/scripts/etl_script.py
USER node
EOF
check "worker image with python3, conda and the seed's scripts ($WORKER_IMAGE)" docker build -q --network host -t "$WORKER_IMAGE" "$ctx" || abort

# --- 4. up --------------------------------------------------------------------------------------------------------
# The work dir: a host path, mounted at the same path; mktemp makes it root-owned and empty, as Docker would create
# it, so the entrypoint's hand-over to uid 1000 is exercised.
work_dir=$(mktemp -d /tmp/sluice-smoke-work.XXXXXX)
export SLUICE_IMAGE=$APP_IMAGE SLUICE_WORK_DIR=$work_dir SLUICE_API_TOKEN=smoke-api-token SLUICE_WORKER_TOKEN=smoke-worker-token
export POSTGRES_USER=sluice POSTGRES_PASSWORD=smoke-postgres-password POSTGRES_DB=sluice SLUICE_DOCKER_NETWORK_MODE=none
secret=$(printf '%s' "$SEED_REGISTRY_PASSWORD" | base64)
cat >"$override" <<EOF
# Generated by scripts/compose-smoke.sh: the smoke test's workers.
services:
  worker:
    image: $WORKER_IMAGE
    environment:
      SLUICE_WORKER_ID: $DEFAULT_WORKER_ID
      SECRET_DOCKER_PAT: "$secret"
  worker-gpu:
    image: $WORKER_IMAGE
    environment:
      SLUICE_WORKER_ID: $GPU_WORKER_ID
      SECRET_DOCKER_PAT: "$secret"
EOF
# The seed's image must come from the registry, through the worker's docker.config credentials: drop a local copy.
docker image rm "$REGISTRY_IMAGE" >/dev/null 2>&1 || true
# Leftovers of an interrupted run.
compose down -v --remove-orphans >>"$LOG" 2>&1 || true
# On the host network the stack's ports must be free: say which one is taken rather than let a service fail to start.
ports_free() {
  local port taken=""
  for port in "$SLUICE_HOST_POSTGRES_PORT" "$SLUICE_HOST_REDIS_PORT" "$SLUICE_HOST_API_PORT"; do
    if [ -n "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]; then taken="$taken $port"; fi
  done
  [ -z "$taken" ] || { echo "in use on this machine:$taken (ss -tanp shows by what)"; return 1; }
  echo "$SLUICE_HOST_POSTGRES_PORT, $SLUICE_HOST_REDIS_PORT and $SLUICE_HOST_API_PORT free"
}
check "the stack's host ports are free" ports_free || abort
stack_up=1
check "docker-compose up -d (host network override, profile gpu)" compose up -d --no-build || abort

# --- 5. health and containers -------------------------------------------------------------------------------------
wait_healthy() {
  local service=$1 want=$2 deadline=$(($(date +%s) + 240)) id status
  while [ "$(date +%s)" -lt "$deadline" ]; do
    id=$(container_of "$service")
    if [ -n "$id" ]; then
      if [ "$want" = healthy ]; then
        status=$(docker inspect -f '{{ .State.Status }}/{{ if .State.Health }}{{ .State.Health.Status }}{{ end }}' "$id")
        [ "$status" = running/healthy ] && { echo "$service: $status"; return 0; }
      else
        status=$(docker inspect -f '{{ .State.Status }}/{{ .RestartCount }}' "$id")
        [ "$status" = running/0 ] && { echo "$service: running"; return 0; }
      fi
    fi
    sleep 1
  done
  echo "$service: ${status:-no container} after 240 s"
  [ -n "${id:-}" ] && docker logs --tail 20 "$id" 2>&1
  return 1
}
healthy=1
for service in postgres redis api; do
  check "$service healthy" wait_healthy "$service" healthy || healthy=0
done
[ "$healthy" = 1 ] || abort
for service in scheduler worker worker-gpu; do
  check "$service running" wait_healthy "$service" running || healthy=0
done
[ "$healthy" = 1 ] || abort

networking() {
  local id mode
  for service in postgres redis api scheduler worker worker-gpu; do
    id=$(container_of "$service")
    mode=$(docker inspect -f '{{ .HostConfig.NetworkMode }}' "$id")
    [ "$mode" = host ] || { echo "$service: network mode $mode"; return 1; }
  done
  if docker network ls --format '{{ .Name }}' | grep -q "^${PROJECT}_"; then echo "compose created a network: $(docker network ls --format '{{ .Name }}' | grep "^${PROJECT}_")"; return 1; fi
  echo "6 containers on the host network"
}
check "every container on the host network, no network created" networking

worker_identity() {
  local sock_gid line
  sock_gid=$(stat -c %g /var/run/docker.sock)
  for service in worker worker-gpu; do
    # docker top needs the pid column.
    line=$(docker top "$(container_of "$service")" -eo pid,uid,gid,supgid,args | grep 'sluice.mjs' | head -n 1)
    read -r _ uid gid supgid _ <<<"$line"
    [ "$uid" = 1000 ] && [ "$gid" = 1000 ] || { echo "$service: sluice runs as uid $uid gid $gid"; return 1; }
    case ",$supgid," in *",$sock_gid,"*) ;; *) echo "$service: groups $supgid lack the socket's group $sock_gid"; return 1 ;; esac
  done
  echo "uid 1000, groups $supgid (socket group $sock_gid)"
}
check "workers run as uid 1000 in the Docker socket's group" worker_identity

# --- 6. flows through the REST API --------------------------------------------------------------------------------
echo "=== REST checks (scripts/compose-smoke.ts)" >>"$LOG"
SMOKE_API_URL=$API_URL SMOKE_API_TOKEN=smoke-api-token SMOKE_REGISTRY=$REGISTRY SMOKE_REGISTRY_PASSWORD=$SEED_REGISTRY_PASSWORD \
  SMOKE_DEFAULT_WORKER_ID=$DEFAULT_WORKER_ID SMOKE_GPU_WORKER_ID=$GPU_WORKER_ID SMOKE_RESULTS=$TSV \
  timeout "$TIMEOUT_S" node --conditions=@sluice/source --import tsx scripts/compose-smoke.ts 2>>"$LOG"
rest_rc=$?
# The helper records its checks in the TSV itself: count them.
failed=$(grep -c '^fail' "$TSV")
if [ $rest_rc != 0 ] && [ "$failed" = 0 ]; then fail "REST checks (scripts/compose-smoke.ts)" 0 "exit code $rest_rc (log: $LOG)"; fi

check "the seed's image was pulled from $REGISTRY by the worker (docker.config credentials)" docker image inspect -f '{{ .Id }}' "$REGISTRY_IMAGE"

leftovers() {
  local left
  left=$(docker ps -aq --filter label=io.sluice.runner)
  [ -z "$left" ] || { echo "task containers left: $left"; return 1; }
  # A running worker keeps the working directories its tasks left empty, for later tasks: nothing else may stay.
  left=$(find "$work_dir" -mindepth 1 -not \( -type d -empty \) | head -n 5)
  [ -z "$left" ] || { echo "work dir not emptied: $left"; ls -la "$work_dir"; return 1; }
  echo "none"
}
check "no task container left, nothing left in the work dir" leftovers

# --- 7. down (also on failure: see finish) ------------------------------------------------------------------------
