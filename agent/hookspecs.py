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
    """Return a list of :class:`agent.tool.Tool` instances this plugin provides."""


@hookspec
def register_validation_checks(settings):
    """Return a list of checks ``check(caption, evidence) -> list[agent.validation.Problem]``."""


@hookspec
def register_caption_sections():
    """Return ``{section name: pydantic model or None}`` for top-level caption sections this plugin adds."""
