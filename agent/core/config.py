"""Settings, resolved with the precedence CLI flag > environment variable > config file > default.

The config file is TOML: ``./instance-agent.toml`` or ``~/.config/instance-agent/config.toml``,
or the path in ``INSTANCE_AGENT_CONFIG``. Its keys are the flag names without the dashes
(``timeout = 30``, ``format = "dense"``, ``max-reply-tokens = 512``; ``max_reply_tokens`` too),
and the field names of :class:`Settings` are still read (``timeout_s``, ``output_format``). A
plugin's own settings are in a ``[plugins.NAME]`` table: ``enabled = false`` disables it, and
every other key is kept for the plugin in ``Settings.plugins`` (:meth:`Settings.plugin`); a
condition checks its table against the settings model it declares (``[plugins.depth] model``), and
the command line gets a flag for each of those keys (``--depth-model``, :mod:`agent.cli.flags`).
Environment variables are ``INSTANCE_AGENT_<KEY>`` (upper case, ``_`` for ``-``), e.g.
``INSTANCE_AGENT_FRAMES=16``, ``INSTANCE_AGENT_TIMEOUT=30`` (or the field name:
``INSTANCE_AGENT_TIMEOUT_S``). :data:`FLAGS` names every setting's flag; ``agent.cli.flags``
makes the command-line flags from it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.core.errors import InputError

ENV_PREFIX = "INSTANCE_AGENT_"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a model server's address (checked before any work), or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as e:
        return f"not a valid URL ({e})"
    if parts.scheme not in ("http", "https"):
        shown = f"{parts.scheme}://" if parts.scheme else "no http:// or https://"
        return f"not an http(s) URL ({shown}); give one like http://localhost:8000/v1"
    if not parts.hostname:
        return "names no host; give one like http://localhost:8000/v1"
    return None if port is None or port > 0 else "port 0 is not a server's port"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # one run's settings, shared by its threads

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
    tool_timeout_s: float = Field(600.0, gt=0, le=86_400, allow_inf_nan=False,
                                  description="seconds one tool call may take; a tool that takes longer is failed "
                                              "and the run goes on without it")
    max_reply_chars: int = Field(20_000, ge=1000, le=10_000_000,
                                 description="most characters of a model reply's text kept in the conversation "
                                             "and in llm.jsonl")

    frames: int = Field(8, ge=1, le=64, description="frames sampled uniformly for the prompt and tools")
    motion_fps: float = Field(10.0, gt=0, le=60, description="rate of the low-resolution motion stream")
    motion_width: int = Field(320, ge=64, le=1280, description="long side of the motion stream in pixels")
    max_instances: int = Field(3, ge=1, le=20, description="most main instances kept, 1 to 20 (InstanceCap keeps 3)")
    background: Literal["blur", "pixelate"] = Field("blur", description="how instance views hide the background")
    backend: Literal["auto", "neural", "packaged", "classical"] = Field(
        "auto", description="auto: neural (YOLO, SAM2) where its weights are found, else the packaged pretrained "
                            "models (scripts/fetch_models.py), else classical; neural: the same, but a fallback "
                            "is a warning; packaged: the packaged models or classical; classical: no model at all")
    device: str = Field("auto", description="auto (cuda, then mps, then cpu), or a torch device like cuda:1")
    yolo_weights: str = Field("yolo11n.pt", description="YOLO weights: a path or a name (YOLO-World/YOLOE too)")
    yolo_conf: float = Field(0.25, ge=0.0, le=1.0, description="YOLO confidence threshold")
    class_hints: list[str] = Field(default_factory=list, description="classes for open-vocabulary YOLO models")
    sam2_model: Literal["tiny", "small", "base_plus", "large"] = Field("tiny", description="SAM2.1 size")
    sam2_checkpoint: str | None = Field(None, description="a SAM2 checkpoint path, or a hub id with downloads on")
    sam2_image_size: int | None = Field(None, ge=128, le=2048, multiple_of=64,
                                        description="SAM2 input size (model default 1024; smaller is faster)")
    weights_dir: Path = Field(Path("~/.cache/instance-agent/weights"), description="where weights are looked for")
    allow_downloads: bool = Field(False, description="let ultralytics and the hub download weights")
    random_weights: bool = Field(False, description="build neural models with random weights (tests; meaningless output)",
                                 json_schema_extra={"testing_only": True})

    conditions: list[str] = Field(
        default_factory=list, description="optional conditions whose tools run and whose sections the caption gets "
                                          "(built in: depth, pose, film_language; plugins add more)")
    describer: str | None = Field(None, description="hf:MODEL: a local vision-language model writes the free text")
    output_format: str = Field("instancecap", description="instancecap, any2caption, cinecap or dense")

    max_repairs: int = Field(2, ge=0, le=10, description="validation repairs the model may make")
    max_steps: int = Field(24, ge=2, le=200, description="model turns before the run falls back")

    llm_concurrency: int = Field(8, ge=1, le=1024,
                                 description="batch: model requests in flight at once (the clips' vision work "
                                             "keeps --workers); 8 suits a local vLLM, SGLang or Ollama server")

    runs_dir: Path = Field(Path("runs"), description="where each run's folder is created")
    keep_runs: Literal["all", "not-ok", "none"] = Field(
        "all", description="batch: which clips keep their run folder (frames, instance views, trace): all; not-ok "
                           "(only degraded and failed ones); none (the records alone, for large batches)")
    disabled_plugins: list[str] = Field(default_factory=list, description="plugins to leave out")
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                               description="each plugin's own settings ([plugins.NAME] tables)")

    @field_validator("base_url")
    @classmethod
    def _a_server_url(cls, value: str | None) -> str | None:
        problem = url_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    def plugin(self, name: str) -> dict[str, Any]:
        """The settings of plugin ``name`` from its ``[plugins.NAME]`` config table (empty if none)."""
        return dict(self.plugins.get(name, {}))


# settings that never change a run's output: left out of the run folder's key
NOT_OUTPUT = {"runs_dir", "keep_runs", "timeout_s", "retries", "llm_concurrency", "device", "weights_dir",
              "allow_downloads", "tool_timeout_s"}


def output_key(settings: Settings) -> str:
    """8 hex digits of the settings that change what a run writes (the model, frames, backend,
    conditions, format, ...): a run folder is keyed by them, so runs with other settings never
    share one."""
    import hashlib

    data = settings.model_dump_json(exclude=NOT_OUTPUT)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:8]


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


# Each setting's flag. A setting not named here has the flag of its field name (``--frames``).
FLAGS = {"timeout_s": "--timeout", "tool_timeout_s": "--tool-timeout", "output_format": "--format", "conditions": "--condition",
         "class_hints": "--class-hint", "disabled_plugins": "--no-plugin", "max_tokens": "--max-reply-tokens",
         "send_images": "--images"}
# earlier names of flags, still accepted
FLAG_ALIASES = {"max_tokens": ["--max-tokens"]}
# settings that are not flags: set in a config file ([plugins.NAME] tables) or the environment
NOT_FLAGS = {"plugins"}
LIST_FIELDS = ("disabled_plugins", "class_hints", "conditions")


def flag_of(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def key_of(field: str) -> str:
    """The config-file key of a setting: its flag without the dashes."""
    return flag_of(field).removeprefix("--")


def _field_for(key: str) -> str | None:
    """The setting a config key or environment name stands for: a flag name (dashes or underscores)
    or a field name."""
    if key in Settings.model_fields:
        return key
    dashed = key.replace("_", "-")
    for name in Settings.model_fields:
        if key_of(name) == dashed or any(a.removeprefix("--") == dashed for a in FLAG_ALIASES.get(name, ())):
            return name
    return None


def _from_env() -> tuple[dict[str, Any], dict[str, str]]:
    """The settings given in the environment, and the variable each came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for var, raw in os.environ.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_PREFIX + "CONFIG":
            continue
        name = _field_for(var.removeprefix(ENV_PREFIX).lower())
        if name is None or name == "plugins":  # [plugins.NAME] tables are for the config file
            continue
        if name in LIST_FIELDS:
            values[name] = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            values[name] = raw
        sources[name] = var
    return values, sources


