"""The plugin manager: built-in plugins, then third-party ones from the entry-point group.

Third-party packages declare, in their ``pyproject.toml``::

    [project.entry-points.instance_agent]
    my_plugin = "my_package.plugin_module"

One manager per process and set of disabled plugins (:func:`load_plugins` is cached). It is the
registry a run is handed: its tools, caption sections, conditions, output formats and chat backends
are read from it and passed on explicitly (the graph gets the sections, the model factory the
backends); nothing of it is kept in module state elsewhere. A plugin that
cannot be imported, implements a hook that does not exist (a misspelled name) or raises inside a
hook is reported by name (``python -m agent plugins``, a warning on stderr, a ``plugin_error`` event
in each run) and the others load.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from typing import Any, Iterable, Iterator

import pluggy

from agent.core import hookspecs
from agent.core.caption import CaptionSection
from agent.core.conditions import Condition
from agent.core.errors import AgentError, InputError
from agent.core.evidence import Evidence
from agent.core.formats import OutputFormat
from agent.core.named_args import call_naming
from agent.core.registry import ToolRegistry
from agent.models.registry import Backends

ENTRY_POINT_GROUP = "instance_agent"
DISABLE_ENV = "INSTANCE_AGENT_DISABLED_PLUGINS"
log = logging.getLogger("instance_agent.plugins")

# Every built-in feature is a plugin module registered through the same hooks as third-party ones.
BUILTIN_PLUGINS = (
    "agent.models.backends",
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
    conditions: list[str] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # top-level caption sections
    formats: list[str] = field(default_factory=list)  # output formats
    readers: list[str] = field(default_factory=list)  # condition readers
    hooks: list[str] = field(default_factory=list)  # every hook it implements
    error: str | None = None

    def fail(self, message: str) -> None:
        """Record what went wrong with this plugin (the first problem stays first; a repeat is said once)."""
        if self.error is not None and message in self.error:
            return
        self.error = message if self.error is None else f"{self.error}; {message}"
        log.warning("warning: plugin %s: %s", self.name, message)


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    infos: list[PluginInfo]
    condition_specs: dict[str, Condition] = field(default_factory=dict)
    sections: dict[str, CaptionSection] = field(default_factory=dict)  # caption sections a caption may carry
    backends: Backends = field(default_factory=dict)  # chat backends: --llm prefix -> backend
    format_specs: dict[str, OutputFormat] = field(default_factory=dict)  # output format -> its declaration
    readers: dict[str, Any] = field(default_factory=dict)  # condition name -> reader; the first name wins
    condition_owners: dict[str, PluginInfo] = field(default_factory=dict)  # condition name -> its plugin

    def _info(self, plugin: Any) -> PluginInfo:
        name = self.manager.get_name(plugin)
        return next(i for i in self.infos if i.name == name)

    def _each(self, hook: str, *, last_first: bool = False, **available) -> Iterator[tuple[PluginInfo, Any]]:
        """Each plugin's answer to ``hook``, in registration order (``last_first``: in the order pluggy
        itself calls them). Each plugin is called through pluggy's own caller, on its own, so a plugin
        that raises is named and skipped and the others still answer."""
        impls = getattr(self.manager.hook, hook).get_hookimpls()
        plugins = [impl.plugin for impl in impls]
        for plugin in reversed(plugins) if last_first else plugins:
            info = self._info(plugin)
            alone = self.manager.subset_hook_caller(hook, remove_plugins=[p for p in plugins if p is not plugin])
            try:
                results = alone(**available)
            except AgentError:  # a plugin telling the user something (a bad setting of its own)
                raise
            except Exception as e:  # a broken plugin must not stop the others
                info.fail(f"{hook} failed: {type(e).__name__}: {e}")
                continue
            for result in results:
                yield info, result

    def tools(self, settings) -> list[Any]:
        """All tools, each attributed to its plugin in ``infos``; later names do not shadow earlier ones.
        Unknown ``--condition`` names and bad ``[plugins.NAME]`` settings of a condition fail here."""
        self.check_settings(settings)
        found: dict[str, Any] = {}
        names: dict[str, list[str]] = {}
        offered = [*self._each("register_tools", settings=settings),
                   *((self.condition_owners[c.name], c.make_tools(settings)) for c in self.condition_specs.values())]
        for info, result in offered:
            for tool in result:
                if tool.name in found:
                    info.fail(f"tool {tool.name!r} is already registered")
                    continue
                found[tool.name] = tool
                names.setdefault(info.name, []).append(tool.name)
        for info in self.infos:
            info.tools = names.get(info.name, [])
        return list(found.values())

    def evidence_models(self, settings) -> dict[str, Any]:
        """``{tool name: evidence model}`` of every tool these plugins register, the tools of every condition
        included (on or off), so that evidence written by any run of them reads typed."""
        condition_tools = [tool for condition in self.condition_specs.values() for tool in condition.tools]
        return {**ToolRegistry.of(condition_tools).evidence_models(),
                **ToolRegistry.of(self.tools(settings)).evidence_models()}

    def check_settings(self, settings) -> None:
        """Every condition asked for is registered, and its own settings are valid."""
        for name in getattr(settings, "conditions", None) or []:
            if name not in self.condition_specs:
                known = ", ".join(sorted(self.condition_specs)) or "none"
                raise InputError(f"--condition {name}: not a known condition (known: {known}; is its plugin "
                                 "installed and enabled?)")
            self.condition_specs[name].settings_from(settings)

    def conditions(self) -> dict[str, Condition]:
        """``{name: condition}`` from every plugin; the first name wins."""
        return dict(self.condition_specs)

    def validation_checks(self, settings) -> list[Any]:
        checks: list[Any] = []
        for _, group in self._each("register_validation_checks", last_first=True, settings=settings):
            checks.extend(group)
        for condition in self.condition_specs.values():
            checks.extend(condition.checks_for(settings))
        return checks

    def composed_sections(self, evidence: dict, settings) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for condition in self.condition_specs.values():
            owner = self.condition_owners[condition.name]
            try:
                out.update(condition.composed(evidence))
            except Exception as e:  # a broken plugin must not stop the others
                owner.fail(f"composing {condition.name} failed: {type(e).__name__}: {e}")
        for _, sections in self._each("compose_sections", last_first=True, evidence=evidence, settings=settings):
            out.update(sections)
        return out

    def output_formats(self) -> dict[str, Any]:
        """``{format name: formatter(caption, evidence)}`` from every plugin (the first name wins), each given
        these plugins' caption sections."""
        return {name: partial(spec.render, sections=self.sections) for name, spec in self.format_specs.items()}

    def condition_readers(self) -> dict[str, Any]:
        """``{condition name: reader(path) -> evidence}`` from every plugin; the first name wins."""
        return dict(self.readers)

    def read_conditions(self, files: dict, options: dict | None = None) -> Evidence:
        """``{condition name: path or [paths]}`` -> ``{condition name: evidence model (or a list)}`` (an
        :class:`Evidence` no tool measured: its values are typed already),
        through the readers; ``options`` go to the readers whose signature names them
        (``depth_convention``; ``caption_video``, the caption pipeline, which the caller hands on for the
        readers that caption a reference video: the plugin manager sits below the run that uses it)."""
        readers = self.condition_readers()
        options = options or {}
        out = {}
        for name, path in files.items():
            if name not in readers:
                raise InputError(f"no condition reader named {name!r} is registered (is its plugin disabled?)")
            if isinstance(path, (list, tuple)):
                out[name] = [call_naming(readers[name], p, **options) for p in path]
            else:
                out[name] = call_naming(readers[name], path, **options)
        return Evidence(out)

    def add_commands(self, subparsers) -> None:
        for _ in self._each("register_commands", subparsers=subparsers):
            pass

    def add_command_options(self, command: str, parser) -> None:
        """The options plugins add to the built-in ``command``."""
        for _ in self._each("add_command_options", command=command, parser=parser):
            pass

    def condition_inputs(self, args) -> tuple[dict, dict]:
        """``({condition name: path or [paths]}, {reader option: value})`` from every plugin's options in
        ``args``; a condition given through two plugins' options is one line."""
        files: dict = {}
        options: dict = {}
        for _, (found, opts) in self._each("condition_inputs", args=args):
            for name in found:
                if name in files:
                    raise InputError(f"the condition {name} is given twice")
            files.update(found)
            options.update(opts)
        return files, options

    def describe_conditions(self, evidence: dict) -> str:
        """The user's conditions as facts for a model's prompt, every plugin's lines together."""
        return "".join(text for _, text in self._each("describe_conditions", evidence=evidence))

    def condition_checks(self) -> list[Any]:
        """The checks that hold a caption written from a prompt to the user's conditions."""
        return [check for _, checks in self._each("register_condition_checks") for check in checks]

    def _collect(self) -> None:
        """Read the registries once: caption sections, output formats, condition readers, conditions (with
        their sections), chat backends, and the hooks each plugin implements."""
        for info in self.infos:
            plugin = self.manager.get_plugin(info.name)
            info.hooks = sorted(c.name for c in self.manager.get_hookcallers(plugin) or []) if plugin else []
        for info, sections in self._each("register_caption_sections", last_first=True):
            items = sections.items() if isinstance(sections, dict) else ((s.name, s) for s in sections)
            for name, spec in items:
                self.sections[name] = spec if isinstance(spec, CaptionSection) else CaptionSection(name, spec)
                info.sections.append(name)
        for info, formats in self._each("register_output_formats"):
            declared = [OutputFormat(name, formatter) for name, formatter in formats.items()] \
                if isinstance(formats, dict) else list(formats)
            for spec in declared:
                info.formats.append(spec.name)
                self.format_specs.setdefault(spec.name, spec)
        for info, readers in self._each("register_condition_readers"):
            info.readers.extend(readers)
            for name, reader in readers.items():
                self.readers.setdefault(name, reader)
        for info, conditions in self._each("register_conditions"):
            for condition in conditions:
                if condition.name in self.condition_specs:
                    info.fail(f"condition {condition.name!r} is already registered")
                    continue
                self.condition_specs[condition.name] = condition
                self.condition_owners[condition.name] = info
                info.conditions.append(condition.name)
                if condition.section is not None:
                    self.sections[condition.section.name] = condition.section
                    info.sections.append(condition.section.name)
        for info, backends in self._each("register_chat_backends"):
            for backend in backends:
                if backend.prefix in self.backends:
                    info.fail(f"chat backend {backend.prefix!r} is already registered")
                    continue
                self.backends[backend.prefix] = backend
                info.backends.append(backend.prefix)


