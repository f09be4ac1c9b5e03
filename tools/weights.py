"""Neural backends: where their weights come from, which device they run on, and when to fall back.

Weights are looked up, in order: the path given (``--yolo-weights``, ``--sam2-checkpoint``, the
config file or ``INSTANCE_AGENT_*``), the current folder, our weights folder
(``~/.cache/instance-agent/weights``, setting ``weights_dir``) and, for YOLO, the ultralytics
weights folder and, for ``nanodet-ultralytics.onnx`` (NanoDet's real COCO-80 weights as an
ultralytics detector, built by ``scripts/fetch_models.py``), the vision models folder of
:mod:`tools.vision.models`, where the file is checked against its pinned sha256. Nothing is
downloaded unless ``allow_downloads`` is on; then the libraries fetch what they need (ultralytics
assets, the Hugging Face hub for SAM2). ``random_weights`` builds the models from their configs
with random weights: it exercises the whole neural path where no weights exist (tests, CI); its
detections mean nothing.

When weights are missing, :class:`WeightsMissing` says which file and where it was looked for;
the tools catch it and fall back to the classical backend, recording why.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from agent.core.config import Settings
from agent.core.model_files import WeightsMissing
from agent.models.devices import keep_loaded, pick_device  # noqa: F401 (part of this module's API)
from tools.vision import models

SAM2_MODELS = {
    # size: (config inside the sam2 package, checkpoint file, hub id)
    "tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt", "facebook/sam2.1-hiera-tiny"),
    "small": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt", "facebook/sam2.1-hiera-small"),
    "base_plus": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt",
                  "facebook/sam2.1-hiera-base-plus"),
    "large": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt", "facebook/sam2.1-hiera-large"),
}


T = TypeVar("T")


def try_neural(ctx, tool: str, model: str, fallback: str, run: Callable[[], T]) -> tuple[T | None, str | None]:
    """``(run(), None)``, or ``(None, why)`` when the neural backend cannot run here: its weights are
    missing, its packages are not installed, or it failed. The fall back to ``fallback`` is told to the
    trace (a warning when ``--backend neural`` asked for it); failures are logged with their traceback."""
    try:
        return run(), None
    except WeightsMissing as e:
        reason = str(e)
    except ImportError as e:
        reason = f"the neural backend is not installed ({e.name or e}); pip install 'instance-agent[neural]'"
    except Exception as e:  # corrupt weights, out of memory, a device that is not there
        ctx.log_exception(tool, e)
        reason = f"{model} failed: {type(e).__name__}: {e}"
    level = "warning" if ctx.settings.backend == "neural" else "info"
    ctx.emit("backend_fallback", tool=tool, backend=fallback, reason=reason, level=level)
    return None, reason


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "instance-agent"


def prepare_ultralytics(settings: Settings) -> None:
    """Before ultralytics is imported: no network unless allowed, settings in a folder of ours."""
    if not settings.allow_downloads:
        os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir() / "ultralytics"))
    os.environ.setdefault("YOLO_VERBOSE", "False")


def _ultralytics_weights_dir() -> Path | None:
    """The weights folder named in ultralytics' settings file, read without importing it."""
    folder = os.environ.get("YOLO_CONFIG_DIR")
    if not folder:
        return None
    settings_file = Path(folder) / "Ultralytics" / "settings.json"
    try:
        value = json.loads(settings_file.read_text()).get("weights_dir")
    except (OSError, ValueError):
        return None
    return Path(value) if value else None


def _searched(name: str, settings: Settings, extra: list[Path | None] = ()) -> tuple[Path | None, list[str]]:
    places = [Path.cwd(), settings.weights_dir.expanduser(), *[p for p in extra if p is not None]]
    for place in places:
        candidate = place / name
        if candidate.is_file():
            return candidate, []
    return None, [str(p) for p in places]


