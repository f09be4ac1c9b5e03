"""``python -m agent``: caption a clip, validate captions, print the schema, list plugins, make test clips.

The entry point: parses the line (``--debug`` and ``--version`` anywhere on it), runs the command and turns
its errors into one line on stderr and an exit status. The parser is in :mod:`agent.cli.parser`, the commands
in :mod:`agent.cli.run_command`, :mod:`agent.cli.batch_command`, :mod:`agent.cli.enhance_command` and
:mod:`agent.cli.commands`."""

from __future__ import annotations

import logging
import os
import sys

from agent.cli.interrupts import Terminated, terminate_like_interrupt, warn_of_a_memory_limit
from agent.cli.outputs import tools_print_to_stderr
from agent.cli.parser import build_parser, prog_name, version
from agent.core.errors import EXIT_INPUT, EXIT_OK, EXIT_STORAGE, AgentError, storage_error
from agent.core.imports import on_first_use
from agent.core.secrets import redact
from agent.run.plugins import load_plugins

__all__ = ["COMMANDS", "main", "prog_name", "_parser"]

_parser = build_parser  # the parser under the name importers of this module know it by

# each command's module is imported when it runs: `validate` never loads the caption graph
COMMANDS = {"run": on_first_use("agent.cli.run_command", "cmd_run"),
            "batch": on_first_use("agent.cli.batch_command", "cmd_batch"),
            "enhance": on_first_use("agent.cli.enhance_command", "cmd_enhance"),
            **{name: on_first_use("agent.cli.commands", f"cmd_{name.replace('-', '_')}")
               for name in ("validate", "schema", "plugins", "trace", "export", "flatten", "demo-clip")}}


def main(argv: list[str] | None = None) -> int:
    """Run the command on ``argv`` (default: the process's arguments) and return its exit status."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug anywhere on the line (before a '--' that ends the options)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end]
    argv = [a for i, a in enumerate(argv) if not (i < end and a == "--debug")]
    with tools_print_to_stderr():  # a plugin that prints while it loads never reaches stdout
        parser = build_parser()
    if "--version" in argv[:end]:  # anywhere on the line too, as the reference says of the top-level flags
        print(f"{parser.prog} {version()}")
        return EXIT_OK
    args = parser.parse_args(argv)
    args.debug = debug
    terminate_like_interrupt()
    if args.command in ("run", "batch"):
        warn_of_a_memory_limit()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(name)s: %(message)s")
    return _run_command(args)


def _run_command(args) -> int:
    """The command's exit status; an error it raises is one line on stderr (a traceback with --debug)."""
    try:
        if args.command not in COMMANDS and hasattr(args, "handler"):
            args.plugins = load_plugins()  # a plugin's command reaches the other plugins through it,
            args.caption_video = on_first_use("agent.run.runner", "caption_video")  # and the caption pipeline
            return int(args.handler(args) or 0)
        return COMMANDS[args.command](args)
    except AgentError as e:
        if args.debug:
            raise
        print(f"error: {redact(e.message)}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a file we had to write or read that the checks above did not foresee
        if args.debug:
            raise
        print(f"error: {redact(storage_error(e, 'a file').message)}", file=sys.stderr)
        return EXIT_STORAGE
    except RecursionError:  # a file or reply nested deeper than Python reads (100,000 levels of JSON)
        if args.debug:
            raise
        print("error: an input is nested too deeply to read (JSON or TOML thousands of levels deep); nothing "
              "this program writes is nested like that", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        if args.debug:
            raise
        print("error: out of memory; give the process more memory, or fewer --frames / --workers", file=sys.stderr)
        return EXIT_STORAGE
    except KeyboardInterrupt as e:
        if isinstance(e, Terminated):
            print("terminated (SIGTERM); a clip in progress has its run record marked failed (interrupted)",
                  file=sys.stderr)
            return 143
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
