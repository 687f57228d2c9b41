#!/usr/bin/env bash
# Build the imgcls container image from ./Dockerfile, start it with no network
# at all, and classify a real photo through /predict. Works without a Docker
# engine: buildah builds (chroot isolation, vfs storage) and runs the image.
#
# The base image is node:20-bookworm-slim when the registry answers. When it
# does not (as on this project's CI, which reaches only the npm registry and
# Debian's archive), the script bootstraps a stand-in with the same layout:
# Debian bookworm from debootstrap, plus this machine's Node binary and npm in
# /usr/local, as the official image has them.
#
# Usage: scripts/container-smoke.sh          (as root, or with sudo for buildah)
# Env:   IMGCLS_SMOKE_DIR   work folder (default /var/tmp/imgcls-smoke)
#        IMGCLS_SMOKE_PORT  port the container listens on (default 18080)
#        NODE_IMAGE         base image to try first (default docker.io/library/node:20-bookworm-slim)
#        DEBIAN_MIRROR      for debootstrap (default http://deb.debian.org/debian)
#        KEEP_IMAGE=1       keep the built image (default: removed at the end)
#        IMGCLS_SMOKE_REUSE=1  run a kept image again instead of rebuilding
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${IMGCLS_SMOKE_DIR:-/var/tmp/imgcls-smoke}
PORT=${IMGCLS_SMOKE_PORT:-18080}
BASE_REF=${NODE_IMAGE:-docker.io/library/node:20-bookworm-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/imgcls:smoke
PHOTO=test/fixtures/photo-chelsea.jpg
# vfs copies every layer (slow, large) but needs no kernel overlay support, so it works in any sandbox.
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
# Every buildah call names the driver: buildah 1.28 does not take STORAGE_DRIVER for
# every command (with only the variable, `inspect` and `from` looked in another store).
B=(buildah --storage-driver vfs)

say() { printf '\ncontainer-smoke: %s\n' "$*" >&2; }
fail() { printf '\ncontainer-smoke: FAILED: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed (apt-get install -y $2)"; }
need buildah buildah
need curl curl
need unshare util-linux
need ip iproute2
need node nodejs
[ "$(id -u)" -eq 0 ] || fail "buildah's chroot isolation needs root here; run with sudo"
mkdir -p "$WORK"

CTR=""
cleanup() {
  if [ -n "$CTR" ]; then "${B[@]}" rm "$CTR" >/dev/null 2>&1 || true; fi
  if [ "${KEEP_IMAGE:-0}" != 1 ]; then "${B[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# ---- 1. the base image -------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]')
node_version=$(node -p 'process.versions.node')
# This machine's CA bundle goes into the stand-in: where TLS to the npm registry
# is intercepted (as in this project's sandbox), npm ci in the build needs the
# interceptor's CA, as a build behind a corporate proxy would. The tag names
# both inputs, so a new Node or CA bundle bootstraps afresh.
CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
ca_hash=$( { [ -f "$CA_BUNDLE" ] && sha256sum "$CA_BUNDLE" || echo none; } | cut -c1-8)
standin=localhost/imgcls-base:node${node_version}-bookworm-${ca_hash}

bootstrap_base() {
  need debootstrap debootstrap
  local rootfs="$WORK/rootfs" ctr mnt npm_dir
  [ "$node_major" -ge 20 ] || fail "this machine's Node is $node_version; the image needs 20 or later"
  say "bootstrapping Debian bookworm with debootstrap from $MIRROR (the registry's $BASE_REF is unreachable)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || fail "debootstrap failed; see $WORK/debootstrap.log"
  # Node and npm where node:20-bookworm-slim has them.
  npm_dir=$(npm root -g)/npm
  install -D -m 0755 "$(readlink -f "$(command -v node)")" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  local ca_env=()
  if [ -f "$CA_BUNDLE" ]; then
    install -D -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    ca_env=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
  fi
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null || fail "Node does not run inside the bootstrapped root"
  ctr=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="$node_version" "${ca_env[@]}" --cmd node "$ctr"
  "${B[@]}" commit --quiet "$ctr" "$standin" >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
  rm -rf "$rootfs"
}

if "${B[@]}" pull --quiet "$BASE_REF" >"$WORK/pull.log" 2>&1; then
  base=$BASE_REF
  say "base image: $BASE_REF from the registry"
else
  # Bootstrapped once per Node version, then reused.
  "${B[@]}" inspect --type image "$standin" >/dev/null 2>&1 || bootstrap_base
  base=$standin
  say "base image: $standin (bookworm from debootstrap + Node $node_version; $BASE_REF: $(tail -n 1 "$WORK/pull.log"))"
fi

# ---- 2. build ----------------------------------------------------------------
# Docker format, because OCI image configs have no HEALTHCHECK.
if [ "${IMGCLS_SMOKE_REUSE:-0}" = 1 ] && "${B[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
  say "reusing the image built before (IMGCLS_SMOKE_REUSE=1)"
else
  say "building $IMAGE from Dockerfile (a few minutes: npm ci twice, the model conversion, vfs copies)"
  started=$(date +%s)
  "${B[@]}" bud --isolation chroot --storage-driver vfs --format docker --layers=false \
    --build-arg NODE_IMAGE="$base" -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log" >&2
    fail "buildah bud failed; the whole log is $WORK/build.log"
  }
  say "built in $(($(date +%s) - started)) s"
fi

# ---- 3. what the image declares ----------------------------------------------
"${B[@]}" inspect --type image "$IMAGE" >"$WORK/image.json"
# One reader for the image's config (buildah 1.28's templates have no json function).
field() { node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Docker.config; const v = c[process.argv[2]]; console.log(typeof v === "string" ? v : JSON.stringify(v ?? null))' "$WORK/image.json" "$1"; }
user=$(field User)
ports=$(field ExposedPorts)
health=$(field Healthcheck)
entrypoint=$(field Entrypoint)
cmd=$(field Cmd)
size=$("${B[@]}" images --format '{{.Size}}' "$IMAGE" | head -n 1)
say "image: user $user, ports $ports, entrypoint $entrypoint $cmd, size $size"
[[ "$user" =~ ^[1-9][0-9]* ]] || fail "the image runs as '$user', not a non-root uid"
[[ "$ports" == *'"8080/tcp"'* ]] || fail "the image does not expose 8080"
[[ "$health" == *healthz* ]] || fail "the image has no HEALTHCHECK on /healthz: $health"
# The command the container runs: ENTRYPOINT then CMD, exactly as a runtime would.
mapfile -t argv < <(node -e 'for (const a of [...(JSON.parse(process.argv[1]) ?? []), ...(JSON.parse(process.argv[2]) ?? [])]) console.log(a)' "$entrypoint" "$cmd")
mapfile -t probe < <(node -e 'const t = JSON.parse(process.argv[1]).Test; for (const a of t.slice(1)) console.log(a)' "$health")
[ "${#argv[@]}" -gt 0 ] || fail "the image has no ENTRYPOINT or CMD"

# ---- 4. run it with no network, classify a photo -----------------------------
CTR=$("${B[@]}" from --pull=never "$IMAGE")
uid=$("${B[@]}" run --isolation chroot "$CTR" -- id -u)
[ "$uid" != 0 ] || fail "the container's process runs as root"
say "the container runs as uid $uid"

# A new network namespace with only loopback: the server must start, load its
# model and answer with nothing to download from. The checks run in the same
# namespace, since nothing outside it can reach the port.
say "starting the container with no network (unshare --net) and classifying $PHOTO"
export CTR PORT PHOTO WORK
export ARGV_Q="$(printf '%q ' "${argv[@]}")" PROBE_Q="$(printf '%q ' "${probe[@]}")"
unshare --net -- bash -c '
  set -euo pipefail
  ip link set lo up
  B=(buildah --storage-driver vfs)
  eval "argv=($ARGV_Q)"
  eval "probe=($PROBE_Q)"
  "${B[@]}" run --isolation chroot --env IMGCLS_PORT="$PORT" "$CTR" -- "${argv[@]}" >"$WORK/server.log" 2>&1 &
  server=$!
  # buildah run -> buildah-chroot-runtime -> buildah-chroot-exec -> node
  tree() { local c; for c in $(pgrep -P "$1"); do echo "$c"; tree "$c"; done; }
  bad() {
    echo "container-smoke: FAILED: $*" >&2; echo "--- server log ---" >&2; cat "$WORK/server.log" >&2
    kill -KILL $server $(tree $server) 2>/dev/null || true
    exit 1
  }
  for _ in $(seq 1 600); do
    kill -0 $server 2>/dev/null || bad "the container exited early"
    [ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$PORT/readyz")" = 200 ] && break
    sleep 0.2
  done
  [ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$PORT/readyz")" = 200 ] || bad "/readyz never answered 200"
  # The HEALTHCHECK command itself, run in the container as a runtime would run it.
  "${B[@]}" run --isolation chroot --env IMGCLS_PORT="$PORT" "$CTR" -- "${probe[@]}" || bad "the HEALTHCHECK command failed"
  curl -sS --fail-with-body -F "file=@$PHOTO" "http://127.0.0.1:$PORT/predict" >"$WORK/predict.json" || bad "POST /predict failed: $(cat "$WORK/predict.json")"
  node -e "
    const r = JSON.parse(require(\"fs\").readFileSync(process.argv[1], \"utf8\"));
    const top = r.predictions?.[0];
    if (r.model !== \"nsfw-mobilenet-v2\" || !top || top.label !== \"Neutral\" || !(top.score > 0.5)) { console.error(JSON.stringify(r)); process.exit(1); }
    console.error(\"container-smoke: /predict answered \" + top.label + \" \" + (top.score * 100).toFixed(1) + \"% with \" + r.model);
  " "$WORK/predict.json" || bad "unexpected /predict answer"
  # A model converted at start-up would say so; the image must have it already.
  if grep -qi "convert" "$WORK/server.log"; then bad "the server converted a model at start-up; the image should carry it"; fi
  # SIGTERM to the server itself, as a runtime stops a container: buildah run
  # does not pass signals on, but it exits with its command'"'"'s status.
  node_pid=""
  for pid in $(tree $server); do
    if [ "$(cat /proc/$pid/comm 2>/dev/null)" = node ]; then node_pid=$pid; fi
  done
  [ -n "$node_pid" ] || bad "cannot find the server process under buildah run"
  kill -TERM "$node_pid"
  wait $server || bad "the server did not exit 0 on SIGTERM"
  grep -q "SIGTERM: draining" "$WORK/server.log" || bad "the server did not drain on SIGTERM"
' || fail "the container did not serve (server log: $WORK/server.log)"

say "PASSED: built $IMAGE ($size), started it offline as uid $uid, /predict classified $PHOTO"