def _hub_cache(repo_id: str, file_name: str) -> Path | None:
    """A checkpoint already in the Hugging Face cache (from an earlier online run), without network."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cache = os.environ.get("HF_HUB_CACHE") or (os.path.join(os.environ["HF_HOME"], "hub") if "HF_HOME" in os.environ
                                               else None)
    found = try_to_load_from_cache(repo_id, file_name, cache_dir=cache)
    return Path(found) if isinstance(found, str) else None


@dataclass
class YoloSpec:
    source: str  # what YOLO() is given: a file path, a model name to download, or a .yaml config
    label: str  # for the trace and the record


def resolve_yolo(settings: Settings, flag: str = "--yolo-weights") -> YoloSpec:
    name = settings.yolo_weights
    if settings.random_weights:
        cfg = Path(name).with_suffix(".yaml").name if name.endswith(".pt") else name
        return YoloSpec(cfg, f"{cfg} (random weights)")
    path = Path(name).expanduser()
    if path.suffix in (".yaml", ".yml"):
        return YoloSpec(name, f"{name} (random weights)")
    if path.is_file():
        return YoloSpec(str(path), str(path))
    if path.parent != Path("."):
        raise WeightsMissing(f"YOLO weights {path} do not exist")
    prepare_ultralytics(settings)
    vision = _vision_model(name)
    extra = [_ultralytics_weights_dir()]
    if vision:
        extra.append(models.models_dir())
    found, places = _searched(name, settings, extra)
    if found and vision and found.parent == extra[-1]:
        why = models.problem(vision, found)
        if why:
            raise WeightsMissing(f"YOLO weights {found} {why}; build it again with `{models.FETCH}`")
    if found:
        return YoloSpec(str(found), str(found))
    if vision:  # ours: built at set-up, never downloaded
        raise WeightsMissing(f"YOLO weights {name} not found in {', '.join(places)} (build it with "
                             f"`{models.FETCH}`, or give {flag} PATH)")
    if settings.allow_downloads:
        return YoloSpec(name, f"{name} (downloaded by ultralytics)")
    raise WeightsMissing(f"YOLO weights {name} not found in {', '.join(places)} and downloads are off "
                         f"(give {flag} PATH, or set allow_downloads = true)")


def _vision_model(file_name: str) -> str | None:
    """The vision model (tools/vision/manifest.json) whose file is ``file_name``, for an ``.onnx`` name."""
    if not file_name.endswith(".onnx"):
        return None
    return next((n for n, m in models.manifest()["models"].items() if m["file"] == file_name), None)


@dataclass
class Sam2Spec:
    config: str
    checkpoint: str | None  # None: random weights
    hub_id: str | None  # set when the hub provides the model
    label: str


def resolve_sam2(settings: Settings) -> Sam2Spec:
    config, file_name, hub_id = SAM2_MODELS[settings.sam2_model]
    if settings.random_weights:
        return Sam2Spec(config, None, None, f"sam2.1 {settings.sam2_model} (random weights)")
    given = settings.sam2_checkpoint
    if given:
        path = Path(given).expanduser()
        if path.is_file():
            return Sam2Spec(config, str(path), None, f"sam2.1 {settings.sam2_model} from {path}")
        if "/" in given and not path.exists() and not given.startswith((".", "/", "~")):
            if settings.allow_downloads:
                return Sam2Spec(config, None, given, f"{given} (from the hub)")
            raise WeightsMissing(f"SAM2 hub model {given} needs downloads (set allow_downloads = true)")
        raise WeightsMissing(f"SAM2 checkpoint {path} does not exist")
    found, places = _searched(file_name, settings)
    if found is None:
        found = _hub_cache(hub_id, file_name)
        places.append("the Hugging Face cache")
    if found:
        return Sam2Spec(config, str(found), None, f"sam2.1 {settings.sam2_model} from {found}")
    if settings.allow_downloads:
        return Sam2Spec(config, None, hub_id, f"{hub_id} (from the hub)")
    raise WeightsMissing(f"SAM2 checkpoint {file_name} not found in {', '.join(places)} and downloads are off "
                         "(give --sam2-checkpoint PATH, or set allow_downloads = true)")
