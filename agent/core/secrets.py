"""Keeping keys out of everything we print or keep.

A server's error text can echo the request's ``Authorization`` header, and an exception's message
can carry a URL with a token in it. :func:`redact` masks every secret the process knows (the
values of environment variables whose names say they hold one) and anything shaped like a bearer
token or an API key (or a password in a URL, ``http://user:PASSWORD@host``), in strings and in nested dicts and lists. Every path that prints or writes run
output (stderr lines, ``record.json``, ``trace.jsonl``, ``--json`` events, batch records,
``llm.jsonl``) goes through it.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|AUTH)", re.I)
SHAPES = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?!bearer\s)[^\s'\",}]{6,}"),
    re.compile(r"()\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"()\bhf_[A-Za-z0-9]{16,}"),
    re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token)=)[^&\s'\"]+"),
    # a password in a URL: scheme://user:PASSWORD@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^/\s@'\"]+(?=@)"),
]
MIN_SECRET = 6  # shorter values ("1", "yes") are not worth masking and would mangle text


def known_secrets() -> list[str]:
    """Values of the environment's secret-looking variables, longest first."""
    values = {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    for value in known_secrets() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, MASK)
    for shape in SHAPES:
        text = shape.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact(value: Any, secrets: list[str] | None = None) -> Any:
    """``value`` with every secret masked; dicts and lists are copied, other types returned as they are."""
    if secrets is None:
        secrets = known_secrets()
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value
