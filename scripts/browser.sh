#!/usr/bin/env bash
# Make sure Debian's Chromium and its matching ChromeDriver are installed (the browser tests drive
# the system browser; browsers cannot be downloaded by the test tools here). Prints the two paths.
set -uo pipefail
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-driver for the browser tests" >&2
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  ($SUDO apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null)) >&2 || exit 1
fi
command -v chromium && command -v chromedriver
