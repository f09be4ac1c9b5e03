"""What the run derives from the tools' declarations (see :class:`agent.core.tool.Tool`).

Nothing in the core names a tool: the offline plan, the Ray stages, each tool's cache-key settings
and the producer of each artifact all come from what the registered tools declare about themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

STAGES = ("cpu", "gpu", "llm")
# the FrameStore every tool works on is built from these, so each cache key holds them
FRAME_SETTINGS = ("frames", "motion_fps", "motion_width")


class DeclarationError(ValueError):
    """A tool's declaration does not fit the others' (an unknown requirement, a cycle, an orphan artifact)."""


@dataclass(frozen=True)
class ToolRegistry:
    tools: dict[str, Any]  # name -> tool

    @classmethod
    def of(cls, tools: Iterable[Any]) -> "ToolRegistry":
        return cls({t.name: t for t in tools})

    def __contains__(self, name: str) -> bool:
        return name in self.tools

    def requirements(self, name: str) -> list[str]:
        """Every tool ``name`` depends on, directly or through others, dependencies first."""
        order: list[str] = []

        def visit(tool: str, path: tuple[str, ...]) -> None:
            for needed in getattr(self.tools.get(tool), "requires", ()):
                if needed in path:
                    raise DeclarationError(f"tools require each other: {' -> '.join((*path, needed))}")
                if needed not in order:
                    visit(needed, (*path, needed))
                    order.append(needed)

        visit(name, (name,))
        return order

    def visible(self, name: str) -> set[str]:
        """The tools whose evidence ``name`` may read: itself and what it requires."""
        return {name, *self.requirements(name)}

    def feeds(self) -> list[Any]:
        """The frame feeds the tools read (:class:`agent.core.feeds.FrameFeed`), each once."""
        seen: dict[str, Any] = {}
        for tool in self.tools.values():
            for feed in getattr(tool, "feeds", ()):
                seen.setdefault(feed.name, feed)
        return list(seen.values())

    def feed(self, name: str) -> Any:
        """The frame feed of this name that a tool declares; :class:`DeclarationError` when none does."""
        found = next((f for f in self.feeds() if f.name == name), None)
        if found is None:
            raise DeclarationError(f"no tool declares the frame feed {name!r}")
        return found

    def producer_of(self, artifact: str) -> str | None:
        return next((n for n, t in self.tools.items() if artifact in t.produces), None)

    def evidence_models(self) -> dict[str, Any]:
        """``{tool name: evidence model}`` of the tools that declare one."""
        return {name: tool.evidence_model for name, tool in self.tools.items()
                if getattr(tool, "evidence_model", None) is not None}

    def plan(self) -> list[str]:
        """The offline plan: the planned tools by their place, each after the planned tools it requires."""
        ranked = sorted((t for t in self.tools.values() if t.plan is not None), key=lambda t: (t.plan, t.name))
        order: list[str] = []
        for tool in ranked:
            for name in [*self.requirements(tool.name), tool.name]:
                planned = self.tools.get(name)
                if planned is not None and planned.plan is not None and name not in order:
                    order.append(name)
        return order

    def stage_of(self, name: str) -> str:
        """Where ``name`` can run: its own stage, or a later one a requirement needs."""
        stages = [self.tools[n].stage for n in [name, *self.requirements(name)] if n in self.tools]
        return max(stages, key=STAGES.index)

    def stages(self, names: Iterable[str]) -> dict[str, list[str]]:
        """``names`` (in their order) grouped by the stage each can run in."""
        out: dict[str, list[str]] = {stage: [] for stage in STAGES}
        for name in names:
            if name in self.tools:
                out[self.stage_of(name)].append(name)
        return out

    def key_settings(self, name: str) -> list[str]:
        """The settings ``name``'s results depend on: the frame settings, its own and its requirements'."""
        found = set(FRAME_SETTINGS)
        for tool in [name, *self.requirements(name)]:
            found.update(getattr(self.tools.get(tool), "reads_settings", ()))
        return sorted(found)

    def versions(self, name: str) -> dict[str, str]:
        """``{tool: version}`` of ``name`` and every tool it requires: a new version of any is a new key."""
        return {tool: self.tools[tool].version for tool in [name, *self.requirements(name)] if tool in self.tools}

    def check(self, settings_fields: Iterable[str]) -> None:
        """Raise :class:`DeclarationError` when a declaration names something that is not there."""
        known = set(settings_fields)
        feeds: dict[str, Any] = {}  # name -> the first feed declared under it
        for name, tool in self.tools.items():
            self.requirements(name)  # no cycles
            missing = [r for r in tool.requires if r not in self.tools]
            if missing:
                raise DeclarationError(f"{name} requires {', '.join(missing)}, which no plugin registers")
            unknown = [s for s in tool.reads_settings if s not in known]
            if unknown:
                raise DeclarationError(f"{name} reads settings that do not exist: {', '.join(unknown)}")
            if tool.stage not in STAGES:
                raise DeclarationError(f"{name}: stage {tool.stage!r} is not one of {', '.join(STAGES)}")
            for feed in getattr(tool, "feeds", ()):
                if feeds.setdefault(feed.name, feed) != feed:
                    raise DeclarationError(f"{name}: two different frame feeds are named {feed.name!r}")
            upstream = {a for r in self.requirements(name) for a in self.tools[r].produces}
            orphans = [a for a in tool.consumes if a not in upstream]
            if orphans:
                raise DeclarationError(f"{name} consumes {', '.join(orphans)}, which none of the tools it requires "
                                       "produces")
