#!/usr/bin/env bash
# Set up .venv for `make`: create it with the machine's python3 when missing (rebuild it when a previous
# set-up did not finish), then install the package with its dev, demo, dist and hf extras.
set -uo pipefail
PY=${PYTHON:-python3}
fail() { echo "make: set-up failed at step '$1': $2" >&2; exit 1; }

command -v "$PY" >/dev/null 2>&1 || fail "find python" "'$PY' is not on PATH. Install Python 3.10 or newer, or run: make PYTHON=/path/to/python3"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
  fail "check python" "$("$PY" --version 2>&1) is too old: fastaudio_lite needs Python 3.10 or newer (make PYTHON=/path/to/python3.10+)"

# .venv/.complete is written only after a full install: a .venv without it is half-built and not trusted.
if [ -d .venv ] && { [ ! -f .venv/.complete ] || ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; }; then
  echo "make: .venv is half-built (an earlier set-up did not finish): rebuilding it"
  rm -rf .venv
fi
if [ ! -d .venv ]; then
  echo "make: creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv || fail "create .venv" "'$PY -m venv .venv' failed; on Debian/Ubuntu install python3-venv"
  .venv/bin/python -m pip install --quiet --upgrade pip || fail "upgrade pip" "check the network access to the package index"
fi
echo "make: installing fastaudio_lite and its requirements into .venv (torch's CUDA build is several GB the first time)"
.venv/bin/python -m pip install --quiet -e ".[dev,demo,dist,hf]" ||
  fail "pip install" "pip could not install the requirements in settings.ini; read pip's message above, fix it, and run make again"
touch .venv/.complete
