# syntax=docker/dockerfile:1
# auditlake worker image for ECS (Fargate): the recording proxy, or a long-running Kinesis consumer.
#
#   docker build -t auditlake .
#   docker run --rm -p 6432:6432 auditlake proxy --listen 0.0.0.0:6432 --upstream db.example.internal:5432 --out s3://bucket/auditlake
#   docker run --rm auditlake ingest --kinesis-stream aws-rds-das-cluster-ABC123 --follow --out s3://bucket/auditlake
#
# Everything after the image name is an auditlake command line (ENTRYPOINT is the CLI); the ECS task
# definition sets it. Settings read from the environment:
#   AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>   AWS SDK region and endpoints (the task role supplies credentials)
#   AUDITLAKE_HEALTH_PORT                    port HEALTHCHECK connects to (default 6432; "off" for non-listening commands)
#   NODE_OPTIONS                             e.g. --max-old-space-size=1536 to match the task's memory
# DuckDB ships a glibc-only native library: Debian slim, not Alpine.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script compiles, which needs the sources copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compiled JavaScript in dist/; the runtime image has no TypeScript, no tsx and no dev dependencies.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    AUDITLAKE_HEALTH_PORT=6432
WORKDIR /app
# The app files belong to root and are read-only to the runtime user, so a compromised process cannot
# change the code it runs; the ECS task also mounts the root filesystem read-only (writable: /tmp).
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root rules ./rules
COPY --chown=root:root schemas ./schemas
# The RDS CA bundle, so the proxy verifies the database's certificate (--upstream-tls verify-full).
ADD --chown=root:root --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /app/certs/rds-global-bundle.pem
USER node
EXPOSE 6432
# The proxy and the Kinesis consumer drain and flush on SIGTERM (proxy sessions get 10 s), well within
# the 30 s ECS stop timeout the task definition sets.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p=process.env.AUDITLAKE_HEALTH_PORT||'6432';if(p==='off')process.exit(0);require('node:net').connect(Number(p),'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/bin.js"]
CMD ["proxy", "--listen", "0.0.0.0:6432", "--upstream", "postgres:5432", "--out", "/home/node/lake"]
