#!/usr/bin/env bash
# make test-install: what a user's plain install gets. The wheel, built from this tree, is installed with no extras into
# a new venv (torch and torchvision first, at the lock's versions; the rest at the lock's versions too), and the
# README's commands run there: import, `fastaudio-lite train`, `fastaudio-lite predict`. No extra may come in.
#   PYTHON  the interpreter for the new venv (default python3); VENV  the set-up venv that builds the wheel (default .venv)
set -euo pipefail
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
LOCK=requirements/lock.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
rm -rf build   # setuptools' staging folder: a module deleted since the last build would otherwise ride along
"$VENV/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/wheel" . >/dev/null
"$PY" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet -c "$LOCK" torch torchvision
"$py" -m pip install --quiet -c "$LOCK" "$work"/wheel/fastaudio_lite-*.whl
echo "test-install: installed the wheel with no extras in $(( $(date +%s) - t0 )) s"
# the packages of every extra stay out (were one pulled in by the base requirements, this test would prove nothing)
extras=$(sed -n 's/^\([a-z]*\)_requirements = //p' settings.ini | grep -v pytest | tr ' ' '\n' | sed 's/[<>=!~\[].*//')
for dist in $extras; do
  if "$py" -m pip show --quiet "$dist" >/dev/null 2>&1; then echo "test-install: $dist (an extra's package) came with the plain install" >&2; exit 1; fi
done
"$py" -c "from fastaudio_lite.all import *; print('test-install: from fastaudio_lite.all import * works')"
# eight FSDD recordings of two digits per split, linked from the repository's test data
data="$work/data"; mkdir "$data"
for f in tests/data/fsdd/recordings/[01]_*_1[0-4].wav tests/data/fsdd/recordings/[01]_*_[0-2].wav; do ln -s "$PWD/$f" "$data/"; done
cd "$work"
MPLBACKEND=Agg venv/bin/fastaudio-lite train data --label '^(\d)_' --valid-re '_[0-2]\.wav$' --arch SpecCNN --epochs 2 --bs 8 --out out
venv/bin/fastaudio-lite predict out/model.pkl data/0_jackson_0.wav data/1_nicolas_1.wav --csv out/p.csv
[ "$(wc -l < out/p.csv)" -eq 3 ] || { echo "test-install: predict wrote $(wc -l < out/p.csv) CSV lines, not 3" >&2; exit 1; }
# the torch-free predictor, as the README installs it: the wheel without its dependencies, then numpy, soundfile, soxr
# and onnxruntime; the model exported by the set-up venv (which has the onnx extra)
"$OLDPWD/$VENV/bin/fastaudio-lite" export out/model.pkl out/model.onnx
"$PY" -m venv lite
lite/bin/python -m pip install --quiet --no-deps "$work"/wheel/fastaudio_lite-*.whl
lite/bin/python -m pip install --quiet -c "$OLDPWD/$LOCK" numpy soundfile soxr onnxruntime
if lite/bin/python -c "import torch" 2>/dev/null || lite/bin/python -c "import fastai" 2>/dev/null; then
  echo "test-install: the torch-free venv has torch or fastai" >&2; exit 1; fi
lite/bin/fastaudio-lite predict out/model.onnx data/0_jackson_0.wav data/1_nicolas_1.wav --csv out/onnx.csv
[ "$(cut -d, -f2 out/onnx.csv)" = "$(cut -d, -f2 out/p.csv)" ] || { echo "test-install: the ONNX predictions differ from model.pkl's" >&2; exit 1; }
echo "test-install: the torch-free predictor ($(du -sh lite | cut -f1) venv) predicted as model.pkl does"
echo "test-install: passed in $(( $(date +%s) - t0 )) s"
