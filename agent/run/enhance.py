"""``python -m agent enhance``: a short prompt to a structured caption, with the configured LLM."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from agent.core.config import Settings
from agent.core.errors import BackendError, InputError


@dataclass
class Enhanced:
    caption: dict
    calls: int
    repairs: int
    problems: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # "field: sentence" left out for breaking a wording rule
    prompt_tokens: int = 0  # as the model reported them (the local model: its own tokenizer)
    completion_tokens: int = 0


def _name(prompt: str) -> str:
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:8]
    return "prompt: " + (" ".join(words) or "untitled")


def _local_instead(settings: Settings, backends):
    """No server is configured (the offline planner writes no prose): the local model, said on stderr."""
    from agent.models.llm import make_chat_model
    from agent.models.local import PREFIX, resolve

    local = settings.model_copy(update={"llm": PREFIX})
    try:
        llm = make_chat_model(local, backends)
    except InputError as e:
        raise InputError(f"enhance needs a language model and none is configured; the local one cannot be used "
                         f"({str(e).removeprefix(f'--llm {PREFIX}: ')}); or give --llm openai:MODEL (with "
                         "OPENAI_API_KEY), or --llm MODEL --base-url URL, or set INSTANCE_AGENT_LLM") from None
    print(f"enhance: no LLM server configured; using the local model ({resolve(PREFIX)[0]}, in process, "
          "on the CPU)", file=sys.stderr)
    return local, llm


def enhance_prompt(prompt: str, settings: Settings, conditions: dict | None = None) -> Enhanced:
    """``conditions``: ``{condition name: evidence}`` from the condition readers (plugins/conditions/);
    the model is told them and the caption is held to them."""
    from graphs.enhance import build_enhance_graph

    from agent.models.toolcalls import ModelReplyError

    from agent.models.llm import describe_llm_error, is_offline, make_chat_model
    from agent.run.plugins import load_plugins

    if not prompt.strip():
        raise InputError("enhance: the prompt is empty")
    plugins = load_plugins(settings.disabled_plugins)  # plugin sections are part of the schema; plugins add chat backends
    llm = make_chat_model(settings, plugins.backends)
    if settings.llm.startswith("replay:"):
        raise InputError("enhance needs a language model, not a replay: give --llm local, --llm openai:MODEL "
                         "(with OPENAI_API_KEY), or --llm MODEL --base-url URL for a local server")
    if is_offline(llm) and settings.llm.strip() and "llm" in settings.model_fields_set:  # asked for by name
        raise InputError("enhance needs a language model: give --llm openai:MODEL (with OPENAI_API_KEY), or "
                         "--llm MODEL --base-url URL for a local server, or --llm local (run in process)")
    if is_offline(llm):  # nothing configured: the local model when it is installed
        settings, llm = _local_instead(settings, plugins.backends)
    from agent.core.checks import wording

    checks, text = [wording], ""
    if conditions:  # what the plugins that read conditions say of them, and how they hold the caption
        checks += plugins.condition_checks()
        text = plugins.describe_conditions(conditions)
    from langchain_core.callbacks import UsageMetadataCallbackHandler

    usage = UsageMetadataCallbackHandler()
    graph = build_enhance_graph(llm, checks, max_instances=settings.max_instances, max_repairs=settings.max_repairs,
                                video_name=_name(prompt), conditions=text, evidence=conditions or {},
                                callbacks=[usage], sections=plugins.sections)
    try:
        state = graph.invoke({"prompt": prompt, "repairs": 0, "calls": 0})
    except ModelReplyError as e:
        raise BackendError(f"enhance: the model's reply was not usable ({e})")
    except Exception as e:
        line = describe_llm_error(e, settings, plugins.backends)
        if line is None:
            raise
        raise BackendError(line)
    counted = list(usage.usage_metadata.values())
    return Enhanced(caption=state["caption"], calls=state.get("calls", 0), repairs=state.get("repairs", 0),
                    problems=state.get("problems", []), left_out=state.get("left_out", []),
                    prompt_tokens=sum(u.get("input_tokens", 0) for u in counted),
                    completion_tokens=sum(u.get("output_tokens", 0) for u in counted))
