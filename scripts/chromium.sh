#!/usr/bin/env bash
# make test: the browser tests (tests/test_serve.py) drive Debian's chromium through Playwright; install it when missing.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make: Debian's chromium is missing and cannot be installed here (needs root and apt-get): apt-get install chromium" >&2
  exit 1
fi
echo "make: installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null; } ||
  { echo "make: apt-get install chromium failed; install it, or the browser tests fail" >&2; exit 1; }
