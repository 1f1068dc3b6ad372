# flowplane runtime replica: Node with flowplane-runtime (native engine) and Langflow's lfx
# (pinned by adapters/engine-lfx/lfx-requirements.txt) for the lfx engine.
# Build from the repository root: docker build -f deploy/docker/runtime.Dockerfile .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY core core
COPY adapters adapters
COPY apps apps
COPY tools tools
COPY scripts scripts
# The bundle (scripts/bundle-runtime.mjs) is what bin/flowplane-runtime.js runs: a shorter cold start.
RUN npm ci --no-audit --no-fund && npx tsc -b apps/runtime && node scripts/bundle-runtime.mjs && npm prune --omit=dev

FROM node:20-bookworm-slim
# tini is the container's pid 1: it reaps what a flow leaves behind. An lfx engine's Python and
# what a flow's code starts are re-parented to pid 1 when their parent dies; Node does not reap
# children it did not spawn, so under it each would stay a zombie, counted against the pod's
# process limit (the kubelet's podPidsLimit) until the container restarts.
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates tini && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --create-home flowplane
WORKDIR /opt/flowplane
COPY --from=build /src /opt/flowplane
USER 10001
# The venv lands in the flowplane user's ~/.cache; the root filesystem is read-only at run time.
RUN scripts/setup-lfx.sh > /home/flowplane/.lfx-path
# Two glibc malloc arenas (core/src/replica-process.ts says why; the Kubernetes driver sets it on each pod too).
ENV FLOWPLANE_RUNTIME_HOST=0.0.0.0 FLOWPLANE_RUNTIME_PORT=8000 MALLOC_ARENA_MAX=2
EXPOSE 8000
# Node options: core's REPLICA_NODE_FLAGS (core/src/replica-process.ts says why), repeated here.
ENTRYPOINT ["tini", "--", "node", "--enable-source-maps", "--max-semi-space-size=2", "--optimize-for-size", "--v8-pool-size=1", "apps/runtime/bin/flowplane-runtime.js"]
