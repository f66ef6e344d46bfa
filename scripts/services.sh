#!/usr/bin/env bash
# Start the real services the tests use, on this machine, and leave them running:
#   - a Docker engine (dockerd without bridge networking: containers use network mode `none` or `host`);
#   - sluice-test/busybox:1, a busybox image built locally from Debian's busybox-static (nothing is pulled from a hub);
#   - a private registry with basic auth on 127.0.0.1:5000 (user sluice / sluice-pass) holding
#     127.0.0.1:5000/sluice/busybox:1;
#   - with --python: sluice-test/python:3, built with debootstrap (about 2 minutes the first time, cached after);
#   - redis-server (the binary: queue tests start their own instances on free loopback ports);
#   - a Postgres cluster for the database tests on 127.0.0.1:5433 (superuser sluice / sluice, data in $STATE_DIR/postgres;
#     tuned for tests: no fsync);
#   - Debian's chromium, for the UI's browser tests.
# Idempotent: what already runs is left alone, so a second run takes seconds. Run as root (apt, dockerd).
# Exits non-zero with a message naming what could not be started. The fixtures of packages/testing read the same
# defaults (override with the SLUICE_TEST_* variables printed at the end).
set -euo pipefail

STATE_DIR=${SLUICE_SERVICES_DIR:-/var/lib/sluice-test}
CACHE_DIR=${SLUICE_CACHE_DIR:-/var/cache/sluice-test}
REGISTRY=127.0.0.1:5000
REGISTRY_USER=sluice
REGISTRY_PASSWORD=sluice-pass
# A second account named as in Kestra's seed flow (`docker.config` with username annageller and a secret() password),
# so that flow runs with only its URLs and image names changed.
SEED_REGISTRY_USER=annageller
SEED_REGISTRY_PASSWORD=seed-pat-for-tests
BUSYBOX_IMAGE=sluice-test/busybox:1
REGISTRY_IMAGE=$REGISTRY/sluice/busybox:1
PYTHON_IMAGE=sluice-test/python:3
# Not 5432: a system Postgres may hold it.
POSTGRES_PORT=5433
POSTGRES_USER=sluice
POSTGRES_PASSWORD=sluice

want_python=0
for arg in "$@"; do
  case $arg in
    --python) want_python=1 ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "services.sh: unknown option $arg (use --python or --help)" >&2
      exit 2
      ;;
  esac
done

say() { echo "services: $*"; }
die() {
  echo "services: ERROR: $*" >&2
  exit 1
}

mkdir -p "$STATE_DIR" "$CACHE_DIR" 2>/dev/null || die "cannot create $STATE_DIR and $CACHE_DIR (run as root: sudo bash scripts/services.sh)"

# --- Debian packages ---------------------------------------------------------------------------------------------
# chromium: the headless browser of the UI tests (apps/ui/test), driven by playwright-core (its own download is not used).
packages=(docker.io docker-registry docker-compose apache2-utils busybox-static curl ca-certificates git postgresql redis-server procps chromium fonts-dejavu-core)
[ "$want_python" = 1 ] && packages+=(debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root to install them"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

# --- Docker engine -----------------------------------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  say "docker engine: running"
else
  [ "$(id -u)" = 0 ] || die "the Docker engine is not running and only root can start it"
  say "docker engine: starting dockerd (log: $STATE_DIR/dockerd.log)"
  # No bridge and no iptables: this machine has neither; containers use network mode none or host.
  setsid nohup dockerd --bridge=none --iptables=false --ip-forward=false >"$STATE_DIR/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || die "dockerd did not start within 30 s; see $STATE_DIR/dockerd.log: $(tail -n 3 "$STATE_DIR/dockerd.log" 2>/dev/null)"
fi

# --- busybox test image ------------------------------------------------------------------------------------------
if docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
  say "image $BUSYBOX_IMAGE: present"
else
  say "image $BUSYBOX_IMAGE: building from busybox-static"
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev}
  chmod 1777 "$rootfs/tmp"
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  chroot "$rootfs" /bin/busybox --install -s
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  for applet in sh sleep cat seq head tr wc printf; do
    [ -e "$rootfs/bin/$applet" ] || [ -e "$rootfs/usr/bin/$applet" ] || die "busybox has no $applet applet"
  done
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null ||
    die "docker import of the busybox rootfs failed"
  rm -rf "$rootfs"
