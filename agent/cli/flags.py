"""Command-line flags made from the settings model: ``run`` and ``batch`` get every setting the same way.

Each field of :class:`agent.core.config.Settings` becomes one flag (named by
:func:`agent.core.config.flag_of`, with the old names of :data:`~agent.core.config.FLAG_ALIASES`
as aliases), with the field's description and default as its help. Values are passed on as the
user wrote them and checked by the settings model, so a bad value is one line naming the flag.
A flag that is not given is ``None``: the environment, the config file or the default decides.
"""

from __future__ import annotations

import argparse
import typing
from typing import Any, Literal

from agent.core.config import FLAG_ALIASES, LIST_FIELDS, NOT_FLAGS, Settings, flag_of, key_of, load_settings


def _choices(annotation: Any) -> list[str] | None:
    """The values of a Literal (or of the Literal inside a list or an Optional)."""
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in typing.get_args(annotation)]
    for arg in typing.get_args(annotation):
        found = _choices(arg)
        if found:
            return found
    return None


def _default_text(field) -> str:
    if field.default_factory is not None:
        return ""
    value = field.default
    if value is None or value == [] or isinstance(value, bool):
        return ""
    return f" (default {value})"


def add_settings_flags(parser: argparse.ArgumentParser, title: str = "settings (flag > environment > config file > default)") -> None:
    """One flag per setting, in an argument group of its own."""
    group = parser.add_argument_group(title)
    for name, field in Settings.model_fields.items():
        if name in NOT_FLAGS:
            continue
        flag = flag_of(name)
        names = [flag, *FLAG_ALIASES.get(name, [])]
        text = (field.description or name.replace("_", " ")) + _default_text(field)
        if (field.json_schema_extra or {}).get("testing_only"):
            text = argparse.SUPPRESS  # works, but kept out of --help: it is for the tests
        choices = _choices(field.annotation)
        if field.annotation is bool:
            group.add_argument(*names, dest=name, action=argparse.BooleanOptionalAction, default=None,
                               help=text if text == argparse.SUPPRESS
                               else text + (" (default on)" if field.default else " (default off)"))
        elif name in LIST_FIELDS:
            metavar = key_of(name).upper().replace("-", "_").removeprefix("NO_")
            group.add_argument(*names, dest=name, action="append", default=None, choices=choices,
                               metavar=None if choices else metavar, help=text + " (repeatable)")
        else:
            group.add_argument(*names, dest=name, default=None, choices=choices,
                               metavar=None if choices else key_of(name).upper().replace("-", "_"), help=text)


def settings_from_args(args: argparse.Namespace, **extra: Any):
    """The settings of a command line made with :func:`add_settings_flags` (``extra``: more overrides)."""
    given = {name: getattr(args, name, None) for name in Settings.model_fields if name not in NOT_FLAGS}
    disabled = given.pop("disabled_plugins") or []
    settings = load_settings(**given, **extra)
    if disabled:
        settings.disabled_plugins = [*settings.disabled_plugins, *disabled]
    return settings
