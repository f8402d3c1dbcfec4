#!/usr/bin/env bash
# The notebooks in nbs/ are the source: exporting them again must leave fastaudio_lite/ unchanged.
set -uo pipefail
VENV=${VENV:-.venv}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar --exclude=./.venv --exclude=./.venv-latest --exclude=./.git -cf - . | tar -xf - -C "$scratch"
( cd "$scratch" && "$OLDPWD/$VENV/bin/nbdev-export" ) || { echo "make test: nbdev-export failed" >&2; exit 1; }
if ! diff -r -x __pycache__ fastaudio_lite "$scratch/fastaudio_lite" >/dev/null; then
  echo "make test: the modules are out of step with the notebooks; nbdev-export would change:" >&2
  diff -rq -x __pycache__ fastaudio_lite "$scratch/fastaudio_lite" >&2
  echo "Edit the notebooks in nbs/, run $VENV/bin/nbdev-export, and commit both." >&2
  exit 1
fi
echo "nbdev-export leaves fastaudio_lite/ unchanged"
