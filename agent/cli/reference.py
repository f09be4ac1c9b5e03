"""The command reference in ``docs/cli.md``, made from the parser: ``python -m agent.cli.reference``.

One section per command (plugins' commands included), one row per flag: every name it answers
to, its value and its help text. ``tests/test_cli_flags.py`` checks that ``docs/cli.md`` holds
exactly this text and that it names the same flags as each command's ``--help``.
"""

from __future__ import annotations

import argparse

from agent.cli.parser import build_parser

BEGIN = "<!-- command reference: python -m agent.cli.reference -->"
END = "<!-- end of command reference -->"


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser, str]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help for c in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((f"{prefix} {name}", sub, helps.get(name) or ""))
                out.extend(_commands(sub, f"{prefix} {name}"))
    return out


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.metavar or action.dest.upper()


def _row(action: argparse.Action) -> str:
    names = ", ".join(f"`{n}`" for n in action.option_strings) if action.option_strings else f"`{action.dest}`"
    value = _value(action) if action.option_strings else ""
    text = (action.help or "").replace("%%", "%").replace("|", "\\|")
    return f"| {names} | {f'`{value}`' if value else ''} | {text} |"


def settings_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The flags of a command's settings group (made by :func:`agent.cli.flags.add_settings_flags`)."""
    for group in parser._action_groups:
        if (group.title or "").startswith("settings"):
            return list(group._group_actions)
    return []


def _shown(actions: list[argparse.Action]) -> list[argparse.Action]:
    """The flags ``--help`` shows (test-only flags are hidden there and here)."""
    return [a for a in actions if a.help != argparse.SUPPRESS]


def reference(parser: argparse.ArgumentParser | None = None) -> str:
    parser = parser or build_parser("python -m agent")
    head = ["| flag | value | what it does |", "|---|---|---|"]
    lines = [BEGIN, ""]
    top = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    lines += ["`python -m agent` (or `instance-agent`), before or after the command:", "", *head,
              *(_row(a) for a in top), ""]
    settings: list[argparse.Action] = []
    for name, sub, summary in _commands(parser, "python -m agent"):
        shared = settings_actions(sub)
        settings = settings or shared
        ids = {id(a) for a in shared}
        actions = [a for a in sub._actions if a.dest != "help" and id(a) not in ids
                   and not isinstance(a, argparse._SubParsersAction)]
        lines += [f"#### `{name}`", "", summary[:1].upper() + summary[1:] + ".", ""]
        if actions:
            lines += [*head, *(_row(a) for a in _shown(actions)), ""]
        if shared:
            lines += ["And every setting flag (the table below).", ""]
    if settings:
        lines += ["#### Setting flags (`run` and `batch`)", "",
                  "Each is also a config-file key (the flag without the dashes) and an environment variable "
                  "(`INSTANCE_AGENT_` and the key in upper case, `_` for `-`).", "", *head,
                  *(_row(a) for a in _shown(settings)), ""]
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(reference())
