#!/usr/bin/env bash
# Build offline stand-ins for the public base images that Dockerfile and docker-compose.yml name, and tag them with
# those names, on machines that cannot pull from Docker Hub:
#   node:20-bookworm-slim   Debian bookworm minbase + the Node 20 (node and npm) installed on this machine, user
#                           `node` (uid/gid 1000) as in the official image
#   postgres:15-bookworm    Debian bookworm minbase + Debian's postgresql-15, with an entrypoint honouring
#                           POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, PGPORT, POSTGRES_INITDB_ARGS and
#                           /docker-entrypoint-initdb.d/*.sh|*.sql like the official image's
#   redis:7-bookworm        Debian bookworm minbase + Debian's redis-server 7, official-style entrypoint (`redis`
#                           user, /data, protected mode off)
# Their common root filesystem comes from `debootstrap --variant=minbase bookworm`, trimmed like Docker's Debian slim
# images (no man pages, docs or locales) and cached as a tarball in $SLUICE_CACHE_DIR (default /var/cache/sluice-test,
# shared with scripts/services.sh). Postgres and Redis are then installed from Debian with apt-get in a
# `docker build --network host` (the engine's layer cache keeps them). The first run takes about three minutes, later
# runs seconds. Nothing is pulled from a registry; the Debian mirror is the one apt uses here.
#
# A name that already refers to an image that is not one of these stand-ins (the real image, pulled on a machine with
# internet) is left alone: the stand-ins never replace real images. A stand-in is rebuilt when this script changes
# (its label carries a hash of the script) or the machine's Node changes.
#
# Usage: sudo bash scripts/stand-in-images.sh [--force] [--list]
#   --force  rebuild the stand-ins (not the cached root filesystems; delete the tarballs for that)
#   --list   print the image names and exit
# Needs: root (debootstrap), docker, debootstrap (installed with apt when missing), the Debian mirror, Node 20 on PATH.
set -euo pipefail

NODE_IMAGE=node:20-bookworm-slim
POSTGRES_IMAGE=postgres:15-bookworm
REDIS_IMAGE=redis:7-bookworm
SUITE=bookworm
CACHE_DIR=${SLUICE_CACHE_DIR:-/var/cache/sluice-test}
LABEL=org.sluice.stand-in

force=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    --list)
      echo "$NODE_IMAGE $POSTGRES_IMAGE $REDIS_IMAGE"
      exit 0
      ;;
    -h | --help)
      sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "stand-in-images.sh: unknown option $arg (use --force, --list or --help)" >&2
      exit 2
      ;;
  esac
done

say() { echo "stand-ins: $*"; }
die() {
  echo "stand-ins: ERROR: $*" >&2
  exit 1
}

script_hash=$(sha256sum "$0" | cut -c1-16)
mkdir -p "$CACHE_DIR" 2>/dev/null || die "cannot create $CACHE_DIR (run as root)"
docker info >/dev/null 2>&1 || die "the Docker engine is not running (sudo bash scripts/services.sh starts it)"

# --- root filesystems (cached tarballs) --------------------------------------------------------------------------
# rootfs_tarball NAME PACKAGES...: $CACHE_DIR/standin-NAME-bookworm-rootfs-v2.tar, debootstrapped once (v2: trimmed).
rootfs_tarball() {
  local name=$1
  shift
  local tarball=$CACHE_DIR/standin-$name-$SUITE-rootfs-v2.tar
  if [ -s "$tarball" ]; then
    echo "$tarball"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "debootstrap needs root: sudo bash $0"
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; } ||
      die "apt-get install debootstrap failed"
  fi
  local mirror
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  local include=""
  [ $# -gt 0 ] && include="--include=$(
    IFS=,
    echo "$*"
  )"
  local rootfs log=$CACHE_DIR/debootstrap-$name.log
  rootfs=$(mktemp -d)
  say "$name: debootstrap $SUITE minbase ${include#--include=} from $mirror (log $log)" >&2
  mkdir -p "$CACHE_DIR/debs"
  # shellcheck disable=SC2086 # $include is one word or empty
  if ! debootstrap --variant=minbase --cache-dir="$CACHE_DIR/debs" $include "$SUITE" "$rootfs" "$mirror" >"$log" 2>&1; then
    rm -rf "$rootfs"
    die "debootstrap of $name failed; see $log: $(tail -n 3 "$log")"
  fi
  # Like Docker's Debian images: no package lists or archives, no man pages, docs or locales (also for what apt
  # installs later), a policy that keeps services from starting during builds.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d" "$rootfs/etc/apt/apt.conf.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' >"$rootfs/etc/apt/apt.conf.d/docker-clean"
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  : >"$rootfs/etc/hostname"
  rm -f "$rootfs/etc/resolv.conf"
  tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
  rm -rf "$rootfs"
  echo "$tarball"
}

# --- images ------------------------------------------------------------------------------------------------------
# needs_build IMAGE HASH: 0 when IMAGE should be (re)built as a stand-in.
needs_build() {
  local image=$1 hash=$2 current
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    return 0
  fi
  current=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$image" 2>/dev/null || true)
  if [ -z "$current" ] || [ "$current" = "<no value>" ]; then
    say "$image: present and not a stand-in (the real image): left alone"
    return 1
  fi
  if [ "$current" = "$hash" ] && [ "$force" = 0 ]; then
    say "$image: stand-in present"
    return 1
  fi
  return 0
}

