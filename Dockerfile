# syntax=docker/dockerfile:1
# The `cratedigger` image: one binary, every service; the service is chosen by the
# arguments (`serve gateway`, `serve scraper`, `pubsub provision`, `migrate`, `train` ...).
#
#   docker build -t cratedigger .
#   docker run --rm --read-only --tmpfs /tmp cratedigger --help

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78

# Tools shared by the planning and building stages.
FROM rust:${RUST_VERSION}-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The dependency recipe: changes only when a manifest or the lock file changes.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# Dependencies first (a cached layer while only our code changes), then the binary.
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package cratedigger --bin cratedigger
COPY . .
RUN cargo build --release --locked --package cratedigger --bin cratedigger \
 && install -D -m 0755 target/release/cratedigger /out/cratedigger \
 && install -d /out/data/blobs

# glibc, libgcc and CA certificates, no shell; runs as uid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/cratedigger /usr/local/bin/cratedigger
# The root filesystem may be read-only: data lives on the servers the settings name, model
# files in a bucket or in a volume mounted on /data/blobs (APP_BLOBS__LOCATION), scratch
# space in /tmp. The directory belongs to the runtime user, so a fresh volume mounted
# there is writable.
COPY --from=builder --chown=65532:65532 /out/data /data
WORKDIR /tmp
ENV APP_TELEMETRY__FORMAT=json \
    APP_GATEWAY__HOST=0.0.0.0 \
    APP_HEALTH__HOST=0.0.0.0 \
    APP_HEALTH__PORT=9090 \
    APP_GRPC__HOST=0.0.0.0 \
    APP_GRPC__PORT=50051 \
    APP_BLOBS__LOCATION=/data/blobs \
    APP_WAIT_FOR_BACKENDS_SECONDS=120
USER 65532:65532
EXPOSE 8080 9090 50051
ENTRYPOINT ["cratedigger"]
CMD ["--help"]
