#!/usr/bin/env bash
# Make sure a Chromium and its WebDriver are on this machine for the browser
# test (tests/test_browser.py drives `make lab` in a real, headless browser).
#
# Already there (Debian's chromium + chromium-driver, or a Chrome with a
# chromedriver as on GitHub's Ubuntu runners): nothing to do. Missing on
# Debian: installs Debian's packages with apt-get (as root, or through sudo).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

browser=""
for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if have "$name"; then browser="$name"; break; fi
done
driver=""
if have chromedriver; then
    driver=chromedriver
elif [ -n "${CHROMEWEBDRIVER:-}" ] && [ -x "${CHROMEWEBDRIVER}/chromedriver" ]; then
    driver="${CHROMEWEBDRIVER}/chromedriver"
fi
if [ -n "$browser" ] && [ -n "$driver" ]; then
    exit 0
fi

if ! have apt-get; then
    echo "The browser test needs Chromium and chromedriver; install them with your system's package manager." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif have sudo; then
    SUDO="sudo"
else
    echo "The browser test needs Chromium and chromedriver: run as root 'apt-get install chromium chromium-driver'." >&2
    exit 1
fi

echo "installing Chromium and chromedriver (Debian packages chromium, chromium-driver) for the browser test ..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
echo "Chromium ready: $(chromium --version 2>/dev/null || true)"
