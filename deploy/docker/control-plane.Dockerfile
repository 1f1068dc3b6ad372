# flowplane control plane and gateway (one image; FLOWPLANE_ROLES picks the part a pod runs).
# Build from the repository root: docker build -f deploy/docker/control-plane.Dockerfile .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY core core
COPY adapters adapters
COPY apps apps
COPY tools tools
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# tini is the container's pid 1: it forwards signals and reaps orphans (a gateway worker's or
# HAProxy's children whose parent died), which Node as pid 1 would leave as zombies.
# haproxy: the gateway's native fast path (FLOWPLANE_GATEWAY_PROXY=haproxy, which the Kubernetes
# install sets on its gateway pods; docs/gateway.md). Debian 12's 2.6 LTS, the version CI tests.
# Only the binary is used: flowplane runs it as its own child with its own configuration; the
# package's service is never started in a container.
# nginx with OpenResty's Lua module and headers-more: the other native fast path
# (FLOWPLANE_GATEWAY_PROXY=nginx; apps/server's nginx/config.ts NGINX_PACKAGES), run the same way.
RUN apt-get update && apt-get install -y --no-install-recommends tini haproxy nginx libnginx-mod-http-lua lua-resty-core libnginx-mod-http-headers-more-filter && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production FLOWPLANE_HOST=0.0.0.0 FLOWPLANE_DATA_DIR=/var/lib/flowplane
WORKDIR /opt/flowplane
COPY --from=build /src /opt/flowplane
RUN useradd --uid 10001 --create-home flowplane && mkdir -p /var/lib/flowplane && chown flowplane /var/lib/flowplane
USER 10001
EXPOSE 8080 8081
# The Node options of package.json's start script, which tools/testkit's flowplane-server.test.ts
# holds this line to; why each: docs/performance.md, "The control plane's process settings".
ENTRYPOINT ["tini", "--", "node", "--enable-source-maps", "--max-semi-space-size=2", "--v8-pool-size=1", "apps/server/dist/main.js"]
