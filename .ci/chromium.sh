#!/usr/bin/env bash
# Chromium for the browser tests (tests/browser), from Debian's packages, plus CJK fonts so
# the Chinese pages render in screenshots. Does nothing when a chromium is already on PATH.
# Without root and without chromium it says so and leaves the browser tests to fail in CI
# (they skip only outside CI).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium.sh: $(chromium --version 2>/dev/null || echo chromium) already installed" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium.sh: chromium is missing and this is not root: apt-get install chromium" >&2
    exit 0
fi
echo "chromium.sh: installing chromium from Debian packages" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-noto-cjk >/dev/null
echo "chromium.sh: $(chromium --version 2>/dev/null)" >&2
