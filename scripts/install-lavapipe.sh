#!/usr/bin/env bash
# Installs Mesa lavapipe (a software Vulkan driver on the CPU) for the project's WebGPU path,
# as ../shared/reference/dependencies.md describes:
#   - the Vulkan loader (libvulkan1) from the machine's normal Debian archive;
#   - mesa-vulkan-drivers from the `bookworm-backports` suite (Mesa 25: Debian 12's own Mesa 22
#     lavapipe is rejected by Dawn's Vulkan backend), fetched with `apt-get download` under a
#     PRIVATE apt configuration (the system's sources, lists and cache are left untouched) from
#     the same archive host the machine's own apt sources name, unpacked with `dpkg -x` into
#     the git-ignored `.lavapipe/` folder, with an ICD json pointing at the unpacked driver.
# engine/gpu/adapter.ts sets VK_ICD_FILENAMES to `.lavapipe/lvp_icd.json` when it exists.
# Idempotent: exits 0 at once when already installed. Needs root (or sudo) for libvulkan1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DEST="$ROOT/.lavapipe"
ICD="$DEST/lvp_icd.json"
SUITE="${LAVAPIPE_SUITE:-bookworm-backports}"

say() { echo "install-lavapipe: $*"; }

loader_present() {
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || dpkg-query -W -f='${Status}' libvulkan1 2>/dev/null | grep -q 'install ok installed'
}

driver_present() {
  [ -f "$ICD" ] || return 1
  local lib
  lib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$ICD")
  case "$lib" in /*) ;; *) lib="$DEST/$lib" ;; esac
  [ -n "$lib" ] && [ -f "$lib" ]
}

if loader_present && driver_present; then
  say "already installed: $(cat "$DEST/VERSION" 2>/dev/null || echo 'lavapipe') ($ICD)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO=""; fi
fi

# 1. The Vulkan loader, from the normal archive.
if loader_present; then
  say "Vulkan loader libvulkan1 already present"
else
  say "installing the Vulkan loader (libvulkan1) from the system's archive"
  if ! $SUDO apt-get install -y --no-install-recommends libvulkan1; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends libvulkan1
  fi
fi

# 2. The archive host: the first Debian (non-security) URI of the machine's own apt sources.
archive_uri() {
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ "${#files[@]}" -gt 0 ] || return 1
  {
    # one-line format: deb [options] URI suite components
    grep -hE '^[[:space:]]*deb[[:space:]]' "${files[@]}" 2>/dev/null \
      | sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}'
    # deb822 format: URIs: a b c
    grep -hiE '^[[:space:]]*URIs:' "${files[@]}" 2>/dev/null | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//I' | tr ' ' '\n'
  } | grep -E '^(https?|file)://' > "$1" || true
  # the main Debian archive (…/debian); else the first that is not the security archive
  grep -E '/debian/?$' "$1" | head -1 | grep . || grep -v -E 'security' "$1" | head -1
}
URIS_FILE=$(mktemp)
URI="${LAVAPIPE_ARCHIVE:-$(archive_uri "$URIS_FILE" || true)}"
rm -f "$URIS_FILE"
if [ -z "$URI" ]; then
  say "no Debian archive found in /etc/apt/sources.list or /etc/apt/sources.list.d/ (set LAVAPIPE_ARCHIVE)" >&2
  exit 1
fi
URI="${URI%/}"
say "archive: $URI, suite $SUITE"

# 3. A private apt configuration: its own sources list, lists and cache under a temp folder.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/download"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -f "$KEYRING" ]; then
  echo "deb [signed-by=$KEYRING] $URI $SUITE main" > "$WORK/sources.list"
else
  echo "deb $URI $SUITE main" > "$WORK/sources.list"
fi
APT_OPTS=(
  -o "Dir::Etc::SourceList=$WORK/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$WORK/lists"
  -o "Dir::Cache=$WORK/cache"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
)
say "fetching the $SUITE package index (private apt configuration)"
apt-get "${APT_OPTS[@]}" update -qq
VERSION=$(apt-cache "${APT_OPTS[@]}" policy mesa-vulkan-drivers | awk '/Candidate:/ {print $2}')
if [ -z "$VERSION" ] || [ "$VERSION" = "(none)" ]; then
  say "mesa-vulkan-drivers not found in $SUITE at $URI" >&2
  exit 1
fi
say "downloading mesa-vulkan-drivers $VERSION"
(cd "$WORK/download" && apt-get "${APT_OPTS[@]}" download "mesa-vulkan-drivers=$VERSION")
DEB=$(ls "$WORK/download"/mesa-vulkan-drivers_*.deb | head -1)

# 4. Unpack into .lavapipe/ and write the ICD json.
rm -rf "$DEST"
mkdir -p "$DEST"
dpkg -x "$DEB" "$DEST/root"
LIB=$(find "$DEST/root" -name 'libvulkan_lvp.so' | head -1)
if [ -z "$LIB" ]; then
  say "libvulkan_lvp.so not found in $(basename "$DEB")" >&2
  exit 1
fi

# 5. The driver's shared-library dependencies (LLVM, xcb, …), from the system's normal archive
#    where missing (names only: the backport's version floors, e.g. libdrm2, are for the hardware
#    drivers in the same package; lavapipe runs on bookworm's own versions).
MISSING=()
for dep in $(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g'); do
  [ -n "$dep" ] || continue
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || MISSING+=("$dep")
done
if [ "${#MISSING[@]}" -gt 0 ]; then
  say "installing the driver's runtime libraries from the system's archive: ${MISSING[*]}"
  if ! $SUDO apt-get install -y --no-install-recommends "${MISSING[@]}"; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${MISSING[@]}"
  fi
fi
if ldd "$LIB" | grep -q 'not found'; then
  say "warning: libraries the driver needs are missing:" >&2
  ldd "$LIB" | grep 'not found' >&2
fi
API=$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$(find "$DEST/root" -name 'lvp_icd*.json' | head -1)" 2>/dev/null || true)
# library_path is relative to the json (the Vulkan loader resolves it so), so the folder can move.
cat > "$ICD" <<EOF
{
    "ICD": {
        "api_version": "${API:-1.3.0}",
        "library_path": "./${LIB#"$DEST"/}"
    },
    "file_format_version": "1.0.0"
}
EOF
echo "mesa-vulkan-drivers $VERSION ($SUITE)" > "$DEST/VERSION"
say "installed lavapipe from mesa-vulkan-drivers $VERSION"
say "  driver: $LIB"
say "  ICD:    $ICD (engine/gpu/adapter.ts sets VK_ICD_FILENAMES to it)"
