#!/usr/bin/env bash
# Headless Chromium and its driver from Debian, for the admin's browser tests. Idempotent.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "browser tests need Debian's chromium and chromium-driver: run as root or" \
       "'sudo apt-get install -y chromium chromium-driver'" >&2
  exit 1
fi
echo "installing chromium and chromium-driver (Debian packages) for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
