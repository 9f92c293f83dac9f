# Vigil: the gateway (`vigil`) and the mock provider fleet (`vigil-mock`) in one image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin vigil --bin vigil-mock

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data vigil && mkdir -p /data && chown vigil /data
COPY --from=build /src/target/release/vigil /src/target/release/vigil-mock /usr/local/bin/
USER vigil
WORKDIR /data
EXPOSE 8080
ENV VIGIL_DATA_DIR=/data
ENTRYPOINT ["vigil"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
