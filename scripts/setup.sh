#!/usr/bin/env bash
# Prepares a machine to build, demo and test certpilot. Idempotent: every step checks before it
# acts, so the second run only confirms (a few seconds, dominated by the incremental build).
#
#   bash scripts/setup.sh           Debian packages, Pebble 2.10, test PKI, node_modules, build
#   bash scripts/setup.sh --bench   also lego, wrk and time for bench/ (certbot is in APT_PACKAGES)
#
# Debian 12 (bookworm) is the target; it runs as root (or with password-less sudo). Elsewhere the
# system steps are skipped with a warning and the tests that need a missing server skip loudly.
#
# Environment (all optional):
#   CERTPILOT_TEST_CACHE  cache root (default /var/cache/certpilot-test as root,
#                         ${XDG_CACHE_HOME:-~/.cache}/certpilot-test otherwise); holds the test PKI
#                         (pebble-tls/) and the side apt configuration (apt-unstable/)
#   CERTPILOT_TEST_OPT    where downloaded servers are unpacked (default /opt/certpilot-test as root,
#                         $CERTPILOT_TEST_CACHE/opt otherwise); Pebble 2.10 lands in pebble-2.10/
# test/harness/paths.ts resolves the same defaults; keep the two in step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BENCH=0
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "setup: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Debian packages the tests and the demo need. Later features add theirs here, one word each
# (redis-server, bind9, bind9-dnsutils, apache2, libssl3, ...).
APT_PACKAGES=(pebble openssl ca-certificates
  # certpilot cron against the real crontab
  cron
  # dns-01: BIND, Knot and PowerDNS for RFC 2136
  bind9 bind9-dnsutils knot pdns-server pdns-backend-sqlite3 sqlite3
  # the Route 53 emulator's dependencies (python3-moto itself comes from trixie, step 2b)
  python3-boto3 python3-botocore python3-flask python3-flask-cors python3-werkzeug python3-xmltodict
  python3-responses python3-cryptography python3-dateutil python3-jinja2 python3-requests python3-yaml
  python3-blinker python3-openssl
  # http-01 across many pods: Redis, apache/nginx in front, the deck's PHP controller; apache2 with
  # mod_ssl (libssl3) is also the Kubernetes stand-in's pods
  redis-server apache2 libssl3 nginx-light php-cli php-redis
  # observability: promtool test rules / check metrics and a real Prometheus scraping /metrics;
  # headless Chromium for the status page; an SMTP server for the e-mail notifier
  prometheus chromium python3-aiosmtpd
  # the container image (scripts/image.sh): buildah builds and runs it without a Docker engine
  # (vfs storage, chroot isolation: no fuse-overlayfs, runc or slirp4netns needed), mmdebstrap
  # makes its Debian base locally (no registry is reachable from CI)
  buildah mmdebstrap
  # the kill-after-the-live-switch test and the sync spy: strace stops a run at one exact syscall
  strace
  # `certpilot import certbot` is tested against state made by the real certbot (2.1 on bookworm)
  certbot)
# Only for `npm run bench`.
BENCH_PACKAGES=(python3-certbot-dns-rfc2136 lego time wrk)
# Minimum version of the side-loaded Pebble (ARI and profiles).
PEBBLE_NEW_MIN=2.10

log() { printf 'setup: %s\n' "$*" >&2; }
warn() { printf 'setup: WARNING: %s\n' "$*" >&2; }
started=$SECONDS

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
  CACHE="${CERTPILOT_TEST_CACHE:-/var/cache/certpilot-test}"
  OPT="${CERTPILOT_TEST_OPT:-/opt/certpilot-test}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
  CACHE="${CERTPILOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certpilot-test}"
  OPT="${CERTPILOT_TEST_OPT:-$CACHE/opt}"
else
  SUDO=(false)
  CACHE="${CERTPILOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certpilot-test}"
  OPT="${CERTPILOT_TEST_OPT:-$CACHE/opt}"