def _from_file(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A config file's keys as settings: flag names or field names, and [plugins.NAME] tables."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "plugins":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise InputError(f"{path}: 'plugins' must hold one [plugins.NAME] table per plugin")
            tables: dict[str, dict[str, Any]] = {}
            for plugin, table in value.items():
                rest = {}
                for k, v in table.items():
                    if k == "enabled":
                        if not isinstance(v, bool):
                            raise InputError(f"{path}: [plugins.{plugin}] enabled must be true or false")
                        if not v:
                            values.setdefault("disabled_plugins", []).append(plugin)
                    else:
                        rest[k] = v
                tables[plugin] = rest
            values["plugins"] = tables
            continue
        name = _field_for(key)
        if name is None:
            raise InputError(f"{path}: unknown setting {key!r} (a plugin's or a condition's own settings go in its "
                             "[plugins.NAME] table)")
        if name == "disabled_plugins" and "disabled_plugins" in values:
            values[name] = [*values[name], *value] if isinstance(value, list) else value
        else:
            values[name] = value
    return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; ``overrides`` are CLI flags (``None`` means 'not given')."""
    values: dict[str, Any] = {}
    path = _config_file()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: not valid TOML ({e})")
        except RecursionError:
            raise InputError(f"{path}: nested too deeply to read (a config file is a few flat tables)") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: config file is not UTF-8 text")
        except OSError as e:
            raise InputError(f"{path}: config file cannot be read ({e.strerror or e})")
        values.update(_from_file(data, path))
    env, sources = _from_env()
    values.update(env)
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    try:
        return Settings(**values)
    except ValidationError as e:
        err = e.errors()[0]
        err["msg"] = err["msg"].removeprefix("Value error, ")
        field = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else ""
        if top in given:
            raise InputError(f"{flag_of(top)}: {err['msg']}")
        elif top in sources:
            source = f" (from the environment variable {sources[top]})"
        else:
            source = f" (from {path})" if path else ""
        name = key_of(top) if top in Settings.model_fields else field
        raise InputError(f"setting {name!r}: {err['msg']}{source}")