def _disabled(extra: Iterable[str]) -> set[str]:
    names = set(extra)
    names.update(p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip())
    return names


def _register(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo) -> None:
    """Register one plugin; one that implements an unknown hook (a misspelling, found by pluggy's
    ``check_pending``) is named and left out, and the others load."""
    try:
        pm.register(plugin, name=info.name)
    except Exception as e:  # pluggy.PluginValidationError: a hook with arguments its spec does not have
        info.fail(f"failed to register: {e}")
        return
    try:
        pm.check_pending()  # every plugin before this one passed it, so what it finds is this one's
    except pluggy.PluginValidationError:
        unknown = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [] if not caller.has_spec())
        pm.unregister(plugin)
        known = ", ".join(sorted(n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), f"{hookspecs.PROJECT}_spec")))
        info.fail(f"implements {', '.join(unknown)}, which is no hook (hooks: {known})")


def _discover(off: set[str]) -> list[tuple[str, str, Any]]:
    """(name, source, loader) of each plugin to load: the built-ins, then the entry points."""
    found = [(name, "builtin", lambda name=name: importlib.import_module(name))
             for name in BUILTIN_PLUGINS if name not in off and name.rsplit(".", 1)[-1] not in off]  # or "depth"
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in off:
            found.append((ep.name, ep.dist.name if ep.dist else "?", ep.load))
    return found


_LOADED: dict[tuple, Plugins] = {}


def load_plugins(disabled: Iterable[str] = ()) -> Plugins:
    """The plugin manager for these disabled plugins (and ``INSTANCE_AGENT_DISABLED_PLUGINS``): built once per
    process and set of installed entry points."""
    off = _disabled(disabled)
    plan = _discover(off)
    key = (frozenset(off), tuple((name, source) for name, source, _ in plan))
    plugins = _LOADED.get(key)
    if plugins is None:
        plugins = _LOADED[key] = _build(plan)
    return plugins


def _build(plan: list[tuple[str, str, Any]]) -> Plugins:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for name, source, load in plan:
        info = PluginInfo(name, source)
        infos.append(info)
        try:
            module = load()
        except Exception as e:
            info.fail(f"failed to load: {type(e).__name__}: {e}")
            continue
        _register(pm, module, info)
    plugins = Plugins(pm, infos)
    plugins._collect()
    return plugins
