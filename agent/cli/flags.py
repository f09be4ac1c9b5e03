"""Command-line flags made from the settings model: ``run`` and ``batch`` get every setting the same way.

Each field of :class:`agent.core.config.Settings` becomes one flag (named by
:func:`agent.core.config.flag_of`, with the old names of :data:`~agent.core.config.FLAG_ALIASES`
as aliases), with the field's description and default as its help. Values are passed on as the
user wrote them and checked by the settings model, so a bad value is one line naming the flag.
A flag that is not given is ``None``: the environment, the config file or the default decides.
"""

from __future__ import annotations

import argparse
import logging
import os
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from agent.core.config import ENV_PREFIX, FLAG_ALIASES, LIST_FIELDS, NOT_FLAGS, Settings, flag_of, key_of, load_settings
from agent.core.errors import InputError

log = logging.getLogger(__name__)
CONDITION_FLAGS = "condition_flags"  # the parser's default: {dest: (condition, key)} of the flags below


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


def add_condition_flags(parser: argparse.ArgumentParser, conditions: dict) -> None:
    """A flag for each setting a condition declares (``--depth-model`` for ``[plugins.depth] model``), a group
    per condition; what is given goes into that condition's table, over the environment's
    (``INSTANCE_AGENT_DEPTH_MODEL``) and the config file's. A flag that would clash with one there is is left
    out with a warning (the key still works in the config file)."""
    flags: dict[str, tuple[Any, str]] = {}
    for condition in conditions.values():
        if condition.settings is None:
            continue
        group = parser.add_argument_group(f"the {condition.name} condition's settings ([plugins.{condition.name}] "
                                          "in the config file)")
        for key, field in condition.settings.model_fields.items():
            dest = f"{condition.name}.{key}"
            text = (field.description or key.replace("_", " ")) + _default_text(field)
            how = dict(action=argparse.BooleanOptionalAction) if field.annotation is bool else \
                dict(choices=_choices(field.annotation), metavar=key.upper())
            try:
                group.add_argument(condition.flag(key), dest=dest, default=None, help=text, **how)
            except argparse.ArgumentError:
                log.warning("warning: the %s condition's setting %s has no flag: %s is taken (set it in "
                            "[plugins.%s] of the config file)", condition.name, key, condition.flag(key), condition.name)
                continue
            flags[dest] = (condition, key)
    parser.set_defaults(**{CONDITION_FLAGS: flags})


def settings_from_args(args: argparse.Namespace, **extra: Any):
    """The settings of a command line made with :func:`add_settings_flags` and :func:`add_condition_flags`
    (``extra``: more overrides)."""
    given = {name: getattr(args, name, None) for name in Settings.model_fields if name not in NOT_FLAGS}
    disabled = given.pop("disabled_plugins") or []
    settings = load_settings(**given, **extra)
    update: dict[str, Any] = {}
    if disabled:
        update["disabled_plugins"] = [*settings.disabled_plugins, *disabled]
    tables = _condition_tables(args, settings)
    if tables:
        update["plugins"] = tables
    return settings.model_copy(update=update) if update else settings


def _condition_tables(args: argparse.Namespace, settings: Settings) -> dict[str, dict[str, Any]]:
    """The ``[plugins.NAME]`` tables with the condition settings given by flag (or environment variable) put
    in, each checked against its condition's settings model and kept as that model reads it (``"4"`` as 4, as
    the config file's 4), so that the run folder and the tool cache key on the value; a bad value is one line
    naming the flag or the variable. Empty when none was given."""
    flags = getattr(args, CONDITION_FLAGS, None) or {}
    given: list[tuple[Any, str, Any, str]] = []
    for dest, (condition, key) in flags.items():
        flag = condition.flag(key)
        variable = ENV_PREFIX + flag.removeprefix("--").upper().replace("-", "_")
        if getattr(args, dest, None) is not None:
            given.append((condition, key, getattr(args, dest), flag))
        elif variable in os.environ:
            given.append((condition, key, os.environ[variable], f"{flag} (from the environment variable {variable})"))
    if not given:
        return {}
    tables = {name: dict(table) for name, table in settings.plugins.items()}
    for condition, key, value, _ in given:
        tables.setdefault(condition.name, {})[key] = value
    for condition, key, _, where in given:
        try:
            read = condition.settings.model_validate(tables[condition.name]).model_dump(mode="json")
        except ValidationError as e:
            err = next((x for x in e.errors() if x["loc"] and x["loc"][0] == key), e.errors()[0])
            where = where if err["loc"] and err["loc"][0] == key else f"[plugins.{condition.name}]"
            raise InputError(f"{where}: {err['msg']}") from None
        tables[condition.name][key] = read[key]
    return tables


def add_shot_options(p) -> None:
    """The "shots as samples" flags group."""
    g = p.add_argument_group("shots as samples")
    g.add_argument("--split-shots", action="store_true",
                   help="caption each shot as its own sample (one record per shot: clip, shot, start and end)")
    g.add_argument("--min-shot", type=float, default=0.0, metavar="SECONDS", help="leave out shots shorter than this")
    g.add_argument("--max-shot", type=float, default=None, metavar="SECONDS",
                   help="split longer shots into equal parts no longer than this")
    g.add_argument("--write-shots", type=Path, metavar="DIR",
                   help="keep each shot as its own clip here (video only; else they are removed after captioning)")
    g.add_argument("--cut", choices=["auto", "copy", "encode"], default="auto",
                   help="auto (default): copy the packets of a shot that starts on a keyframe, re-encode the others "
                        "(libx264, crf 18); copy: refuse shots that cannot be cut without re-encoding; encode: always")
