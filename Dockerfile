# syntax=docker/dockerfile:1
# certpilot's container image: Node 20 and the CLI's one esbuild bundle, nothing else.
#
#   docker build -t certpilot .            (any engine: Docker, BuildKit, podman, buildah)
#   docker run --rm --read-only -v certpilot-state:/var/lib/certpilot \
#     -v ./certpilot.yaml:/etc/certpilot/certpilot.yaml:ro certpilot renew
#
# Runs as user 65532 with a read-only root: it writes only where volumes are mounted, the state
# directory /var/lib/certpilot and, for a `files` deployer, /certs (both owned by 65532: an empty
# named volume mounted there starts with that owner). The configuration is read from
# /etc/certpilot/certpilot.yaml (the working directory) or CERTPILOT_CONFIG. Nothing is written to
# HOME, the working directory or /tmp.
# CI builds this with buildah and a locally made base (scripts/image.sh, docs/container.md).

# The base of both stages; the runtime stage runs no command, so any Node 20 image with `node`
# on PATH will do there.
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim

# --- build: install the locked dependencies and bundle the CLI into dist/bundle/ -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts run (esbuild works from its optional platform package without its own); npm's
# download cache persists between builds. Behind a TLS-intercepting proxy, pass its CA bundle as
# the optional secret `ca` (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`): it is used for
# this step only and never lands in a layer.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error
COPY scripts/bundle.mjs scripts/bundle-options.mjs scripts/
COPY src src
# The runtime stage's files, laid out here so that stage needs no shell: the bundle without its
# source maps (7 MB; the *.LEGAL.txt licence texts stay), `certpilot` on PATH, the two writable
# directories (state, deployed files).
RUN node scripts/bundle.mjs \
 && mkdir -p /out/root/usr/local/bin /out/state/certpilot /out/certs/certs \
 && cp -a dist/bundle /out/root/app \
 && find /out/root/app -name '*.map' -delete \
 && ln -s /app/certpilot.js /out/root/usr/local/bin/certpilot \
 && chmod 0700 /out/state/certpilot \
 && chmod 0755 /out/certs/certs

# --- runtime: the base plus the bundle --------------------------------------------------------------
FROM ${NODE_IMAGE}
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="certpilot" \
      org.opencontainers.image.description="Keeps TLS certificates issued, renewed, deployed and live (ACME RFC 8555, ARI, profiles)." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/container.md"
COPY --from=build /out/root/ /
# An empty named volume mounted on one of these takes the directory's owner and mode.
COPY --from=build --chown=65532:65532 /out/state/ /var/lib/
COPY --from=build --chown=65532:65532 /out/certs/ /
WORKDIR /etc/certpilot
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["certpilot"]
CMD ["--help"]
