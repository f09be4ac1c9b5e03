"""A chat backend: ``--llm reviewed:CAPTION.json`` submits a caption a person wrote or corrected.

The tools measure the clip as in any run (the offline planner's plan), and the caption read from
the file, when the caption is submitted, goes through the same validation as a model's: a caption
that the evidence contradicts is not accepted, and the run ends with the caption composed from the
evidence (status ``degraded``, the validation errors in the record). With ``--step``, the file can
be edited while the run waits.

The backend is one ``ChatBackend``: its prefix, a factory that fails in one line when the file is not
there, and the error mapping that turns a file that became unreadable mid-run into one line.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from langchain_core.messages import AIMessage

from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl
from agent.models.planner import CHECKS_DRAFT, SUBMIT, OfflinePlanner
from agent.models.registry import ChatBackend

PREFIX = "reviewed"


class ReviewedCaptionError(Exception):
    """The caption file cannot be read as a caption when the run submits it."""


def read_caption(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ReviewedCaptionError(f"{path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReviewedCaptionError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ReviewedCaptionError(f"{path}: holds a {type(data).__name__}, not one caption")
    return data


class ReviewedCaption(OfflinePlanner):
    """The offline planner's tool calls, then the reviewed caption instead of the composed one."""

    path: str

    def next_step(self, messages):
        step = super().next_step(messages)
        done_measuring = (SUBMIT, self.roles.get(CHECKS_DRAFT))  # the draft's wording check comes after every measure
        if not any(call["name"] in done_measuring for call in step.tool_calls):
            return step  # still measuring
        caption = read_caption(Path(self.path))
        return AIMessage(content="Submitting the reviewed caption.",
                         tool_calls=[{"name": SUBMIT, "args": caption, "id": f"call_{uuid.uuid4().hex[:12]}",
                                      "type": "tool_call"}])


def create(spec: str, settings) -> ReviewedCaption:
    path = Path(spec.removeprefix(f"{PREFIX}:")).expanduser()
    if not path.is_file():
        raise InputError(f"--llm {spec}: name the caption file to submit, e.g. {PREFIX}:caption.json")
    return ReviewedCaption(path=str(path))


def describe_error(exc: Exception, settings) -> str | None:
    if isinstance(exc, ReviewedCaptionError):
        return f"the reviewed caption could not be read: {exc}; fix the file and run again"
    return None


@hookimpl
def register_chat_backends():
    return [ChatBackend(PREFIX, create, describe_error, summary="reviewed:CAPTION.json: submit a caption a person "
                        "wrote, held to the evidence like a model's")]
