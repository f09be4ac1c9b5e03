"""``report``: a static HTML page of a batch's records (or one run folder) to look at captions.

The page (``index.html``) and copies of the images it shows (``images/``) go into a folder of
their own, so the folder can be moved, zipped or opened from disk with no server. The output
folder must be new, empty, or an earlier report of ours holding nothing else: a report never
deletes or overwrites a file it did not write. It is built aside and moved into place.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from agent.core.errors import InputError, storage_error
from agent.run.export_paths import output_path, replace_folder
from agent.run.files import refuse_a_foreign_folder
from agent.run.report.collect import ClipView, collect
from agent.run.report.page import GENERATOR, render

PAGE = "index.html"
IMAGES = "images"


@dataclass
class ReportResult:
    page: Path
    clips: int
    images: int


def _is_ours(folder: Path) -> tuple[bool, list[str]]:
    """Whether a folder is a report of ours, and the entries in it that a report never writes."""
    names = sorted(p.name for p in folder.iterdir())
    foreign = [n for n in names if n not in (PAGE, IMAGES)]
    try:
        head = (folder / PAGE).read_text(encoding="utf-8", errors="replace")[:600]
    except OSError:
        return False, foreign
    return f'content="{GENERATOR}"' in head, foreign


def check_output(source: Path, out: Path) -> None:
    """Refuse (one line, exit 2) an output that is a file, or a folder holding anything but a report of ours."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; give a new folder with -o")
    refuse_a_foreign_folder(out, _is_ours, "a report")
    source = output_path(source)
    if source == out or out in source.parents:
        raise InputError(f"{out}: holds the report's own source ({source}); give another -o")


class ImageCopier:
    """Copies each image into the report under ``images/<clip>/<folder>/<name>`` and gives its
    relative address."""

    def __init__(self, root: Path):
        self.root = root
        self.copied = 0

    def for_clip(self, n: int) -> Callable[[Path], str]:
        return lambda image: self.copy(n, image)

    def copy(self, n: int, image: Path) -> str:
        relative = Path(IMAGES) / f"{n:05d}" / image.parent.name / image.name
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(image, target)
        except FileNotFoundError:  # gone since it was listed: the page shows the alt text
            pass
        else:
            self.copied += 1
        return quote(relative.as_posix())


def write_report(source: Path, out: Path, max_clips: int | None = None, title: str | None = None) -> ReportResult:
    """Write ``out/index.html`` (and ``out/images``) for the records file or run folder ``source``."""
    out = output_path(out)
    check_output(Path(source), out)
    clips: list[ClipView] = collect(Path(source), max_clips)
    heading = title or f"Captions of {Path(source).name}"
    copier: list[ImageCopier] = []

    def build(folder: Path) -> None:
        copier.append(ImageCopier(folder))
        (folder / PAGE).write_text(render(heading, clips, copier[-1].for_clip), encoding="utf-8")

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_folder(out, build)
    except OSError as e:
        raise storage_error(e, "the report (-o)") from None
    return ReportResult(out / PAGE, len(clips), copier[-1].copied if copier else 0)