fi
CAN_APT=1
if ! command -v apt-get >/dev/null 2>&1 || [[ ${SUDO[0]:-} == false ]]; then CAN_APT=0; fi

# --- 1. Debian packages ---------------------------------------------------------------------------
is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

install_packages() {
  local wanted=("$@") missing=() p
  for p in "${wanted[@]}"; do is_installed "$p" || missing+=("$p"); done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "debian packages present: ${wanted[*]}"
    return 0
  fi
  if [[ $CAN_APT -eq 0 ]]; then
    warn "missing packages ${missing[*]} and no root/apt-get here; tests needing them will skip"
    return 0
  fi
  log "installing debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

pkgs=("${APT_PACKAGES[@]}")
[[ $BENCH -eq 1 ]] && pkgs+=("${BENCH_PACKAGES[@]}")
install_packages "${pkgs[@]}"
# The real kubectl cross-checks the Kubernetes stand-in. The machine image has it (Debian package
# `kubectl`); where it does not, Debian's kubernetes-client provides one.
if ! command -v kubectl >/dev/null 2>&1; then install_packages kubernetes-client; fi

# --- 2. Pebble >= 2.10 from Debian unstable/trixie, side-loaded ---------------------------------
# A separate apt configuration (own source list, lists and cache) so the machine's own apt state is
# never touched; the mirror is whatever the machine already uses. The .deb is only unpacked (Go
# binary, needs only libc), never installed.
PEBBLE_NEW_DIR="$OPT/pebble-2.10"
PEBBLE_NEW_BIN="$PEBBLE_NEW_DIR/usr/bin/pebble"

# debian_mirror: the machine's own Debian mirror URI (shared with scripts/image.sh).
. "$ROOT/scripts/lib/debian-mirror.sh"

# The side apt configuration for newer Debian suites (unstable, trixie) of the machine's own mirror:
# its own source list, lists and cache under $CACHE, so the machine's apt state is never touched.
# Sets SIDE_APT_DIR, SIDE_APT_MIRROR and SIDE_APT_OPTS; fails (after a warning naming `what`
# will skip) when no mirror is configured.
side_apt() {
  SIDE_APT_MIRROR="$(debian_mirror)"
  if [[ -z $SIDE_APT_MIRROR ]]; then
    warn "no Debian mirror found in /etc/apt sources; $1 will skip"
    return 1
  fi
  SIDE_APT_DIR="$CACHE/apt-unstable"
  mkdir -p "$SIDE_APT_DIR/lists/partial" "$SIDE_APT_DIR/cache/archives/partial" "$SIDE_APT_DIR/debs"
  {
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SIDE_APT_MIRROR unstable main"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SIDE_APT_MIRROR trixie main"
  } >"$SIDE_APT_DIR/sources.list"
  SIDE_APT_OPTS=(-o "Dir::Etc::SourceList=$SIDE_APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$SIDE_APT_DIR/lists" -o "Dir::Cache=$SIDE_APT_DIR/cache" -o "APT::Sandbox::User=$(id -un)")
}

install_new_pebble() {
  if [[ -x $PEBBLE_NEW_BIN ]] && "$PEBBLE_NEW_BIN" -version >/dev/null 2>&1; then
    log "pebble $(cat "$PEBBLE_NEW_DIR/VERSION" 2>/dev/null || echo '>= 2.10') present: $PEBBLE_NEW_BIN"
    return 0
  fi
  # No root needed: the side configuration only writes below $CACHE.
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "cannot fetch pebble >= $PEBBLE_NEW_MIN without apt-get; ARI/profile tests will skip"
    return 0
  fi
  if ! side_apt "ARI/profile tests"; then return 0; fi
  local alt=$SIDE_APT_DIR mirror=$SIDE_APT_MIRROR
  local -a aptopts=("${SIDE_APT_OPTS[@]}")
  log "fetching pebble >= $PEBBLE_NEW_MIN index from $mirror (unstable, trixie)"
  if ! apt-get "${aptopts[@]}" update -qq >&2; then
    warn "apt-get update of unstable/trixie failed; ARI/profile tests will skip"
    return 0
  fi
  # Every candidate >= the minimum, newest first; fall back to the next if one does not run here.
  local versions v
  versions="$(apt-cache "${aptopts[@]}" madison pebble | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
    sort -u | sort -r -V)"
  for v in $versions; do
    dpkg --compare-versions "$v" ge "$PEBBLE_NEW_MIN" || continue
    log "downloading pebble $v"
    rm -f "$alt/debs/"*.deb
    if ! (cd "$alt/debs" && apt-get "${aptopts[@]}" download -qq "pebble=$v" >&2); then
      warn "download of pebble $v failed"; continue
    fi
    local staging="$PEBBLE_NEW_DIR.tmp.$$"
    rm -rf "$staging" && mkdir -p "$staging"
    dpkg -x "$alt/debs/"pebble_*.deb "$staging"
    if "$staging/usr/bin/pebble" -version >/dev/null 2>&1; then
      echo "$v" >"$staging/VERSION"
      rm -rf "$PEBBLE_NEW_DIR" && mkdir -p "$(dirname "$PEBBLE_NEW_DIR")"
      mv "$staging" "$PEBBLE_NEW_DIR"
      log "pebble $v unpacked to $PEBBLE_NEW_DIR"
      return 0
    fi
    warn "pebble $v does not run on this machine"
    rm -rf "$staging"
  done
  warn "no usable pebble >= $PEBBLE_NEW_MIN in unstable/trixie; ARI/profile tests will skip"
}
install_new_pebble

