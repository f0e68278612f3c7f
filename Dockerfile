# syntax=docker/dockerfile:1
# wakegate: build with dev dependencies, run with production ones only, as a non-root user.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    WAKEGATE_CONFIG=/app/examples/wakegate.yaml \
    WAKEGATE_LISTEN_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY schema ./schema
COPY examples ./examples
# Local tasks of replicas are recorded here (a volume in docker-compose's replicas profile);
# a new named volume takes this directory's owner.
RUN mkdir -p /tmp/wakegate-tasks && chown node:node /tmp/wakegate-tasks
USER node
EXPOSE 8080 9090
# Plain HTTP, or HTTPS under listen.tls (the certificate names the review hosts, not 127.0.0.1).
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "const u='/__wakegate/healthz',ok=r=>{process.exit(r.statusCode===200?0:1)},no=()=>process.exit(1);require('http').get({host:'127.0.0.1',port:8080,path:u},ok).on('error',()=>require('https').get({host:'127.0.0.1',port:8080,path:u,rejectUnauthorized:false},ok).on('error',no))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
