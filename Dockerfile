# imgcls on the CPU: `docker build -t imgcls .` then
# `docker run -p 8080:8080 imgcls`. The built-in default model is converted
# while the image builds, so the container starts and serves with no network.
#
# NODE_IMAGE lets scripts/container-smoke.sh build on a locally bootstrapped
# Debian bookworm with the same Node layout when the registry cannot be
# reached; everyone else keeps the default.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript and convert the built-in models -------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Install scripts stay off: the only one imgcls would need is onnxruntime-node's
# CUDA download (Dockerfile.gpu runs it), and the CPU binaries ship in the package.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build
# The built-ins to carry, converted from the nsfwjs package by imgcls's own
# importer into the store the runtime image reads. The default model is 19 MB;
# add nsfw-inception-v3 (169 MB) with --build-arg BUILTINS="nsfw-mobilenet-v2 nsfw-inception-v3".
ARG BUILTINS=nsfw-mobilenet-v2
RUN node bin/imgcls.js models --prepare ${BUILTINS} --store /opt/imgcls/store

# ---- runtime -----------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
RUN useradd --uid 10001 --user-group --home-dir /home/imgcls --create-home --shell /usr/sbin/nologin imgcls \
 && mkdir -p /models \
 && chown imgcls:imgcls /models
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
# --legacy-peer-deps leaves out TensorFlow.js (272 MB), which nsfwjs names as
# a peer: imgcls reads nsfwjs's weights itself and never loads TF.js.
# (--omit=peer does not: TF.js is also a devDependency, so the lockfile does
# not flag it as a peer, and npm installs it.) onnxruntime-node
# ships binaries for every platform; only this one's are kept (saves ~250 MB).
RUN npm ci --omit=dev --legacy-peer-deps --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && arch="$(node -p process.arch)" \
 && find "$ort" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
 && find "$ort/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + \
 && test -f "$ort/linux/$arch/onnxruntime_binding.node"
COPY bin ./bin
COPY web ./web
COPY --from=build /src/dist ./dist
# Read-only at run time (root owns it): Kubernetes can mount the root file
# system read-only. Your own models go in /models.
COPY --from=build /opt/imgcls/store /opt/imgcls/store

# Every `serve` flag has an IMGCLS_* variable; flags given to `docker run` win.
# The MALLOC_* variables set glibc's allocator as `npm start` does
# (BENCHMARKS.md, "Memory at large photos").
ENV IMGCLS_HOME=/opt/imgcls/store \
    IMGCLS_HOST=0.0.0.0 \
    IMGCLS_PORT=8080 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=1048576
USER 10001:10001
VOLUME ["/models"]
EXPOSE 8080
# Liveness only (the process answers); /readyz says whether the model is loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.IMGCLS_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/imgcls.js"]
CMD ["serve"]
