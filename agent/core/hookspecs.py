"""The hooks a plugin can implement.

Built-in tools register through these same hooks. Implementations take only the
arguments they need (pluggy passes them by name), so new arguments never break a plugin.
"""

from __future__ import annotations

import pluggy

PROJECT = "instance_agent"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_tools(settings):
    """Return a list of :class:`agent.core.tool.Tool` instances this plugin provides."""


@hookspec
def register_validation_checks(settings):
    """Return a list of checks ``check(caption, evidence) -> list[agent.core.validation.Problem]``."""


@hookspec
def register_caption_sections():
    """Return ``{section name: pydantic model or None}`` for top-level caption sections this plugin adds,
    or a list of :class:`agent.core.caption.CaptionSection` (a section that also says its flatten rank
    and how it reads as sentences)."""


@hookspec
def register_conditions():
    """Return a list of :class:`agent.core.conditions.Condition`: names ``--condition`` takes, each declared
    once with the caption section it adds (registered with it), the model of its ``[plugins.NAME]``
    settings, the tools that measure it (run while it is on), how its section is composed from their
    evidence and the checks that hold a caption to it (while it is on)."""


@hookspec
def register_chat_backends():
    """Return a list of :class:`agent.models.registry.ChatBackend`: what ``--llm PREFIX:...`` makes (a
    factory from the spec and the settings) and how its errors read (one line for the user). The
    built-in ``offline``, ``openai``, ``hf`` and ``replay`` backends register through this hook too."""


@hookspec
def compose_sections(evidence, settings):
    """Return ``{section name: content}`` written from the evidence into the composed caption
    (the offline planner's and the fallback's), for the sections this plugin registered."""


@hookspec
def register_output_formats():
    """Return a list of :class:`agent.core.formats.OutputFormat` (a writer, how an output is recognised and
    checked: ``validate`` reads it back), or ``{format name: formatter}`` for a format that is only written;
    ``formatter(caption: dict, evidence: dict) -> dict | str``; a formatter that also names ``sections`` gets
    the loaded plugins' caption sections (``{name: CaptionSection}``), to read them as they say."""


@hookspec
def register_commands(subparsers):
    """Add CLI commands: call ``subparsers.add_parser(...)`` and ``set_defaults(handler=fn)``,
    where ``fn(args) -> int`` returns the exit code. ``args.plugins`` is the plugin manager and
    ``args.caption_video(path, settings)`` the caption pipeline."""


@hookspec
def add_command_options(command, parser):
    """Add options to a built-in command (``"enhance"``) on its argparse ``parser``: a plugin extends the
    commands there are, not only its own."""


@hookspec
def condition_inputs(args):
    """Return ``({condition name: path or [paths]}, {reader option: value})`` read from the parsed
    arguments (the options this plugin added), or None when none of them was given."""


@hookspec
def describe_conditions(evidence):
    """Return the user's conditions (``{name: evidence}`` from the readers) as facts for a model's prompt
    (``enhance``): lines of text, or None."""


@hookspec
def register_condition_checks():
    """Return checks ``check(caption, evidence) -> list[Problem]`` that hold a caption written from a
    prompt (``enhance``) to the user's conditions."""


@hookspec
def register_condition_readers():
    """Return ``{condition name: reader}``; ``reader(path, **options) -> pydantic model`` reads a condition
    the user supplies (a camera path, a pose sequence, a reference image, a depth map) into typed evidence,
    raising ``agent.core.errors.InputError`` (one line) on a file it cannot read. Options (such as
    ``depth_convention``) are passed only to readers whose signature names them."""
