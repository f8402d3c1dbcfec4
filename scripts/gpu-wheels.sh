#!/usr/bin/env bash
# Fetch the wheels scripts/gpu-check needs on the CUDA machine into .gpu/wheels (ignored by git; it travels with the
# working tree when a device run carries `.gpu`). That machine has Python 3.12 with torch, torchvision, timm, numpy,
# scipy, pandas, scikit-learn, matplotlib, numba and pytest, but none of these, and no network. Versions are the lock's.
#   GPU_PY  the machine's Python version (default 3.12)
set -euo pipefail
GPU_PY=${GPU_PY:-3.12}
LOCK=requirements/lock.txt
DEST=.gpu/wheels
# the base requirements' packages that the machine lacks: fastai and its own, the audio decoders, librosa (for parity tests)
PKGS="fastai fastcore fastdownload fastprogress fasttransform plum-dispatch beartype python-fasthtml starlette oauthlib
      itsdangerous uvicorn httpx2 httpcore2 truststore python-multipart beautifulsoup4 soupsieve soundfile cffi pycparser
      soxr librosa audioread decorator pooch platformdirs"
rm -rf "$DEST"; mkdir -p "$DEST"
PIP_CONSTRAINT=/dev/null python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$GPU_PY" \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -c "$LOCK" -d "$DEST" $PKGS
du -sh "$DEST"
