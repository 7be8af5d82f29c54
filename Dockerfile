# Gatehouse: Node.js 24 runs the TypeScript sources directly (type stripping), so there is
# no build step; the first stage only installs production dependencies.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script is the `node` devDependency's, not needed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
# Node's compile cache (src/gatehouse.js), filled below so that a read-only container starts
# warm: no TypeScript stripper loaded in any thread (about 17 MB each). Node keeps one cache per
# user ID, so a pod run as another user than 1000 starts cold (and cannot write it).
ENV NODE_COMPILE_CACHE=/app/compile-cache
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY examples ./examples
COPY deploy/warm-compile-cache.js ./deploy/
RUN ln -s /app/src/gatehouse.js /usr/local/bin/gatehouse && mkdir compile-cache && chown 1000:1000 compile-cache
# The image's unprivileged `node` user (UID 1000); listeners use ports above 1024.
USER 1000:1000
RUN node deploy/warm-compile-cache.js
EXPOSE 8080 8443 10254
STOPSIGNAL SIGTERM
ENTRYPOINT ["gatehouse"]
CMD ["--help"]
