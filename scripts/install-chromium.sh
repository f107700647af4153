#!/usr/bin/env bash
# Debian's Chromium for the explorer's browser test (test/explorer.test.ts drives it with
# playwright-core at /usr/bin/chromium). Idempotent and quiet; without root or apt it says so and
# the browser test skips, saying why.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "install-chromium: no apt-get; the browser test will skip" >&2; exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else echo "install-chromium: not root and no sudo; the browser test will skip" >&2; exit 0; fi
fi
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
