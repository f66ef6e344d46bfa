# Sluice: one image for every app; the command picks it:
#   docker run IMAGE server api | server scheduler | server worker --worker-group gpu | server local | flow validate ...
#
# Build:   docker build -t sluice:latest .
# Behind a TLS-intercepting proxy, hand its CA certificate(s) to the install steps (PEM text; used by `npm ci` in the
# build stages only, never copied into the final image):
#          docker build --build-arg NPM_CA_CERTS="$(cat corporate-ca.pem)" -t sluice:latest .
# On a machine whose containers have no network but the host's, add `--network host`.
#
# Stages: manifests (the workspace package.json files only, so dependency layers are cached until a manifest changes)
# -> deps (npm ci, every dependency) -> build (prisma generate + turbo build) ; prod-deps (npm ci --omit=dev) ;
# runtime = node slim + production dependencies + the compiled dist/ folders + the migrations, running as `node`.
# Every base image is NODE_IMAGE (scripts/stand-in-images.sh builds an offline stand-in with that name).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
# The root manifest, the lockfile and every workspace's package.json (the workspaces are apps/* and packages/*).
RUN mkdir -p /manifests \
 && for f in package.json package-lock.json .npmrc scripts/postinstall.mjs apps/*/package.json packages/*/package.json; do \
      if [ -f "$f" ]; then mkdir -p "/manifests/$(dirname "$f")" && cp "$f" "/manifests/$f"; fi; \
    done

FROM ${NODE_IMAGE} AS deps
# The root postinstall (scripts/postinstall.mjs) generates and builds a checkout; here only the manifests exist, and the
# build stage below does both itself.
ENV SLUICE_SKIP_POSTINSTALL=1 TURBO_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1 NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false
WORKDIR /app
COPY --from=manifests /manifests/ ./
ARG NPM_CA_CERTS=""
RUN set -e; \
    if [ -n "$NPM_CA_CERTS" ]; then printf '%s\n' "$NPM_CA_CERTS" > /tmp/npm-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/npm-ca.pem; fi; \
    npm ci --no-audit --no-fund --loglevel=error; \
    rm -f /tmp/npm-ca.pem; rm -rf /root/.npm

FROM deps AS build
COPY . .
RUN npm run --silent db:generate \
 && npx turbo run build --output-logs=errors-only \
 && mkdir -p /out/prisma \
 && cp -a prisma/migrations /out/prisma/ \
 && for d in apps/* packages/*; do \
      if [ -d "$d/dist" ]; then mkdir -p "/out/$d" && cp -a "$d/dist" "/out/$d/"; fi; \
    done \
 && cp -a apps/cli/bin /out/apps/cli/ \
 && if [ -d packages/runner-process/native ]; then cp -a packages/runner-process/native /out/packages/runner-process/; fi \
 && find /out -name '*.tsbuildinfo' -delete \
 && find /out -name '*.test.*' -delete

FROM ${NODE_IMAGE} AS prod-deps
# Manifests only here too: nothing to generate or build (the build stage's dist/ is copied in).
ENV SLUICE_SKIP_POSTINSTALL=1 NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false
WORKDIR /app
COPY --from=manifests /manifests/ ./
ARG NPM_CA_CERTS=""
# npm keeps "devOptional" packages with --omit=dev: dev tools that production packages name only as OPTIONAL peers
# (@prisma/client -> the prisma CLI, typescript, Prisma Studio...). Nothing imports them at run time: remove them.
RUN set -e; \
    if [ -n "$NPM_CA_CERTS" ]; then printf '%s\n' "$NPM_CA_CERTS" > /tmp/npm-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/npm-ca.pem; fi; \
    npm ci --omit=dev --no-audit --no-fund --loglevel=error; \
    rm -f /tmp/npm-ca.pem; rm -rf /root/.npm /app/.npmrc; \
    node -e 'const fs = require("fs"); const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages; for (const [path, p] of Object.entries(lock)) if (path && p.devOptional) fs.rmSync(path, { recursive: true, force: true });'; \
    find node_modules -xtype l -delete

FROM ${NODE_IMAGE} AS runtime
# The entrypoint: `sluice ARGS`. Started as root (the compose workers are, to reach the Docker socket), it makes an
# empty root-owned SLUICE_WORK_DIR writable for `node`, adds the group owning the Docker socket (DOCKER_HOST or
# /var/run/docker.sock) and drops to `node` (uid 1000); SLUICE_RUN_AS_ROOT=1 keeps root. Started as any other
# user (the default is `node`), it just runs sluice.
RUN printf '%s\n' \
      '#!/bin/sh' \
      'set -e' \
      'if [ "$(id -u)" = 0 ] && [ "${SLUICE_RUN_AS_ROOT:-}" != 1 ]; then' \
      '  groups=1000' \
      '  case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in unix://*) sock=${DOCKER_HOST:-unix:///var/run/docker.sock}; sock=${sock#unix://} ;; *) sock= ;; esac' \
      '  if [ -n "$sock" ] && [ -S "$sock" ]; then groups="$groups,$(stat -c %g "$sock")"; fi' \
      '  if [ -n "${SLUICE_WORK_DIR:-}" ]; then' \
      '    mkdir -p "$SLUICE_WORK_DIR"' \
      '    if ! setpriv --reuid=1000 --regid=1000 --clear-groups test -w "$SLUICE_WORK_DIR"; then' \
      '      if [ "$(stat -c %u "$SLUICE_WORK_DIR")" = 0 ] && [ -z "$(ls -A "$SLUICE_WORK_DIR")" ]; then chown 1000:1000 "$SLUICE_WORK_DIR";' \
      '      else echo "sluice: warning: SLUICE_WORK_DIR $SLUICE_WORK_DIR is not writable by uid 1000 (chown it, or set SLUICE_RUN_AS_ROOT=1)" >&2; fi' \
      '    fi' \
      '  fi' \
      '  export HOME=/home/node USER=node' \
      '  exec setpriv --reuid=1000 --regid=1000 --groups="$groups" node /app/apps/cli/bin/sluice.mjs "$@"' \
      'fi' \
      'exec node /app/apps/cli/bin/sluice.mjs "$@"' \
      > /usr/local/bin/sluice \
 && chmod 755 /usr/local/bin/sluice \
 && mkdir -p /var/lib/sluice/storage /var/lib/sluice/work \
 && chown -R 1000:1000 /var/lib/sluice
ENV NODE_ENV=production \
    SLUICE_API_HOST=0.0.0.0 \
    PORT=8080 \
    SLUICE_DATA_DIR=/var/lib/sluice \
    SLUICE_STORAGE_DIR=/var/lib/sluice/storage \
    SLUICE_WORK_DIR=/var/lib/sluice/work
WORKDIR /app
COPY --from=prod-deps /app/ /app/
COPY --from=build /out/ /app/
USER node
EXPOSE 8080
ENTRYPOINT ["sluice"]
CMD ["server", "local"]
