# syntax=docker/dockerfile:1
# weir worker image. Build from the repository root:  docker build -t weir .
# Run:  docker run -e KAFKA_BROKERS=broker:9092 -p 9400:9400 -v weir-state:/var/lib/weir weir worker

# --- build: compile TypeScript and the native Kafka client ------------------------------------------------------
FROM node:20-bookworm-slim AS build
# Toolchain and -dev headers for the librdkafka fallback build (used when node-pre-gyp cannot download the
# prebuilt binary); CKJS_LINKING=dynamic links it against Debian's libssl/libcurl/libsasl2/zlib/zstd/lz4.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential python3 pkg-config ca-certificates \
      libssl-dev libcurl4-openssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev \
 && rm -rf /var/lib/apt/lists/*
ENV CKJS_LINKING=dynamic
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: only the shared libraries the native client needs --------------------------------------------------
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libssl3 libcurl4 libsasl2-2 zlib1g libzstd1 liblz4-1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 weir \
 && useradd --system --uid 10001 --gid weir --home-dir /var/lib/weir --shell /usr/sbin/nologin weir \
 && mkdir -p /var/lib/weir \
 && chown weir:weir /var/lib/weir
# UV_THREADPOOL_SIZE: the Kafka client runs its blocking librdkafka calls on libuv's thread pool (4 threads by
# default) and a worker has four clients; Node reads it at start-up, so it is set here, not in code (README).
ENV NODE_ENV=production \
    UV_THREADPOOL_SIZE=16 \
    WEIR_STATE_DIR=/var/lib/weir \
    WEIR_HTTP_HOST=0.0.0.0 \
    WEIR_HTTP_PORT=9400
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
USER weir
# The state directory survives restarts when a volume is mounted here (compose: weir-state).
VOLUME ["/var/lib/weir"]
EXPOSE 9400
# Liveness only (/healthz): a worker restoring a large store is alive but not ready (/readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.WEIR_HTTP_PORT || 9400) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM from `docker stop` goes straight to node (exec form), which drains, commits and leaves the group.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/bin/weir.js"]
CMD ["worker"]
