"""``enhance``: a short prompt expanded into a caption by a language model, held to the user's conditions."""

from __future__ import annotations

import json
import sys

from agent.cli.trace import print_caption
from agent.core.config import load_settings
from agent.core.errors import EXIT_INVALID, EXIT_OK, InputError
from agent.core.evidence import Evidence
from agent.run.enhance import enhance_prompt
from agent.run.plugins import load_plugins
from agent.run.runner import caption_video


def enhance_format(name: str | None):
    """The formatter for ``enhance --format NAME`` (None: the caption as it is), or a one-line InputError."""
    if name in (None, "instancecap"):
        return None
    formats = load_plugins().output_formats()
    if name not in formats:
        raise InputError(f"--format {name}: not a known format (known: {', '.join(sorted(formats))})")
    return formats[name]


def cmd_enhance(args) -> int:
    """A short prompt expanded into a caption by the model; exit 1 when it is still invalid after repairs."""
    settings = load_settings(llm=args.llm, base_url=args.base_url, max_instances=args.max_instances)
    formatter = enhance_format(args.output_format)
    plugins = load_plugins(settings.disabled_plugins)
    files, options = plugins.condition_inputs(args)
    # a reference video is captioned by the pipeline itself, which the plugin manager is handed
    conditions = plugins.read_conditions(files, {**options, "caption_video": caption_video}) if files else None
    result = enhance_prompt(args.prompt, settings, conditions)
    out = formatter(result.caption, Evidence(conditions or {})) if formatter else result.caption
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    if isinstance(out, dict):
        print_caption(out)
    else:
        print(out)
    print(f"{result.calls} model call(s), {result.repairs} repair(s)", file=sys.stderr)
    for sentence in result.left_out:
        print(f"left out after the repairs (it broke a wording rule): {sentence}", file=sys.stderr)
    if result.problems:
        for p in result.problems:
            print(f"still invalid: {p}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK
