# syntax=docker/dockerfile:1

# Segmentor: one static binary in a distroless image, run as a non-root user.
#   docker build -t segmentor .
#   docker run --rm -p 127.0.0.1:8080:8080 segmentor demo -listen :8080   # the demo
# For production use compose.yaml (web and worker roles on one Redis); the
# variables are listed in README.md ("Deploy").

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO off: a static binary that needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/segmentor ./cmd/segmentor

# distroless/static: CA certificates and time zones, no shell, no package
# manager; the nonroot tag runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/segmentor /segmentor
USER nonroot:nonroot
# ROLE set means "no configuration" is never assumed: the container serves
# (ROLE=all, web or worker) and never falls back to the demo. The demo runs
# when asked for by name, as above.
ENV ROLE=all LISTEN_ADDR=:8080
EXPOSE 8080
# GET /healthz on LISTEN_ADDR (on OPS_ADDR for ROLE=worker); there is no
# curl in the image, the binary probes itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["/segmentor", "healthcheck"]
ENTRYPOINT ["/segmentor"]