# import_rootfs NAME TARBALL: a local image sluice-stand-in/NAME-rootfs:HASH of the tarball (never pushed anywhere).
import_rootfs() {
  local name=$1 tarball=$2
  local ref
  ref=sluice-stand-in/$name-rootfs:$(stat -c '%s-%Y' "$tarball")
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' \
      "$tarball" "$ref" >/dev/null || die "docker import of $tarball failed"
  fi
  echo "$ref"
}

# build_image IMAGE CONTEXT [DOCKER BUILD OPTIONS...]
build_image() {
  local image=$1 context=$2
  shift 2
  local log=$CACHE_DIR/build-${image//[:\/]/_}.log
  if ! docker build "$@" -t "$image" "$context" >"$log" 2>&1; then
    die "docker build of the $image stand-in failed; see $log: $(tail -n 5 "$log")"
  fi
  say "$image: stand-in built ($(docker image inspect -f '{{ .Size }}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Debian base of every stand-in (a local name only): debootstrapped once, then imported.
base_image() {
  local tarball
  tarball=$(rootfs_tarball minbase libatomic1) || exit 1
  import_rootfs minbase "$tarball"
}

# node:20-bookworm-slim ---------------------------------------------------------------------------------------------
node_bin=$(command -v node || true)
[ -n "$node_bin" ] || die "no node on PATH: the node stand-in copies this machine's Node 20"
node_bin=$(readlink -f "$node_bin")
node_version=$("$node_bin" -v)
case $node_version in v20.*) ;; *) die "the node stand-in needs Node 20 on this machine, found $node_version" ;; esac
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
[ -f "$npm_dir/package.json" ] || die "cannot find npm's folder (from $(command -v npm))"
node_hash=$script_hash-$node_version-$("$node_bin" -e "console.log(require('$npm_dir/package.json').version)")
if needs_build "$NODE_IMAGE" "$node_hash"; then
  base=$(base_image) || exit 1
  ctx=$work/node
  mkdir -p "$ctx"
  cp "$node_bin" "$ctx/node"
  cp -a "$npm_dir" "$ctx/npm"
  chmod 755 "$ctx/node"
  cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
# As the official image: options or a script file go to node.
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $base
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV NODE_VERSION=${node_version#v}
LABEL $LABEL=$node_hash
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
EOF
  chmod 755 "$ctx/docker-entrypoint.sh"
  build_image "$NODE_IMAGE" "$ctx"
fi

# postgres:15-bookworm ----------------------------------------------------------------------------------------------
pg_hash=$script_hash
if needs_build "$POSTGRES_IMAGE" "$pg_hash"; then
  base=$(base_image) || exit 1
  ctx=$work/postgres
  mkdir -p "$ctx"
  cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/bash
# Stand-in for the official postgres image's entrypoint (scripts/stand-in-images.sh): the same variables, the same
# first-start initialisation, then postgres as the `postgres` user.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA" || true
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 03775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
    echo '       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust).' >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments
  initdb --username="$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  # A temporary server on the unix socket only, for the database and the init scripts.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start >/dev/null
  export PGHOST=/var/run/postgresql PGUSER=$user PGPASSWORD=${POSTGRES_PASSWORD:-}
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh) echo "running $f"; . "$f" ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -q -d "$db" -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  unset PGHOST PGUSER PGPASSWORD
  echo 'PostgreSQL init process complete; ready for start up.'
fi
exec "$@"
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $base
# As the official image: the postgres user first (uid/gid 999), Debian's postgresql-15, no cluster of its own.
RUN groupadd -r postgres --gid=999 && useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres \\
 && mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/stand-in.conf \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d /var/lib/postgresql/data \\
 && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql && chmod 03775 /var/run/postgresql \\
 && chmod 1777 /var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PG_MAJOR=15 PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
VOLUME /var/lib/postgresql/data
LABEL $LABEL=$pg_hash
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
  chmod 755 "$ctx/docker-entrypoint.sh"
  build_image "$POSTGRES_IMAGE" "$ctx" --network host
fi

# redis:7-bookworm --------------------------------------------------------------------------------------------------
redis_hash=$script_hash
if needs_build "$REDIS_IMAGE" "$redis_hash"; then
  base=$(base_image) || exit 1
  ctx=$work/redis
  mkdir -p "$ctx"
  cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in for the official redis image's entrypoint (scripts/stand-in-images.sh).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  # The official image is built with protected mode off; Debian's binary defaults to on.
  case " $* " in *protected-mode*) ;; *) set -- "$@" --protected-mode no ;; esac
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
  fi
fi
exec "$@"
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $base
# As the official image: the redis user first (uid/gid 999), then Debian's redis-server.
RUN groupadd -r -g 999 redis && useradd -r -g redis -u 999 --home-dir=/var/lib/redis redis \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /data && chown redis:redis /data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
LABEL $LABEL=$redis_hash
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
EOF
  chmod 755 "$ctx/docker-entrypoint.sh"
  build_image "$REDIS_IMAGE" "$ctx" --network host
fi
