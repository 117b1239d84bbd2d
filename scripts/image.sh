#!/usr/bin/env bash
# Builds and runs certpilot's container image with Debian's buildah: no Docker engine, no registry.
#
#   bash scripts/image.sh base            make the base image locally (once; kept in the cache)
#   bash scripts/image.sh build [--force] base, then `buildah bud` of ./Dockerfile; tags the image
#                                         $CERTPILOT_IMAGE and, by its build context's hash,
#                                         localhost/certpilot:ctx-HASH, which it prints
#   bash scripts/image.sh run [--read-only] [--in NAME] [BUILDAH-RUN-OPTIONS...] -- COMMAND [ARGS...]
#                                         runs COMMAND (e.g. `certpilot renew`) in a new container
#                                         of the built image, then removes the container, whatever
#                                         happened; --read-only: only the -v volumes are writable;
#                                         --in NAME: in the kept container NAME instead (see below)
#   bash scripts/image.sh container [NAME] makes a container of the built image and keeps it: prints
#                                         its name for `run --in NAME` (with --read-only, nothing a
#                                         run does outlives it but what it wrote to its volumes, so
#                                         many runs may share one container: vfs storage copies the
#                                         whole image for each new one, ~8 s); remove it with
#                                         `image.sh buildah rm NAME`
#   bash scripts/image.sh size            the image's size as JSON (bytes of uncompressed layers:
#                                         all, the base's, certpilot's own)
#   bash scripts/image.sh buildah ARGS... buildah itself with this script's storage (debugging)
#
# The base: the Dockerfile's runtime stage is `docker.io/library/node:20-bookworm-slim`, which no
# registry here can serve. So, as DESIGN.md §5 says, it is made under that name from what the
# machine has: Debian's `mmdebstrap --variant=minbase bookworm` from the mirror of this machine's
# own apt sources (never a hard-coded host), with the same trimming as the official slim image
# (no docs but copyrights, no man pages, no locales), merged /usr without the usrmerge package
# (which pulls in perl: 47 MB), plus this machine's Node 20 and npm at the official image's paths
# (/usr/local/bin/node, /usr/local/lib/node_modules/npm). It is made only when missing.
#
# The build: `buildah --storage-driver vfs bud --isolation chroot --pull=never`. The build stage's
# RUN steps share the host's network (chroot isolation), so `npm ci` reaches the npm registry as it
# does on the host. The result is tagged with a hash of the build context (Dockerfile,
# .dockerignore and the files it lets in) and the base image's ID: `build` skips the build when an
# image with that tag exists (`--force` rebuilds) and drops the images of older contexts.
#
# Storage: $CERTPILOT_TEST_CACHE/buildah (default /var/cache/certpilot-test/buildah as root), so
# the base and the last image survive between runs and never touch the machine's own
# /var/lib/containers. Runs as root (buildah's vfs driver and chroot isolation need it here).
#
# Environment (all optional):
#   CERTPILOT_TEST_CACHE   cache root (as in scripts/setup.sh)
#   CERTPILOT_IMAGE        the tag to build (default localhost/certpilot:dev)
#   CERTPILOT_IMAGE_BASE   the base's name (default docker.io/library/node:20-bookworm-slim; the
#                          Dockerfile's NODE_IMAGE build argument)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ $(id -u) -eq 0 ]]; then
  CACHE="${CERTPILOT_TEST_CACHE:-/var/cache/certpilot-test}"
else
  CACHE="${CERTPILOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certpilot-test}"
fi
IMAGE="${CERTPILOT_IMAGE:-localhost/certpilot:dev}"
BASE="${CERTPILOT_IMAGE_BASE:-docker.io/library/node:20-bookworm-slim}"
STORE="$CACHE/buildah"
# buildah keeps RUN --mount=type=cache directories and big temporary files under TMPDIR.
export TMPDIR="$STORE/tmp"
export BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$STORE/root" --runroot "$STORE/runroot" --storage-driver vfs)

log() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

need() {
  command -v buildah >/dev/null 2>&1 || die "buildah is missing: run \`bash scripts/setup.sh\` (Debian package buildah)"
  [[ $(id -u) -eq 0 ]] || die "run as root: buildah's vfs storage and chroot isolation need it here"
  mkdir -p "$STORE/root" "$STORE/runroot" "$TMPDIR"
}

image_exists() { "${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$1" >/dev/null 2>&1; }

