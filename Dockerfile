# Dockerfile — detourd in a small Debian image, built in one stage and run, as a non-root user, in another.
#   docker build -t detour .
#   docker run -p 8080:8080 -v $PWD/my-detour.yaml:/etc/detour/detour.yaml:ro -e OPENAI_API_KEY detour
# The configuration must listen on 0.0.0.0 (the image's default file does).

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY src/ src/
COPY tests/mock/ tests/mock/
RUN make -j"$(nproc)" all

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libcurl4 libjansson4 libyaml-0-2 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin detour
COPY --from=build /src/build/detourd /src/build/detour-mock /usr/local/bin/
COPY conf/ /etc/detour/
# Inside a container the port must be reachable from outside the container's loopback.
RUN sed -i 's/^  listen: 127\.0\.0\.1:8080/  listen: 0.0.0.0:8080/' /etc/detour/detour.yaml /etc/detour/demo.yaml
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["/usr/local/bin/detourd"]
CMD ["-c", "/etc/detour/detour.yaml"]
