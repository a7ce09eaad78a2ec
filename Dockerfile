# Dockerfile — detourd in a small Debian image, built in one stage and run, as a non-root user, in another.
#   docker build -t detour .
#   docker run -p 8080:8080 detour                      # an offline demo: no key, no upstream called
#   docker run -p 8080:8080 --stop-timeout 20 -e OPENAI_API_KEY \
#     -v $PWD/my-detour.yaml:/etc/detour/detour.yaml:ro detour
# The configuration must listen on 0.0.0.0 (the image's default file does), and its
# server.drain_timeout stay below the runtime's stop timeout (10 s unless --stop-timeout).

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY src/ src/
RUN make -j"$(nproc)" build/detourd

# The runtime holds detourd only: detour-mock, a test double that echoes auth
# headers, stays in the build stage.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libcurl4 libjansson4 \
      libyaml-0-2 libhiredis0.14 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && groupadd --system --gid 10001 detour \
 && useradd --system --uid 10001 --gid detour --no-create-home --shell /usr/sbin/nologin detour
COPY --from=build /src/build/detourd /usr/local/bin/
COPY conf/container.yaml /etc/detour/detour.yaml
COPY conf/detour.yaml /etc/detour/detour.example.yaml
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD /usr/local/bin/detourd --probe -c /etc/detour/detour.yaml  # GETs /health/live at the file's listen address
ENTRYPOINT ["/usr/local/bin/detourd"]
CMD ["-c", "/etc/detour/detour.yaml"]
