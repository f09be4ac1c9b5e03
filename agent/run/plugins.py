"""The plugin manager: built-in plugins, then third-party ones from the entry-point group.

Third-party packages declare, in their ``pyproject.toml``::

    [project.entry-points.instance_agent]
    my_plugin = "my_package.plugin_module"
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy

from agent.core import hookspecs
from agent.core.caption import register_section
from agent.core.errors import BackendError, InputError

ENTRY_POINT_GROUP = "instance_agent"
DISABLE_ENV = "INSTANCE_AGENT_DISABLED_PLUGINS"

# Every built-in feature is a plugin module registered through the same hooks as third-party ones.
BUILTIN_PLUGINS = (
    "tools.metadata",
    "tools.frames",
    "tools.camera",
    "tools.detect",
    "tools.segment",
    "tools.background",
    "tools.lexicon",
    "tools.describe",
    "agent.core.checks",
    "plugins.formats",
    "plugins.film_language",
    "plugins.depth",
    "plugins.pose",
    "plugins.camera_path",
    "plugins.pose_sequence",
    "plugins.pose_video",
    "plugins.reference_image",
    "plugins.depth_map",
    "plugins.reference_video",
    "plugins.conditions",
)


@dataclass
class PluginInfo:
    name: str
    source: str  # "builtin" or the distribution that provides it
    tools: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    infos: list[PluginInfo]

    def tools(self, settings) -> list[Any]:
        """All tools, each attributed to its plugin in ``infos``; later names do not shadow earlier ones."""
        found: dict[str, Any] = {}
        by_plugin = {info.name: info for info in self.infos}
        for impl in self.manager.hook.register_tools.get_hookimpls():
            plugin_name = self.manager.get_name(impl.plugin)
            try:
                result = impl.function(**_kwargs(impl, settings=settings)) or []
            except Exception as e:  # a broken plugin must not stop the others
                by_plugin[plugin_name].error = f"register_tools failed: {e}"
                continue
            names = []
            for tool in result:
                if tool.name in found:
                    by_plugin[plugin_name].error = f"tool {tool.name!r} is already registered"
                    continue
                found[tool.name] = tool
                names.append(tool.name)
            by_plugin[plugin_name].tools = names
        return list(found.values())

    def validation_checks(self, settings) -> list[Any]:
        checks: list[Any] = []
        for group in self.manager.hook.register_validation_checks(settings=settings):
            checks.extend(group or [])
        return checks

    def composed_sections(self, evidence: dict, settings) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for sections in self.manager.hook.compose_sections(evidence=evidence, settings=settings):
            out.update(sections or {})
        return out

    def output_formats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for formats in self.manager.hook.register_output_formats():
            out.update(formats or {})
        return out

    def condition_readers(self) -> dict[str, Any]:
        """``{condition name: reader(path) -> evidence}`` from every plugin; the first name wins."""
        out: dict[str, Any] = {}
        for readers in reversed(self.manager.hook.register_condition_readers()):  # registration order
            for name, reader in (readers or {}).items():
                out.setdefault(name, reader)
        return out

    def read_conditions(self, files: dict, options: dict | None = None) -> dict:
        """``{condition name: path or [paths]}`` -> ``{condition name: evidence model (or a list)}``,
        through the readers; ``options`` go to the readers whose signature names them
        (``depth_convention``)."""
        readers = self.condition_readers()
        options = {"caption_video": _caption_video, **(options or {})}
        out = {}
        for name, path in files.items():
            if name not in readers:
                raise InputError(f"no condition reader named {name!r} is registered (is its plugin disabled?)")
            if isinstance(path, (list, tuple)):
                out[name] = [_reader_call(readers[name], p, options) for p in path]
            else:
                out[name] = _reader_call(readers[name], path, options)
        return out

    def add_commands(self, subparsers) -> None:
        by_plugin = {info.name: info for info in self.infos}
        for impl in self.manager.hook.register_commands.get_hookimpls():
            try:
                impl.function(**_kwargs(impl, subparsers=subparsers))
            except Exception as e:  # a broken plugin must not take the CLI down
                by_plugin[self.manager.get_name(impl.plugin)].error = f"register_commands failed: {e}"


def _kwargs(impl, **available):
    return {name: available[name] for name in impl.argnames if name in available}


def _disabled(extra: Iterable[str]) -> set[str]:
    names = set(extra)
    names.update(p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip())
    return names


def _caption_video(path, settings):
    """The caption pipeline, for readers that caption a reference video."""
    from agent.run.runner import caption_video

    return caption_video(path, settings)


def _reader_call(reader, path, options: dict):
    try:
        names = set(inspect.signature(reader).parameters)
    except (TypeError, ValueError):
        names = set()
    return reader(path, **{k: v for k, v in options.items() if k in names})


def load_plugins(disabled: Iterable[str] = ()) -> Plugins:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    off = _disabled(disabled)
    infos: list[PluginInfo] = []

    for module_name in BUILTIN_PLUGINS:
        if module_name in off:
            continue
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
        infos.append(PluginInfo(module_name, "builtin"))

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in off:
            continue
        dist = ep.dist.name if ep.dist else "?"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            infos.append(PluginInfo(ep.name, dist))
        except Exception as e:
            infos.append(PluginInfo(ep.name, dist, error=f"failed to load: {type(e).__name__}: {e}"))

    for sections in pm.hook.register_caption_sections():
        for name, model in (sections or {}).items():
            register_section(name, model)
    return Plugins(pm, infos)


def require_tool(tools: list[Any], name: str):
    for tool in tools:
        if tool.name == name:
            return tool
    raise BackendError(f"no tool named {name!r} is registered (is its plugin disabled?)")
