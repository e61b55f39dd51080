#!/usr/bin/env bash
# Build mediasoup-worker for the npm package mediasoup 3.27.1 from the C++
# sources shipped in the package, against Debian 12 libraries only (no GitHub,
# PyPI or wrapdb access). See README.md next to this script.
#
# Usage: build-worker.sh <mediasoup-package-dir> <output-binary-path>
set -euo pipefail

readonly EXPECTED_VERSION="3.27.1"
readonly APT_PACKAGES=(g++ meson ninja-build pkg-config patch libuv1-dev libssl-dev
  libsrtp2-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler)
readonly SELF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SELF="${SELF_DIR}/$(basename "${BASH_SOURCE[0]}")"

log() { echo "[mediasoup-worker] $*"; }
die() { echo "[mediasoup-worker] ERROR: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $(basename "$0") <mediasoup-package-dir> <output-binary-path>"
PKG_DIR="$(cd "$1" 2>/dev/null && pwd)" || die "package dir not found: $1"
OUT="$2"
[[ "$OUT" == /* ]] || OUT="$PWD/$OUT"
[[ -f "$PKG_DIR/package.json" ]] || die "no package.json in $PKG_DIR"
[[ -f "$PKG_DIR/worker/meson.build" ]] || die "no worker/meson.build in $PKG_DIR (not a mediasoup package?)"

# 1. Version check: the patches and replacement subprojects are for one version.
VERSION="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_DIR/package.json" | head -n1)"
[[ "$VERSION" == "$EXPECTED_VERSION" ]] ||
  die "mediasoup version in $PKG_DIR/package.json is '${VERSION:-unknown}', but these patches are for $EXPECTED_VERSION; pin \"mediasoup\": \"$EXPECTED_VERSION\" or update infra/mediasoup/"

# 2. Cache: key = mediasoup version + every file of infra/mediasoup used by the build.
cache_key() {
  {
    echo "mediasoup $VERSION"
    (cd "$SELF_DIR" && find patches subprojects -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum < "$SELF"
  } | sha256sum | cut -d' ' -f1
}
KEY="$(cache_key)"
if [[ -x "$OUT" && -f "$OUT.key" && "$(cat "$OUT.key")" == "$KEY" ]]; then
  log "cached: $OUT (key ${KEY:0:12})"
  exit 0
fi

# 3. System packages.
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed: ${missing[*]}"
fi

START=$(date +%s)
BUILD_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")"
cleanup() {
  if [[ "${MEDIASOUP_WORKER_KEEP_BUILD:-0}" == 1 ]]; then log "build dir kept: $BUILD_ROOT"; else rm -rf "$BUILD_ROOT"; fi
}
trap cleanup EXIT
SRC="$BUILD_ROOT/worker"
BUILD="$BUILD_ROOT/build"
LOG="$BUILD_ROOT/build.log"
fail_with_log() {
  echo "----- last lines of $LOG -----" >&2
  tail -n 60 "$LOG" >&2 || true
  mkdir -p "$(dirname "$OUT")" && cp "$LOG" "$OUT.build.log" 2>/dev/null &&
    echo "[mediasoup-worker] full log: $OUT.build.log" >&2
  die "$1"
}

# 4. Copy the worker sources (never modify the installed package).
log "mediasoup $VERSION: copying $PKG_DIR/worker to $SRC"
mkdir -p "$SRC"
tar -C "$PKG_DIR/worker" --exclude=./out -cf - . | tar -C "$SRC" -xf -

# 5. Patches.
for p in "$SELF_DIR"/patches/*.patch; do
  log "applying patch $(basename "$p")"
  patch -p1 --forward --batch --quiet -d "$SRC" < "$p" || die "patch $(basename "$p") does not apply"
done

# 6. Replacement subprojects: each goes where the .wrap of the same name would
# unpack its download (`directory =`), so meson uses it without downloading.
for d in "$SELF_DIR"/subprojects/*/; do
  name="$(basename "$d")"
  wrap="$SRC/subprojects/$name.wrap"
  [[ -f "$wrap" ]] || die "replacement subproject '$name' has no $name.wrap in the worker"
  dir="$(sed -n 's/^directory[[:space:]]*=[[:space:]]*//p' "$wrap" | tr -d '[:space:]')"
  [[ -n "$dir" ]] || die "no 'directory' in $wrap"
  log "subproject $name -> subprojects/$dir (Debian library)"
  rm -rf "$SRC/subprojects/$dir"
  cp -r "$d" "$SRC/subprojects/$dir"
  : > "$SRC/subprojects/$dir/empty.c"
done

# 7. Configure and build only the mediasoup-worker target.
log "meson setup (release, wrap-mode=nodownload); log: $LOG"
meson setup --wrap-mode=nodownload --buildtype release -Db_ndebug=true \
  "$BUILD" "$SRC" >> "$LOG" 2>&1 || fail_with_log "meson setup failed"

JOBS="${MEDIASOUP_WORKER_JOBS:-$(nproc)}"
log "compiling mediasoup-worker with $JOBS jobs (takes a few minutes)"
ninja -C "$BUILD" -j "$JOBS" mediasoup-worker 2>&1 | tee -a "$LOG" |
  awk '/^\[[0-9]+\/[0-9]+\]/ { split(substr($1, 2), a, "/"); n = a[1] + 0; t = a[2] + 0;
       if (n % 50 == 0 || n == t) { printf "[mediasoup-worker]   %d/%d\n", n, t; fflush() } }' ||
  fail_with_log "ninja failed"

BIN="$BUILD/mediasoup-worker"
[[ -x "$BIN" ]] || fail_with_log "ninja finished but $BIN is missing"
unresolved="$(ldd "$BIN" | grep 'not found' || true)"
[[ -z "$unresolved" ]] || die "built binary has unresolved shared libraries: $unresolved"

# 8. Install atomically: copy next to the target, then rename.
mkdir -p "$(dirname "$OUT")"
tmp_out="$(mktemp "$OUT.tmp.XXXXXX")"
cp "$BIN" "$tmp_out"
chmod 755 "$tmp_out"
mv -f "$tmp_out" "$OUT"
printf '%s\n' "$KEY" > "$OUT.key.tmp.$$" && mv -f "$OUT.key.tmp.$$" "$OUT.key"
rm -f "$OUT.build.log"

ELAPSED=$(( $(date +%s) - START ))
log "built $OUT ($(du -h "$OUT" | cut -f1)) in $((ELAPSED / 60))m$((ELAPSED % 60))s"
