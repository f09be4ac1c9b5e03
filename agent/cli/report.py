"""The ``report`` command (a static HTML page of a batch or a run), and the export flags for training sets."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.core.errors import EXIT_OK


def add_export_flags(export) -> None:
    """``export``'s flags for the text column and for clips that changed since their caption."""
    export.add_argument("--skip-changed", action="store_true",
                        help="with --with-clips: leave out clips whose bytes changed since they were captioned "
                             "(default: refuse the export)")
    export.add_argument("--text-tokens", type=int, default=226, metavar="N",
                        help="the 'text' column's paragraph: at most N tokens (default 226, CogVideoX's T5; "
                             "0: the whole paragraph)")
    export.add_argument("--tokenizer", default=None,
                        help="count the text column's tokens with this tokenizer (id or folder, loaded offline; "
                             "default: an estimate)")


def add_report_command(sub) -> None:
    report = sub.add_parser("report", help="a static HTML page of a batch's records or one run folder",
                            description="Write a static HTML page (no server needed): per clip its frames, "
                                        "instance views, caption, status, problems and timings, with filters "
                                        "and a summary with plots.")
    report.add_argument("source", type=Path, help="a batch's JSONL of records, or one run folder")
    report.add_argument("-o", "--output", "--out", dest="output", type=Path, required=True, metavar="FOLDER",
                        help="a new (or empty) folder, or an earlier report of ours to replace")
    report.add_argument("--max-clips", type=int, default=None, metavar="N", help="only the first N clips")
    report.set_defaults(handler=cmd_report)


def cmd_report(args) -> int:
    from agent.run.report import write_report

    result = write_report(args.source, args.output, max_clips=args.max_clips)
    print(f"wrote {result.page} ({result.clips} clip(s), {result.images} image(s)); open it in a browser",
          file=sys.stderr)
    return EXIT_OK
