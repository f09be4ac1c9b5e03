"""Optional conditions: a named extension a user turns on with ``--condition NAME``.

A plugin declares a condition once, with :class:`Condition` (hook ``register_conditions``): its name,
a line saying what it adds, the caption section it writes (with that section's flatten rank and
text), the pydantic model of its own settings (the ``[plugins.NAME]`` table of the config file), the
tools that measure it, how its section is composed from their evidence, and the checks that hold a
caption to it. The plugin manager derives the rest: the tools and checks run only while the condition
is on, and its section is composed wherever its tool's evidence is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.core.caption import CaptionSection
from agent.core.errors import InputError


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    section: CaptionSection | None = None
    settings: type[BaseModel] | None = None
    tools: tuple[type, ...] = ()  # Tool classes that measure it, run while it is on
    compose: Callable[[Any], Any] | None = None  # its first tool's evidence (typed) -> the section's content
    checks: tuple[Callable, ...] = ()  # check(caption, evidence) -> [Problem], held while it is on
    also_on: Callable[[Any], bool] | None = None  # settings -> on without --condition (an output format's need)

    def flag(self, key: str) -> str:
        """The command-line flag of one of its own settings: ``--NAME-KEY`` (``--depth-model``)."""
        return f"--{self.name}-{key}".replace("_", "-")

    def is_on(self, settings: Any) -> bool:
        """The run's settings ask for this condition (``--condition NAME``, or what ``also_on`` reads)."""
        if settings is None:
            return False
        return self.name in settings.conditions or (self.also_on is not None and bool(self.also_on(settings)))

    def make_tools(self, settings: Any) -> list:
        """Its tools for a run with ``settings``: none while it is off."""
        return [tool() for tool in self.tools] if self.is_on(settings) else []

    def checks_for(self, settings: Any) -> list[Callable]:
        return list(self.checks) if self.is_on(settings) else []

    def composed(self, evidence: dict) -> dict[str, Any]:
        """``{section name: content}`` from its first tool's evidence in ``evidence``; nothing without it."""
        if self.compose is None or self.section is None or not self.tools:
            return {}
        tool = self.tools[0]
        raw = evidence.get(tool.name)
        if not raw:
            return {}
        model = getattr(tool, "evidence_model", None)
        content = self.compose(model.model_validate(raw) if model is not None else raw)
        return {} if content is None else {self.section.name: content}

    def settings_from(self, settings: Any) -> BaseModel | None:
        """This condition's own settings, from ``[plugins.NAME]`` (defaults where the table says nothing);
        a bad value is one line of :class:`InputError` naming the table and key."""
        if self.settings is None:
            return None
        table = (getattr(settings, "plugins", None) or {}).get(self.name, {})
        try:
            return self.settings.model_validate(table)
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise InputError(f"[plugins.{self.name}] {key}: {err['msg']}") from None
