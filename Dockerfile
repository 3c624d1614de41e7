# orgdoor's container image: built with `docker build -t orgdoor .`.
# Stores live on the /data volume; every option is an ORGDOOR_* environment variable.
# The base images are arguments so that a machine without access to a registry can build from
# local ones (scripts/container-test). The `runtime-prebuilt` target takes a binary already
# built for bookworm's glibc from the context (`--build-arg ORGDOOR_BINARY=…`).
ARG BUILDER_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin orgdoor \
    && install -D -m 0755 target/release/orgdoor /out/orgdoor

FROM ${RUNTIME_IMAGE} AS runtime-base
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 orgdoor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home orgdoor \
    && mkdir -p /data \
    && chown 10001:10001 /data \
    && chmod 0700 /data
ENV ORGDOOR_DATABASE_URL=sqlite:///data/orgdoor.db \
    ORGDOOR_LISTEN=0.0.0.0:8080 \
    ORGDOOR_LOG_FORMAT=json
WORKDIR /data
VOLUME /data
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/orgdoor", "health"]
ENTRYPOINT ["/usr/local/bin/orgdoor"]
CMD ["serve"]

FROM runtime-base AS runtime-prebuilt
ARG ORGDOOR_BINARY=target/release/orgdoor
COPY --chmod=0755 ${ORGDOOR_BINARY} /usr/local/bin/orgdoor

# Last, so a plain `docker build .` builds this one.
FROM runtime-base AS runtime
COPY --from=builder /out/orgdoor /usr/local/bin/orgdoor