# --- 2b. python3-moto (the Route 53 emulator) from Debian trixie, side-loaded ---------------------
# Architecture all (pure Python): the same side apt configuration downloads it, `dpkg -x` unpacks it,
# and bookworm's python3 packages above satisfy its imports. Tests run
# `PYTHONPATH=$OPT/moto/usr/lib/python3/dist-packages /usr/bin/python3 -m moto.server`.
MOTO_DIR="$OPT/moto"
install_moto() {
  if [[ -f $MOTO_DIR/usr/lib/python3/dist-packages/moto/__init__.py ]]; then
    log "python3-moto $(cat "$MOTO_DIR/VERSION" 2>/dev/null || echo '?') present: $MOTO_DIR"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "cannot fetch python3-moto without apt-get; Route 53 emulator tests will skip"
    return 0
  fi
  if ! side_apt "Route 53 emulator tests"; then return 0; fi
  local alt=$SIDE_APT_DIR
  local -a aptopts=("${SIDE_APT_OPTS[@]}")
  if [[ ! -d $alt/lists ]] || ! ls "$alt/lists/"*trixie* >/dev/null 2>&1; then
    apt-get "${aptopts[@]}" update -qq >&2 || { warn "apt-get update of trixie failed; Route 53 emulator tests will skip"; return 0; }
  fi
  local v
  v="$(apt-cache "${aptopts[@]}" madison python3-moto | awk -F'|' '$3 ~ /trixie/ {gsub(/ /, "", $2); print $2; exit}')"
  if [[ -z $v ]]; then warn "python3-moto not found in trixie; Route 53 emulator tests will skip"; return 0; fi
  log "downloading python3-moto $v (trixie)"
  rm -f "$alt/debs/"python3-moto_*.deb
  if ! (cd "$alt/debs" && apt-get "${aptopts[@]}" download -qq "python3-moto=$v" >&2); then
    warn "download of python3-moto $v failed; Route 53 emulator tests will skip"; return 0
  fi
  local staging="$MOTO_DIR.tmp.$$"
  rm -rf "$staging" && mkdir -p "$staging"
  dpkg -x "$alt/debs/"python3-moto_*.deb "$staging"
  echo "$v" >"$staging/VERSION"
  rm -rf "$MOTO_DIR" && mkdir -p "$(dirname "$MOTO_DIR")" && mv "$staging" "$MOTO_DIR"
  log "python3-moto $v unpacked to $MOTO_DIR"
}
install_moto

