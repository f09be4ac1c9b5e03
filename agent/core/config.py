"""Settings, resolved with the precedence CLI flag > environment variable > config file > default.

The config file is TOML: ``./instance-agent.toml`` or ``~/.config/instance-agent/config.toml``,
or the path in ``INSTANCE_AGENT_CONFIG``. Environment variables are ``INSTANCE_AGENT_<FIELD>``
(upper case), e.g. ``INSTANCE_AGENT_FRAMES=16``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.core.errors import InputError

ENV_PREFIX = "INSTANCE_AGENT_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    llm: str = Field("offline", description="'offline', 'openai:MODEL', 'hf:MODEL', 'replay:RUN', or a model name "
                                            "served at base_url")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint for the llm")
    temperature: float = Field(0.0, ge=0.0, le=2.0, allow_inf_nan=False, description="LLM sampling temperature")
    max_tokens: int = Field(2048, ge=1, le=1_000_000, description="most tokens per LLM reply")
    timeout_s: float = Field(120.0, gt=0, le=86_400, allow_inf_nan=False,
                             description="seconds to wait for one LLM reply")
    retries: int = Field(2, ge=0, le=20, description="retries on HTTP 429/5xx, time-outs and dropped connections")
    send_images: bool = Field(True, description="send frames and instance views to the LLM (off for text-only servers)")
    max_calls_per_turn: int = Field(16, ge=1, le=1000, description="most tool calls in one model reply before "
                                                                   "the run falls back")
    max_tool_calls: int = Field(64, ge=1, le=10_000, description="most tool calls in one run before it falls back")
    max_reply_chars: int = Field(20_000, ge=1000, le=10_000_000,
                                 description="most characters of a model reply's text kept in the conversation "
                                             "and in llm.jsonl")

    frames: int = Field(8, ge=1, le=64, description="frames sampled uniformly for the prompt and tools")
    motion_fps: float = Field(10.0, gt=0, le=60, description="rate of the low-resolution motion stream")
    motion_width: int = Field(320, ge=64, le=1280, description="long side of the motion stream in pixels")
    max_instances: int = Field(3, ge=0, le=20, description="most main instances kept (InstanceCap keeps 3)")
    background: Literal["blur", "pixelate"] = Field("blur", description="how instance views hide the background")
    backend: Literal["auto", "neural", "packaged", "classical"] = Field(
        "auto", description="auto: neural (YOLO, SAM2) where its weights are found, else the packaged pretrained "
                            "models (scripts/fetch_models.py), else classical; neural: the same, but a fallback "
                            "is a warning; packaged: the packaged models or classical; classical: no model at all")
    device: str = Field("auto", description="auto (cuda, then mps, then cpu), or a torch device like cuda:1")
    yolo_weights: str = Field("yolo11n.pt", description="YOLO weights: a path or a name (YOLO-World/YOLOE too)")
    yolo_conf: float = Field(0.25, ge=0.0, le=1.0, description="YOLO confidence threshold")
    class_hints: list[str] = Field(default_factory=list, description="classes for open-vocabulary YOLO models")
    sam2_model: Literal["tiny", "small", "base_plus", "large"] = "tiny"
    sam2_checkpoint: str | None = Field(None, description="a SAM2 checkpoint path, or a hub id with downloads on")
    sam2_image_size: int | None = Field(None, ge=128, le=2048, multiple_of=64,
                                        description="SAM2 input size (model default 1024; smaller is faster)")
    weights_dir: Path = Field(Path("~/.cache/instance-agent/weights"), description="where weights are looked for")
    allow_downloads: bool = Field(False, description="let ultralytics and the hub download weights")
    random_weights: bool = Field(False, description="build neural models with random weights (tests; meaningless output)")

    conditions: list[Literal["depth", "pose", "film_language"]] = Field(
        default_factory=list, description="optional conditions whose tools run and whose sections the caption gets")
    depth_model: str = Field("depth-anything/Depth-Anything-V2-Small-hf",
                             description="transformers depth model id or folder (neural depth backend)")
    pose_weights: str = Field("yolo11n-pose.pt", description="ultralytics pose weights (neural pose backend)")
    describer: str | None = Field(None, description="hf:MODEL: a local vision-language model writes the free text")
    output_format: str = Field("instancecap", description="instancecap, any2caption, cinecap or dense")

    max_repairs: int = Field(2, ge=0, le=10, description="validation repairs the model may make")
    max_steps: int = Field(24, ge=2, le=200, description="model turns before the run falls back")

    runs_dir: Path = Field(Path("runs"), description="where each run's folder is created")
    disabled_plugins: list[str] = Field(default_factory=list)


def _config_file() -> Path | None:
    explicit = os.environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise InputError(f"{path}: config file named by {ENV_PREFIX}CONFIG does not exist")
        return path
    for candidate in (Path("instance-agent.toml"), Path("~/.config/instance-agent/config.toml").expanduser()):
        if candidate.is_file():
            return candidate
    return None


def _from_env() -> tuple[dict[str, Any], dict[str, str]]:
    """The settings given in the environment, and the variable each came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name in ("disabled_plugins", "class_hints", "conditions"):
            values[name] = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            values[name] = raw
        sources[name] = ENV_PREFIX + name.upper()
    return values, sources


FLAGS = {"timeout_s": "--timeout", "output_format": "--format", "conditions": "--condition",
         "class_hints": "--class-hint", "disabled_plugins": "--no-plugin"}


def flag_of(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; ``overrides`` are CLI flags (``None`` means 'not given')."""
    values: dict[str, Any] = {}
    path = _config_file()
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: not valid TOML ({e})")
        except UnicodeDecodeError:
            raise InputError(f"{path}: config file is not UTF-8 text")
        except OSError as e:
            raise InputError(f"{path}: config file cannot be read ({e.strerror or e})")
    env, sources = _from_env()
    values.update(env)
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    try:
        return Settings(**values)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else ""
        if top in given:
            raise InputError(f"{flag_of(top)}: {err['msg']}")
        elif top in sources:
            source = f" (from the environment variable {sources[top]})"
        else:
            source = f" (from {path})" if path else ""
        raise InputError(f"setting {field!r}: {err['msg']}{source}")
