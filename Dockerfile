# syntax=docker/dockerfile:1.7
# The image of every service, chosen with the SERVICE build argument:
#   api-gateway  the public REST API, calling url-service over SPIFFE mTLS
#   frontend     the web UI and its backend-for-frontend
#   url-service  also runs the worker (dist/worker.js), the migration job
#                (dist/migrate.js) and the compose dev CA
# Build from the repository root:
#   docker build --build-arg SERVICE=url-service -t zt/url-service .
# Base images are pinned by digest; docs/containers.md explains how to update them.

# The bases are build arguments so that a machine without registry access can
# build on local stand-ins (e2e/containers/images.ts); the defaults are the
# pinned digests, and nothing else changes.
ARG BUILD_IMAGE=node:24.18.0-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12@sha256:b35a10df56aa17825e81e836ff70fe3c27002809dd94e6bfd655ed05bac52230

FROM ${BUILD_IMAGE} AS build
ENV CI=true
WORKDIR /repo
# The pnpm that root package.json pins in `packageManager` (a "+sha..." suffix
# dropped), so upgrading pnpm is that one line; this layer is rebuilt only
# when package.json changes.
COPY package.json ./
RUN npm install --global "$(node -p "require('./package.json').packageManager.split('+')[0]")"
COPY . .
# Declared only here, so the layers above are the same for all three images.
# No default: an image built for the wrong service would still start, so a
# build that names none stops here, before pnpm installs anything.
ARG SERVICE
RUN case "${SERVICE}" in api-gateway|frontend|url-service) ;; \
      *) echo "SERVICE is '${SERVICE}': set --build-arg SERVICE=api-gateway|frontend|url-service" >&2; exit 1 ;; \
    esac
# Installs only this service, its workspace dependencies and the root build
# tools (not the whole lockfile: infra alone would add hundreds of MB). The
# pnpm store is a BuildKit cache shared by all three images, so a rebuild
# after a source edit downloads nothing.
# /rootfs/svids: mount points for SVID files in docker compose, where the dev
# CA (url-service's image) writes them: an empty named volume takes the owner
# of the directory it is mounted on, so the dev CA, running as the same user,
# can write. The other two images carry them too rather than the build
# branching on SERVICE: empty, and read-only like the rest of the root
# filesystem wherever the images run (compose and the chart).
RUN --mount=type=cache,id=zt-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --store-dir /pnpm/store --filter "@zt/${SERVICE}..." --filter zero-trust-eks \
 && pnpm --filter "@zt/${SERVICE}..." run build \
 && pnpm --filter @zt/${SERVICE} deploy --prod --legacy --store-dir /pnpm/store /out \
 && mkdir -p /rootfs/svids/api-gateway /rootfs/svids/url-service

FROM ${RUNTIME_IMAGE}
# A build argument is scoped to one stage: declared again for OTEL_SERVICE_NAME.
ARG SERVICE
ENV NODE_ENV=production
# Tracing hooks in before the app's first import, and starts only when an
# OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT); the name is the default
# (the worker, run from url-service's image, sets its own). V8's young
# generation is capped at 8 MB a semi-space: left to grow to 64 MB, it held
# about 100 MB of a relaying service's memory for no CPU gained
# (docs/performance.md). pnpm dev runs the services with the same flags.
ENV NODE_OPTIONS="--import=@zt/service-kit/instrument --max-semi-space-size=8" OTEL_SERVICE_NAME=${SERVICE}
WORKDIR /app
# Code stays owned by root: the service user can read it, never rewrite it.
COPY --from=build /out/ /app/
COPY --from=build --chown=65532:65532 /rootfs/ /
USER 65532:65532
# No EXPOSE: the ports differ per service, and are declared where they are
# used (each service's config.ts defaults, the chart, docker-compose.yml).
CMD ["dist/server.js"]