# --- base ------------------------------------------------------------------------------------------
make_base() {
  need
  if image_exists "$BASE"; then
    log "base present: $BASE"
    return 0
  fi
  command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap is missing: run \`bash scripts/setup.sh\` (Debian package mmdebstrap)"
  local node_bin node_version npm_dir mirror work ctr
  node_bin="$(command -v node)"
  node_version="$("$node_bin" -p 'process.versions.node')"
  [[ ${node_version%%.*} == 20 ]] || die "this machine's node is $node_version; the base must be Node 20 like the official image"
  npm_dir="$(dirname "$(readlink -f "$node_bin")")/../lib/node_modules/npm"
  [[ -f $npm_dir/bin/npm-cli.js ]] || die "npm not found next to $node_bin (looked in $npm_dir)"
  . "$ROOT/scripts/lib/debian-mirror.sh"
  mirror="$(debian_mirror)"
  [[ -n $mirror ]] || die "no Debian mirror in this machine's apt sources; cannot make the base"

  work="$(mktemp -d "$STORE/tmp/base.XXXXXX")"
  ctr=""
  # shellcheck disable=SC2064
  trap "rm -rf '$work'; [[ -z \$ctr ]] || ${BUILDAH[*]} rm \"\$ctr\" >/dev/null 2>&1 || true" EXIT
  log "mmdebstrap --variant=minbase bookworm from $mirror"
  mmdebstrap --variant=minbase --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    bookworm "$work/rootfs.tar" "$mirror" >&2

  # Node and npm where the official image has them.
  mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/lib/node_modules"
  install -m 0755 "$node_bin" "$work/node/usr/local/bin/node"
  cp -a "$npm_dir" "$work/node/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/usr/local/bin/npx"
  tar -C "$work/node" --owner=0 --group=0 -cf "$work/node.tar" .

  ctr="$("${BUILDAH[@]}" from --pull=never scratch)"
  "${BUILDAH[@]}" add "$ctr" "$work/rootfs.tar" / >/dev/null
  "${BUILDAH[@]}" add "$ctr" "$work/node.tar" / >/dev/null
  "${BUILDAH[@]}" config --env "NODE_VERSION=$node_version" \
    --env 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --cmd node \
    --label 'io.certpilot.local-base=mmdebstrap minbase bookworm + this machine'"'"'s node' "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$BASE" >/dev/null
  ctr=""
  rm -rf "$work"
  trap - EXIT
  log "base made: $BASE (node $node_version)"
}

# --- build -----------------------------------------------------------------------------------------
# A superset of what .dockerignore lets into the build context (it also leaves out tests and
# fixtures under src/): a change here at worst rebuilds once too often. A new COPY source in the
# Dockerfile must be added here and in .dockerignore.
context_files() {
  printf '%s\n' Dockerfile .dockerignore package.json package-lock.json scripts/bundle.mjs scripts/bundle-options.mjs
  find src -type f | LC_ALL=C sort
}

context_hash() {
  local base_id
  base_id="$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$BASE")"
  { echo "base $base_id"; context_files | while IFS= read -r f; do sha256sum "$f"; done; } |
    sha256sum | cut -c1-16
}

build() {
  local force=0
  [[ ${1:-} == --force ]] && force=1
  make_base
  local hash tag version revision
  hash="$(context_hash)"
  tag="${IMAGE%:*}:ctx-$hash"
  if [[ $force -eq 0 ]] && image_exists "$tag"; then
    log "image current: $tag (build context unchanged)"
    "${BUILDAH[@]}" tag "$tag" "$IMAGE"
    echo "$tag"
    return 0
  fi
  version="$(node -p 'require("./package.json").version')"
  revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  # This machine may reach the npm registry through a TLS-intercepting proxy whose CA only the
  # host trusts: hand the build stage the host's CA bundle (a secret: in no layer).
  local secret=()
  [[ -s /etc/ssl/certs/ca-certificates.crt ]] && secret=(--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
  log "buildah bud (context $hash)"
  "${BUILDAH[@]}" bud --isolation chroot --pull=never --layers=false "${secret[@]}" \
    --build-arg "NODE_IMAGE=$BASE" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$tag" -t "$IMAGE" -f Dockerfile . >&2
  # Keep the three newest contexts (another checkout may be testing one of them right now) and
  # drop older ones with the layers only they used.
  "${BUILDAH[@]}" images --format '{{.Created}} {{.Name}}:{{.Tag}}' |
    awk -v prefix="${IMAGE%:*}:ctx-" 'index($2, prefix) == 1 { print $1, $2 }' |
    sort -rn | tail -n +4 | awk '{ print $2 }' |
    while IFS= read -r old; do "${BUILDAH[@]}" rmi "$old" >/dev/null 2>&1 || true; done
  "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
  echo "$tag"
}

# --- run -------------------------------------------------------------------------------------------
# buildah run has no read-only root option: --read-only bind-mounts every top-level directory of
# the container's root onto itself read-only (proc, sys and dev are buildah's own), before the
# caller's volumes, so only those volumes are writable. The root directory itself stays writable
# by root only (it is 0755 root:root), which the image's user 65532 is not.
run() {
  need
  local readonly=0 keep="" opts=() ctr mp d status=0 v src dest rest
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --read-only) readonly=1; shift ;;
      --in) [[ $# -ge 2 ]] || die "--in needs a container name"; keep="$2"; shift 2 ;;
      *) break ;;
    esac
  done
  while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  [[ $# -gt 0 ]] || die "usage: image.sh run [--read-only] [--in NAME] [BUILDAH-RUN-OPTIONS...] -- COMMAND [ARGS...]"
  if [[ -n $keep ]]; then
    ctr="$keep"
  else
    image_exists "$IMAGE" || die "no image $IMAGE: run \`bash scripts/image.sh build\` first"
    ctr="$("${BUILDAH[@]}" from --pull=never --quiet "$IMAGE")"
    # shellcheck disable=SC2064
    trap "${BUILDAH[*]} rm '$ctr' >/dev/null 2>&1 || true" EXIT
  fi
  # A signal ends the script through exit, so the EXIT trap removes the container.
  trap 'exit 143' TERM
  trap 'exit 130' INT
  mp="$("${BUILDAH[@]}" mount "$ctr")"
  # Each volume's mount point is made in the container's root before it turns read-only, as a
  # runtime does, and its destination is resolved inside that root first: Debian's /var/run is a
  # symlink to the absolute /run, which followed from the host would lead to the host's /run.
  local i dests=" "
  for i in "${!opts[@]}"; do
    v=""
    case "${opts[$i]}" in
      -v | --volume) v="${opts[$((i + 1))]:-}" ;;
      --volume=*) v="${opts[$i]#--volume=}" ;;
    esac
    [[ -n $v && $v == *:/* ]] || continue
    src="${v%%:*}"
    rest="${v#*:}"
    dest="${rest%%:*}"
    [[ $rest == *:* ]] && rest=":${rest#*:}" || rest=""
    dest="$(chroot "$mp" /usr/bin/realpath -m -- "$dest")"
    if [[ -d $src ]]; then chroot "$mp" /usr/bin/mkdir -p -- "$dest"; else
      chroot "$mp" /usr/bin/mkdir -p -- "$(dirname "$dest")"
      [[ -e $mp$dest ]] || chroot "$mp" /usr/bin/touch -- "$dest"
    fi
    dests+="$dest "
    if [[ ${opts[$i]} == --volume=* ]]; then opts[i]="--volume=$src:$dest$rest"; else opts[i + 1]="$src:$dest$rest"; fi
  done
  local ro=()
  if [[ $readonly -eq 1 ]]; then
    # buildah binds these files into every container (as Docker binds the /etc ones): their
    # mount points must exist before their directories turn read-only.
    for d in run/.containerenv etc/hosts etc/hostname etc/resolv.conf; do
      [[ -e $mp/$d ]] || : >"$mp/$d"
    done
    for d in "$mp"/*; do
      [[ -d $d && ! -L $d ]] || continue
      case "${d##*/}" in proc | sys | dev) continue ;; esac
      [[ $dests == *" /${d##*/} "* ]] && continue # a volume (e.g. an emptyDir on /tmp) replaces it
      ro+=(--volume "$d:/${d##*/}:ro")
    done
  fi
  "${BUILDAH[@]}" run --isolation chroot "${ro[@]}" "${opts[@]}" "$ctr" -- "$@" || status=$?
  exit "$status"
}

# A container of the built image, kept for `run --in`.
container() {
  need
  image_exists "$IMAGE" || die "no image $IMAGE: run \`bash scripts/image.sh build\` first"
  "${BUILDAH[@]}" from --pull=never --quiet ${1:+--name "$1"} "$IMAGE"
}

# The image's size as JSON: bytes of all its (uncompressed) layers, and of the layers above the
# base (what certpilot adds).
size() {
  need
  local image base
  image="$("${BUILDAH[@]}" inspect --type image "$IMAGE" 2>/dev/null)" || die "no image $IMAGE"
  base="$("${BUILDAH[@]}" inspect --type image "$BASE" 2>/dev/null)" || die "no base image $BASE"
  IMAGE_JSON="$image" BASE_JSON="$base" node -e '
    const layers = (j) => JSON.parse(JSON.parse(j).Manifest).layers.map((l) => ({ digest: l.digest, size: l.size }));
    const all = layers(process.env.IMAGE_JSON);
    const base = new Set(layers(process.env.BASE_JSON).map((l) => l.digest));
    const sum = (ls) => ls.reduce((n, l) => n + l.size, 0);
    console.log(JSON.stringify({ image: process.argv[1], bytes: sum(all), baseBytes: sum(all.filter((l) => base.has(l.digest))), ownBytes: sum(all.filter((l) => !base.has(l.digest))), layers: all.length }));
  ' "$IMAGE"
}

cmd="${1:-build}"
[[ $# -gt 0 ]] && shift
# One base and one build at a time per storage (other checkouts share it): a second caller waits,
# then finds the base, or the image of an unchanged context, already made.
serialize() {
  need
  exec {lock_fd}>"$STORE/build.lock"
  flock "$lock_fd"
}
case "$cmd" in
  base) serialize; make_base ;;
  build) serialize; build "$@" ;;
  run) run "$@" ;;
  container) container "$@" ;;
  size) size ;;
  buildah) need; exec "${BUILDAH[@]}" "$@" ;;
  -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0" ;;
  *) die "unknown command: $cmd (base, build, run, container, size, buildah)" ;;
esac
