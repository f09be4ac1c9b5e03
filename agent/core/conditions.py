"""Optional conditions: a named extension a user turns on with ``--condition NAME``.

A plugin declares a condition with :class:`Condition` (hook ``register_conditions``): its name, a
line saying what it adds, the caption section it writes (with that section's flatten rank and
text), and the pydantic model of its own settings, read from the ``[plugins.NAME]`` table of the
config file. The plugin's tools check :meth:`Condition.is_on` to run only when it is asked for.
"""

from __future__ import annotations

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

    def is_on(self, settings: Any) -> bool:
        """The run's settings ask for this condition."""
        return settings is not None and self.name in settings.conditions

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
