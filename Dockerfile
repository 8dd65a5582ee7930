# Build: compile TypeScript with the dev tools, then keep only what runs.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json app.ts server.ts ./
COPY lib lib
COPY plugins plugins
COPY routes routes
COPY schemas schemas
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# Fixed in the image: where to listen and where the data lives (the volumes
# below; pristine copies go to METADATA_DIR/originals). docker-compose.yml does
# not pass these from .env, where they would name folders on the host.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=5000 \
    AUDIO_DIR=/data/audio \
    METADATA_DIR=/data/metadata \
    BACKUP_DIR="" \
    SHARED_DIR=/data/shared \
    NODE_DIR=/data/node
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# The built-in player's page, read at start-up.
COPY public public
RUN mkdir -p /data/audio /data/metadata /data/shared /data/node && chown -R node:node /data
USER node
EXPOSE 5000
VOLUME ["/data/audio", "/data/metadata"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5000) + '/').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly, not npm: npm does not forward SIGTERM, and shutdown must be graceful.
CMD ["node", "dist/server.js"]