# --- 3. Test PKI for Pebble's own listener (and the fault proxy) -------------------------------
# Debian's pebble ships no listener certificate. One CA plus one leaf for localhost, 127.0.0.1 and
# ::1, kept between runs and regenerated when missing, unreadable or within 30 days of expiry.
PKI="$CACHE/pebble-tls"
pki_ok() {
  local f
  for f in ca.pem ca-key.pem cert.pem key.pem; do [[ -s $PKI/$f ]] || return 1; done
  openssl x509 -in "$PKI/ca.pem" -noout -checkend $((30 * 86400)) >/dev/null 2>&1 || return 1
  openssl x509 -in "$PKI/cert.pem" -noout -checkend $((30 * 86400)) >/dev/null 2>&1 || return 1
  openssl verify -CAfile "$PKI/ca.pem" "$PKI/cert.pem" >/dev/null 2>&1 || return 1
}
make_pki() {
  local tmp
  tmp="$(mktemp -d "${PKI}.tmp.XXXXXX")"
  (
    umask 077
    cd "$tmp"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem 2>/dev/null
    openssl req -x509 -new -key ca-key.pem -sha256 -days 3650 -subj "/CN=certpilot test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out ca.pem 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null
    openssl req -new -key key.pem -subj "/CN=localhost" -out leaf.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
      "authorityKeyIdentifier=keyid" "subjectKeyIdentifier=hash" >leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 \
      -days 825 -extfile leaf.ext -out cert.pem 2>/dev/null
    rm -f leaf.csr leaf.ext ca.srl
    chmod 0600 ca-key.pem key.pem
    chmod 0644 ca.pem cert.pem
  )
  chmod 0755 "$tmp"
  rm -rf "$PKI"
  mv "$tmp" "$PKI"
}
mkdir -p "$CACHE"
if pki_ok; then
  log "test PKI present: $PKI"
else
  log "generating test PKI in $PKI"
  make_pki
fi

# --- 4. node_modules ---------------------------------------------------------------------------
# npm ci only when the tree may not match package-lock.json: no tree yet, or the lockfile changed
# (hash kept in node_modules/.certpilot-lock-hash) after npm last wrote its own hidden lockfile.
# A tree npm installed after the lockfile's last change (a plain `npm install x`) counts as current.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
hash_file=node_modules/.certpilot-lock-hash
hidden=node_modules/.package-lock.json
if [[ -f $hidden && -f $hash_file && "$(cat "$hash_file")" == "$lock_hash" ]]; then
  log "node_modules current"
elif [[ -f $hidden && ! $hidden -ot package-lock.json ]]; then
  echo "$lock_hash" >"$hash_file"
  log "node_modules current (installed after the last lockfile change)"
else
  log "npm ci (package-lock.json changed or no node_modules)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" >"$hash_file"
fi

# --- 5. Build ----------------------------------------------------------------------------------
# tsc is incremental but trusts dist/.tsbuildinfo even when outputs were deleted by hand; force a
# full build when a source that existed at the last build lacks its output (newer sources are
# tsc's own business).
if [[ -f dist/.tsbuildinfo ]]; then
  while IFS= read -r -d '' ts; do
    js="dist/${ts%.ts}.js"
    if [[ ! -f $js && $ts -ot dist/.tsbuildinfo ]]; then
      log "dist/ is missing $js; rebuilding from scratch"
      rm -f dist/.tsbuildinfo
      break
    fi
  done < <(find src test -name '*.ts' ! -name '*.d.ts' -print0)
fi
log "build (npm run build)"
npm run --silent build >&2

log "done in $((SECONDS - started))s"
