# Gatehouse: Node.js 24 runs the TypeScript sources directly (type stripping), so there is
# no build step; the first stage only installs production dependencies.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script is the `node` devDependency's, not needed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY examples ./examples
RUN ln -s /app/src/main.ts /usr/local/bin/gatehouse
# The image's unprivileged `node` user (UID 1000); listeners use ports above 1024.
USER 1000:1000
EXPOSE 8080 8443 10254
STOPSIGNAL SIGTERM
ENTRYPOINT ["gatehouse"]
CMD ["--help"]
