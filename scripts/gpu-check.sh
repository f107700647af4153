#!/usr/bin/env bash
# The device check for a borrowed GPU machine (an NVIDIA H200 with the driver installed, maybe no
# network): makes sure Dawn's Vulkan backend can reach the GPU, then runs scripts/gpu-check.ts,
# which reports the adapter and its features and times the model's int8 kernels against the CPU
# bytes, as JSON. Each step says what it found and did; none of them fails the check: without an
# adapter the JSON says why and the exit status is still 0 (1 only when a GPU result differs).
#
#   scripts/gpu-check.sh [out.json] [--model file.gguf] [--mode auto|hardware|lavapipe] [--budget s] [--quick]
#
# out.json defaults to $OUT/gpu-check.json when $OUT is set, else gpu-check.json. The whole run is
# held under GPU_CHECK_TIMEOUT seconds (default 290); the JSON is rewritten after every section.
#
# What Dawn's Vulkan backend needs: the Vulkan loader (libvulkan.so.1, Debian's libvulkan1) and
# the driver's ICD manifest (nvidia_icd.json, naming libGLX_nvidia.so.0). A container given only
# the compute capabilities of the NVIDIA runtime often has the driver's libraries but not the
# manifest: then one is written to a private folder and named by VK_ICD_FILENAMES.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ARGS=("$@")
OUTFILE=""
for a in "$@"; do case "$a" in --*) break ;; *) OUTFILE="$a"; break ;; esac; done
[ -n "$OUTFILE" ] || OUTFILE="${OUT:+$OUT/}gpu-check.json"
WORK="$ROOT/.cache/gpu-check"
mkdir -p "$WORK"
LOG="$WORK/setup.log"
: >"$LOG"
say() { echo "gpu-check: $*"; echo "$*" >>"$LOG"; }
SUDO=""
[ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"; }
has() { command -v "$1" >/dev/null 2>&1; }

# A JSON answer written here when the measuring half cannot run at all.
fail_json() {
  local reason="$1"
  reason=${reason//\\/\\\\}
  reason=${reason//\"/\\\"}
  printf '{"check":"hyperwasm gpu-check 1","adapter":{"backend":"cpu","reason":"%s"},"setup":[%s]}\n' "$reason" \
    "$(sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' "$LOG" | paste -sd, -)" >"$OUTFILE"
  say "NO GPU CHECK: $1; wrote $OUTFILE"
  exit 0
}

apt_install() { # packages…: from the machine's archive, if it answers (quickly)
  has apt-get || return 1
  timeout 120 $SUDO apt-get install -y --no-install-recommends "$@" >>"$LOG" 2>&1 && return 0
  timeout 120 $SUDO apt-get update >>"$LOG" 2>&1 && timeout 120 $SUDO apt-get install -y --no-install-recommends "$@" >>"$LOG" 2>&1
}

# 1. The GPU and its driver.
if has nvidia-smi; then
  say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4 | paste -sd';' -)"
else
  say "nvidia-smi: absent (no NVIDIA driver utilities in this environment)"
fi

# 2. The Vulkan loader.
loader() { ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || ls /usr/lib/*/libvulkan.so.1 /usr/lib64/libvulkan.so.1 >/dev/null 2>&1; }
if loader; then
  say "Vulkan loader libvulkan.so.1: present"
elif apt_install libvulkan1 && loader; then
  say "Vulkan loader: installed libvulkan1"
else
  say "Vulkan loader: MISSING and not installable here (apt-get install libvulkan1); Dawn will find no Vulkan adapter"
fi

# 3. The NVIDIA ICD manifest (or one written for the driver's library).
ICD_DIRS="/etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/etc/vulkan/icd.d"
NV_ICD=$(for d in $ICD_DIRS; do ls "$d"/nvidia*.json 2>/dev/null; done | head -1)
if [ -n "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  say "Vulkan ICD from the environment: ${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}"
elif [ -n "$NV_ICD" ]; then
  say "NVIDIA Vulkan ICD: $NV_ICD"
else
  NV_LIB=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}')
  [ -n "$NV_LIB" ] || NV_LIB=$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 /usr/lib/libGLX_nvidia.so.0 2>/dev/null | head -1)
  if [ -n "$NV_LIB" ]; then
    printf '{"file_format_version":"1.0.1","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$NV_LIB" >"$WORK/nvidia_icd.json"
    export VK_ICD_FILENAMES="$WORK/nvidia_icd.json"
    say "NVIDIA Vulkan ICD: no manifest installed; wrote $VK_ICD_FILENAMES for $NV_LIB"
  elif has nvidia-smi; then
    say "NVIDIA Vulkan ICD: none, and no libGLX_nvidia.so.0 (a container needs NVIDIA_DRIVER_CAPABILITIES to include graphics, or the driver's Vulkan libraries)"
  else
    say "Vulkan ICD: no NVIDIA driver found; the engine will try the system's drivers, then .lavapipe/"
  fi
fi
if has vulkaninfo; then
  say "vulkaninfo: $(timeout 20 vulkaninfo --summary 2>&1 | grep -E 'deviceName|driverName|driverInfo|apiVersion' | sed 's/  */ /g' | paste -sd';' -)"
else
  say "vulkaninfo: absent (vulkan-tools not installed; not needed)"
fi

# 4. Node and the two packages the check needs (webgpu: Dawn; tsx: to run TypeScript).
if ! has node; then
  apt_install nodejs >/dev/null 2>&1 || true
fi
has node || fail_json "no node (Node.js 20 or later) on this machine"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || fail_json "node $(node --version) is older than 20"
say "node $(node --version)"
deps_ok() { [ -f node_modules/webgpu/index.js ] && [ -f "node_modules/webgpu/dist/linux-$(node -p process.arch)/dawn.node" ] && [ -d node_modules/tsx ] && [ -d node_modules/esbuild ]; }
if ! deps_ok; then
  # only these two, at the versions package.json pins, into a private prefix linked into node_modules
  WEBGPU_V=$(node -p 'require("./package.json").dependencies.webgpu')
  TSX_V=$(node -p 'require("./package.json").dependencies.tsx')
  say "installing webgpu@$WEBGPU_V and tsx@$TSX_V from the npm registry"
  if has npm && timeout 180 npm install --prefix "$WORK/deps" --no-save --no-audit --no-fund --ignore-scripts "webgpu@$WEBGPU_V" "tsx@$TSX_V" >>"$LOG" 2>&1; then
    mkdir -p node_modules
    for p in "$WORK/deps/node_modules"/* "$WORK/deps/node_modules"/@*/*; do
      [ -e "$p" ] || continue
      rel=${p#"$WORK/deps/node_modules/"}
      [ -e "node_modules/$rel" ] && continue
      mkdir -p "node_modules/$(dirname "$rel")"
      ln -s "$p" "node_modules/$rel"
    done
  fi
  deps_ok || fail_json "the webgpu and tsx packages are missing and the npm registry did not provide them (run npm ci where it is reachable, or carry node_modules/webgpu/{index.js,package.json,dist/linux-x64}, node_modules/tsx, node_modules/esbuild, node_modules/@esbuild/linux-x64)"
fi

# 5. The measurements.
export GPU_CHECK_SETUP_LOG="$LOG"
timeout "${GPU_CHECK_TIMEOUT:-290}" node --import tsx scripts/gpu-check.ts "${ARGS[@]}"
rc=$?
if [ "$rc" = 124 ]; then
  say "the check ran past ${GPU_CHECK_TIMEOUT:-290} s and was stopped; $OUTFILE has what was measured"
  exit 0
fi
exit "$rc"