fi

# --- private registry with basic auth ----------------------------------------------------------------------------
registry_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "http://$REGISTRY/v2/" || true; }
status=$(registry_status)
if [ "$status" = 401 ] && [ "$(registry_status -u "$REGISTRY_USER:$REGISTRY_PASSWORD")" = 200 ] &&
  [ "$(registry_status -u "$SEED_REGISTRY_USER:$SEED_REGISTRY_PASSWORD")" = 200 ]; then
  say "registry $REGISTRY: running (basic auth)"
else
  if [ "$status" != 000 ]; then
    # Something else answers on the port: the packaged service without auth, started by the package's init script.
    say "registry $REGISTRY: answers HTTP $status without our credentials; stopping the packaged service"
    { command -v systemctl >/dev/null && systemctl stop docker-registry; } >/dev/null 2>&1 || true
    service docker-registry stop >/dev/null 2>&1 || true
    [ -f "$STATE_DIR/registry.pid" ] && kill "$(cat "$STATE_DIR/registry.pid")" 2>/dev/null || true
    sleep 1
    [ "$(registry_status)" = 000 ] || die "port ${REGISTRY#*:} is taken by another program; free it and run again"
  fi
  [ -f "$STATE_DIR/registry.pid" ] && kill "$(cat "$STATE_DIR/registry.pid")" 2>/dev/null && sleep 1
  say "registry $REGISTRY: starting (storage $STATE_DIR/registry, log $STATE_DIR/registry.log)"
  mkdir -p "$STATE_DIR/registry/data"
  { htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" && htpasswd -Bbn "$SEED_REGISTRY_USER" "$SEED_REGISTRY_PASSWORD"; } |
    grep -v '^$' >"$STATE_DIR/registry/htpasswd"
  cat >"$STATE_DIR/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
auth:
  htpasswd:
    realm: sluice-test
    path: $STATE_DIR/registry/htpasswd
EOF
  setsid nohup /usr/bin/docker-registry serve "$STATE_DIR/registry/config.yml" >"$STATE_DIR/registry.log" 2>&1 </dev/null &
  echo $! >"$STATE_DIR/registry.pid"
  for _ in $(seq 1 40); do
    [ "$(registry_status)" = 401 ] && break
    sleep 0.25
  done
  [ "$(registry_status -u "$REGISTRY_USER:$REGISTRY_PASSWORD")" = 200 ] ||
    die "the registry did not start on $REGISTRY; see $STATE_DIR/registry.log: $(tail -n 3 "$STATE_DIR/registry.log" 2>/dev/null)"
fi

# Push a local image to the test registry (once: skipped when the registry has it), then untag it locally so the
# tests pull it through the runner. A throwaway client config keeps the login out of root's ~/.docker/config.json,
# so the tests exercise the runner's own credentials only.
push_to_registry() {
  local local_image=$1 repository=$2 tag=$3
  local remote=$REGISTRY/$repository:$tag
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -u "$REGISTRY_USER:$REGISTRY_PASSWORD" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/$repository/manifests/$tag" || true)
  if [ "$status" = 200 ]; then
    say "registry image $remote: present"
    return 0
  fi
  say "registry image $remote: pushing"
  local client_config
  client_config=$(mktemp -d)
  if ! { docker tag "$local_image" "$remote" &&
    echo "$REGISTRY_PASSWORD" | docker --config "$client_config" login -u "$REGISTRY_USER" --password-stdin "$REGISTRY" >/dev/null 2>&1 &&
    docker --config "$client_config" push -q "$remote" >/dev/null; }; then
    rm -rf "$client_config"
    die "pushing $remote failed"
  fi
  docker --config "$client_config" logout "$REGISTRY" >/dev/null 2>&1 || true
  rm -rf "$client_config"
  docker rmi "$remote" >/dev/null
}

push_to_registry "$BUSYBOX_IMAGE" sluice/busybox 1

# --- Postgres ----------------------------------------------------------------------------------------------------
postgres_ready() {
  PGPASSWORD=$POSTGRES_PASSWORD PGCONNECT_TIMEOUT=2 psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres \
    -tAc 'select 1' >/dev/null 2>&1
}
if postgres_ready; then
  say "postgres 127.0.0.1:$POSTGRES_PORT: running"
else
  [ "$(id -u)" = 0 ] || die "Postgres is not running on 127.0.0.1:$POSTGRES_PORT and only root can start it"
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$pg_bin/postgres" ] || die "no Postgres server binaries under /usr/lib/postgresql (apt-get install postgresql)"
  pg_data=$STATE_DIR/postgres
  if [ ! -s "$pg_data/PG_VERSION" ]; then
    say "postgres: initdb in $pg_data"
    rm -rf "$pg_data"
    install -d -o postgres -g postgres -m 700 "$pg_data"
    pwfile=$(mktemp)
    echo "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" -U "$POSTGRES_USER" --pwfile="$pwfile" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STATE_DIR/postgres-initdb.log" 2>&1 ||
      { rm -f "$pwfile"; die "initdb failed; see $STATE_DIR/postgres-initdb.log: $(tail -n 3 "$STATE_DIR/postgres-initdb.log")"; }
    rm -f "$pwfile"
  fi
  say "postgres 127.0.0.1:$POSTGRES_PORT: starting (data $pg_data, log $STATE_DIR/postgres.log)"
  # TCP on loopback only, no unix socket; durability off: a test cluster, recreated at will. pg_stat_statements: the
  # statements per execution of bench:e2e (issue #20).
  setsid nohup runuser -u postgres -- "$pg_bin/postgres" -D "$pg_data" -p "$POSTGRES_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_preload_libraries=pg_stat_statements \
    >"$STATE_DIR/postgres.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    postgres_ready && break
    sleep 0.25
  done
  postgres_ready || die "Postgres did not start on 127.0.0.1:$POSTGRES_PORT; see $STATE_DIR/postgres.log: $(tail -n 3 "$STATE_DIR/postgres.log" 2>/dev/null)"
fi

# --- python image (optional) -------------------------------------------------------------------------------------
if [ "$want_python" = 1 ]; then
  tarball=$CACHE_DIR/python3-bookworm-rootfs.tar
  if docker image inspect "$PYTHON_IMAGE" >/dev/null 2>&1; then
    say "image $PYTHON_IMAGE: present"
  else
    if [ ! -s "$tarball" ]; then
      mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
      mirror=${mirror:-http://deb.debian.org/debian}
      say "image $PYTHON_IMAGE: debootstrap bookworm from $mirror (about 2 minutes; log $STATE_DIR/debootstrap.log)"
      rootfs=$(mktemp -d)
      if ! debootstrap --variant=minbase --include=python3,python-is-python3 bookworm "$rootfs" "$mirror" \
        >"$STATE_DIR/debootstrap.log" 2>&1; then
        rm -rf "$rootfs"
        die "debootstrap failed; see $STATE_DIR/debootstrap.log: $(tail -n 3 "$STATE_DIR/debootstrap.log")"
      fi
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
      tar -C "$rootfs" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
      rm -rf "$rootfs"
    fi
    say "image $PYTHON_IMAGE: importing $tarball"
    docker import --change 'CMD ["/usr/bin/python3"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$tarball" "$PYTHON_IMAGE" >/dev/null || die "docker import of $tarball failed"
  fi
  # The seed flow's private image (`docker.config` with a password from secret()) is this one.
  push_to_registry "$PYTHON_IMAGE" sluice/python 3
fi

say "ready: SLUICE_TEST_REGISTRY=$REGISTRY SLUICE_TEST_REGISTRY_USER=$REGISTRY_USER SLUICE_TEST_BUSYBOX_IMAGE=$BUSYBOX_IMAGE"
say "ready: SLUICE_TEST_DATABASE_URL=postgres://$POSTGRES_USER:$POSTGRES_PASSWORD@127.0.0.1:$POSTGRES_PORT/postgres"
