# syntax=docker/dockerfile:1
#
# Sluice container image: the `sluice` binary, the seed pipeline and its WASM transforms.
#
#   docker build -t sluice .          (or: docker compose up --build)
#   docker build --target loadgen -t sluice-loadgen .   the simulated AI server alone
#                                     (compose's `loadgen` profile builds it)
#
# At run time it reads /etc/sluice/pipeline.toml (module paths in it are relative to that
# file, so the seed transforms live in /etc/sluice/target/transforms/), and takes
# KAFKA_BROKERS and DATABASE_URL from the environment. Mount your own pipeline.toml and
# .wasm files over /etc/sluice to change the pipeline without rebuilding the image.
# Port 9898 serves /healthz, /readyz and /metrics (`[http] listen` in pipeline.toml).

# The toolchain rust-toolchain.toml pins; the image already has it, so rustup fetches nothing.
ARG RUST_VERSION=1.99.1

# ---------------------------------------------------------------- build
FROM rust:${RUST_VERSION}-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake build-essential pkg-config libssl-dev libsasl2-dev zlib1g-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The components and the wasm32-wasip2 target that rust-toolchain.toml lists.
RUN rustup toolchain install
# Cache mounts keep the crates.io index and incremental artefacts between builds; the
# results are copied out of the cached target dir within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sluice --bin sluice -p loadgen --bin loadgen \
 && scripts/build-transforms validate stats sessions \
 && mkdir -p /out/bin /out/transforms \
 && cp target/release/sluice target/release/loadgen /out/bin/ \
 && cp target/transforms/*.wasm /out/transforms/

# ---------------------------------------------------------------- base
# What both binaries need at run time (librdkafka is linked in statically), and curl for
# the health check.
FROM debian:bookworm-slim AS base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl libssl3 libsasl2-2 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system sluice \
 && useradd --system --gid sluice --home-dir /nonexistent --shell /usr/sbin/nologin sluice \
 && install -d -o sluice -g sluice -m 0700 /var/cache/sluice

# ---------------------------------------------------------------- loadgen
# The simulated AI server (loadgen/): `loadgen --help`. Sends until SIGINT, then prints
# its summary. Not the default target: the image `docker build .` makes is Sluice's.
FROM base AS loadgen
COPY --from=build /out/bin/loadgen /usr/local/bin/loadgen
USER sluice
STOPSIGNAL SIGINT
ENTRYPOINT ["loadgen"]

# ---------------------------------------------------------------- runtime
FROM base AS runtime
COPY --from=build /out/bin/sluice /usr/local/bin/sluice
COPY --from=build /out/transforms/ /etc/sluice/target/transforms/
COPY pipeline.toml /etc/sluice/pipeline.toml
# Compiled modules are kept here between starts (a volume in docker-compose.yml).
ENV SLUICE_CONFIG=/etc/sluice/pipeline.toml \
    SLUICE_MODULE_CACHE=/var/cache/sluice \
    RUST_LOG=info
USER sluice
EXPOSE 9898
STOPSIGNAL SIGTERM
ENTRYPOINT ["sluice"]
# `sluice run` finds its pipeline through SLUICE_CONFIG.
CMD ["run"]
