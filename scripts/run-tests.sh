#!/usr/bin/env bash
# make test / make test-latest: the export check, the notebooks, then pytest, for the venv in $VENV.
# Everything the tests and notebooks write to the temporary folder (trained models, Gradio's uploads, the browser's
# profile, pytest's tmp_path) goes into one folder that is removed at the end, pass or fail, so repeated runs do not
# fill the disk. A disk without room for that is refused in one line before anything runs.
set -euo pipefail
VENV=${VENV:-.venv}
NEED_GB=${NEED_GB:-4}
root=${TMPDIR:-/tmp}
free_kb=$(df -Pk "$root" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((NEED_GB * 1024 * 1024)) ]; then
  echo "make test: $root has $((free_kb / 1024)) MB free; the tests need about $NEED_GB GB there (set TMPDIR to a roomier folder)" >&2
  exit 1
fi
work=$(mktemp -d "$root/fastaudio-lite-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work

echo "== 1/3 nbdev-export leaves the modules unchanged ($VENV)"
VENV=$VENV bash scripts/check-export.sh
echo "== 2/3 nbdev-test: the notebooks"
"$VENV/bin/nbdev-test" --n-workers 2
echo "== 3/3 pytest: property, parity, bad-input, packaging, browser and end-to-end tests (two workers, a file each)"
# Two workers of one torch thread each: two of two threads each fight over two cores and run slower than one worker.
# A test that hangs fails after 20 minutes with its stack (pytest-timeout), so a run names it instead of stalling.
OMP_NUM_THREADS=1 "$VENV/bin/python" -m pytest tests -n 2 --dist loadfile --durations=12 --timeout 1200
